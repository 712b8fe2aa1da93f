"""Properties of derived state: replays are pure and causal, and evaluating cycle after
cycle (with evidence arriving late, out of order) never records a change twice."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from test_evaluate import store_report
from test_occurrences import term_list
from test_rules import T0, make_signal, make_state, report

from allywatch.alerts.evaluate import evaluate
from allywatch.alerts.rules import replay, replay_all, replay_signal
from allywatch.language.model import Aggregate, Event, Signal, StateDef
from allywatch.language.records import Observation
from allywatch.store import queries
from allywatch.store.engine import open_engine, writing
from allywatch.store.models import Alert, Base, Transition

HOUR = timedelta(hours=1)
OUTLETS = ("a.com", "b.com", "c.com", "d.com")
STATES = ("low", "mid", "high")
ENTITIES = ("x", "y")
PLACES = ("Minsk", "Astana", "Bishkek")

durations = st.sampled_from([None, 6 * HOUR, 48 * HOUR, 200 * HOUR])


@st.composite
def signals(draw: st.DrawFn, entities: tuple[str, ...] = ()) -> Signal:
    """A signal of three states; some tied to a recurring event, maybe the status quo too."""
    events = draw(st.booleans())
    states = tuple(
        make_state(
            name,
            min_sources=draw(st.integers(1, 3)),
            min_stories=draw(st.integers(1, 2)),
            within=draw(durations),
            hold=draw(st.sampled_from([None, 3 * HOUR, 30 * HOUR])),
            expires=draw(st.sampled_from([None, 20 * HOUR, 100 * HOUR])),
            hedged=draw(st.booleans()),
            event="meet" if events and draw(st.booleans()) else None,
        )
        for name in STATES
    )
    signal = make_signal("sig", "zero", states, entities=entities)
    if not events:
        return signal
    meet = Event(
        "meet",
        "meeting",
        gap=draw(st.sampled_from([6 * HOUR, 40 * HOUR])),
        lapses=draw(st.sampled_from([None, 30 * HOUR, 150 * HOUR])),
        places=term_list("places", *PLACES),
    )
    quo = StateDef("zero", when=None, event="meet") if draw(st.booleans()) else None
    return Signal(**{**signal.__dict__, "events": {"meet": meet}, "status_quo": quo})


reports = st.builds(
    lambda hours, state, outlet, story, against, hedged, official, place, entity: Observation(
        signal="sig",
        entity=entity,
        state=state,
        published=T0 + hours * HOUR,
        outlet=outlet,
        story=f"story-{story}",
        polarity="against" if against else "for",
        hedged=hedged,
        link=f"https://{outlet}/{hours}/{state}/{story}/{against}/{hedged}",
        title=f"{state} {outlet} in {place}",
        tier="official" if official else "other",
    ),
    st.integers(0, 400),
    st.sampled_from(("zero", *STATES)),
    st.sampled_from(OUTLETS),
    st.integers(0, 5),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.sampled_from(PLACES),
    st.none(),
)
entity_reports = st.builds(
    lambda item, entity: item._replace(entity=entity, link=f"{item.link}/{entity}"),
    reports,
    st.sampled_from(ENTITIES),
)
AWAY = make_signal(
    "away",
    "none",
    (make_state("some", min_count=1), make_state("all", min_count=2)),
    aggregate=Aggregate("sig", ("mid", "high")),
)
END = T0 + 500 * HOUR


def assert_chain(initial: str, changes: list[tuple[str, str, object]]) -> None:
    current, last_at = initial, None
    for from_state, to_state, at in changes:
        assert from_state == current and to_state != from_state
        assert last_at is None or at > last_at
        current, last_at = to_state, at


@settings(max_examples=150, deadline=None)
@given(signals(), st.lists(reports, max_size=40), st.randoms(use_true_random=False))
def test_a_replay_depends_on_the_evidence_not_on_its_order(signal, evidence, rnd):
    shuffled = list(evidence)
    rnd.shuffle(shuffled)
    assert replay(signal, None, evidence, END) == replay(signal, None, shuffled, END)


@settings(max_examples=150, deadline=None)
@given(signals(), st.lists(reports, max_size=40), st.integers(0, 500))
def test_a_replay_is_causal_and_its_changes_form_a_chain(signal, evidence, cut_hours):
    full = replay(signal, None, evidence, END)
    assert_chain(signal.initial, [(c.from_state, c.to_state, c.at) for c in full.changes])
    cut = T0 + cut_hours * HOUR
    early = replay(signal, None, [e for e in evidence if e.published <= cut], cut)
    assert early.changes == tuple(c for c in full.changes if c.at <= cut)


@settings(max_examples=100, deadline=None)
@given(signals(ENTITIES), st.lists(entity_reports, max_size=40), st.integers(0, 500))
def test_occurrences_shared_by_entities_keep_replays_causal(signal, evidence, cut_hours):
    """Every entity's reports form the occurrences, the aggregate counts the latest: what
    happens up to a moment still depends only on the evidence published by then, in any
    order given."""

    def replayed(items, now):
        return replay_all([signal, AWAY], lambda signal_id: items, now)

    full = replayed(evidence, END)
    assert full == replayed(list(reversed(evidence)), END)
    cut = T0 + cut_hours * HOUR
    early = replayed([e for e in evidence if e.published <= cut], cut)
    for signal_id, timelines in full.items():
        initial = signal.initial if signal_id == signal.id else AWAY.initial
        for whole, part in zip(timelines, early[signal_id], strict=True):
            assert_chain(initial, [(c.from_state, c.to_state, c.at) for c in whole.changes])
            assert part.changes == tuple(c for c in whole.changes if c.at <= cut)
            assert part.renewals == tuple(c for c in whole.renewals if c.at <= cut)
    assert [t.state for t in replay_signal(signal, evidence, END)] == [t.state for t in full["sig"]]


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signals(), st.booleans(), st.integers(0, 2**32 - 1))
def test_cycles_never_record_one_change_twice(signal, late, seed):
    rnd = random.Random(seed)
    # Reports spread over three weeks; each becomes visible at its publication time,
    # or (late) up to 150 hours after it; cycles run at random moments.
    evidence = [
        Observation(
            signal="sig",
            entity=None,
            state=rnd.choice(("zero", *STATES)),
            polarity=rnd.choice(("for", "against")),
            hedged=rnd.random() < 0.2,
            published=T0 + rnd.randint(0, 400) * HOUR,
            outlet=rnd.choice(OUTLETS),
            story=f"story-{rnd.randint(0, 5)}",
            link=f"https://example.org/{number}",
            title=f"in {rnd.choice(PLACES)}",
        )
        for number in range(rnd.randint(0, 60))
    ]
    arrivals = [
        e.published + (rnd.randint(0, 150) * HOUR if late else timedelta(0)) for e in evidence
    ]
    cycles = sorted(T0 + rnd.randint(0, 520) * HOUR for _ in range(rnd.randint(1, 10)))
    engine = open_engine("sqlite://")
    Base.metadata.create_all(engine)
    stored: set[int] = set()
    for now in cycles:
        with writing(engine) as session:
            for number, (item, arrival) in enumerate(zip(evidence, arrivals, strict=True)):
                if arrival <= now and number not in stored:
                    store_report(session, signal.id, None, item)
                    stored.add(number)
            evaluate(session, [signal], now)
    with writing(engine) as session:
        transitions = list(session.scalars(select(Transition).order_by(Transition.at)))
        alerts = list(session.scalars(select(Alert)))
        assert_chain(signal.initial, [(t.from_state, t.to_state, t.at) for t in transitions])
        assert sorted(a.transition_id for a in alerts) == sorted(t.id for t in transitions)
        # Nothing new: evaluating again records nothing.
        assert evaluate(session, [signal], cycles[-1]) == []
        seen = [e for number, e in enumerate(evidence) if number in stored]
        expected = replay(signal, None, seen, cycles[-1])
        assert queries.signal_state(session, "sig", "").state == expected.state
        if not late:
            # Evidence in publication order: the cycles record exactly what one replay finds.
            assert [(t.from_state, t.to_state, t.at, t.occurrence) for t in transitions] == [
                (c.from_state, c.to_state, c.at, c.occurrence and c.occurrence.to_json())
                for c in expected.changes
            ]
    engine.dispose()


def test_late_evidence_that_rewrites_history_is_recorded_once_as_a_revision():
    signal = make_signal("sig", "zero", (make_state("low", min_sources=2),))
    engine = open_engine("sqlite://")
    Base.metadata.create_all(engine)
    first = report(0, "low", "a.com")
    second = report(1 / 24, "low", "b.com")
    denial = report(1 / 48, "low", "c.com", against=True)
    with writing(engine) as session:
        store_report(session, signal.id, None, first)
        store_report(session, signal.id, None, second)
        assert [a.to_state for a in evaluate(session, [signal], T0 + 2 * HOUR)] == ["low"]
        store_report(session, signal.id, None, denial)  # published between the two, seen only now
        alerts = evaluate(session, [signal], T0 + 3 * HOUR)
        assert evaluate(session, [signal], T0 + 4 * HOUR) == []
    assert [(a.from_state, a.to_state, a.at) for a in alerts] == [("low", "zero", T0 + 3 * HOUR)]
    assert alerts[0].message == "sig: low -> zero (revised)"
