"""The rules engine on hand-made observations: thresholds, denials, hold, expiry, aggregates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from allywatch.alerts.rules import replay, replay_aggregate, replay_signal, severity_of
from allywatch.language.model import Aggregate, Corroboration, Signal, StateDef
from allywatch.language.records import Observation

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def make_state(name: str, **needs: Any) -> StateDef:
    """A state as the rules engine reads it (when an article evidences it is the matcher's)."""
    return StateDef(name, when=None, **needs)


def make_signal(
    id: str,
    initial: str,
    states: tuple[StateDef, ...],
    *,
    entities: tuple[str, ...] = (),
    aggregate: Aggregate | None = None,
) -> Signal:
    return Signal(id, f"{id}?", initial, entities, states, aggregate, Path(f"{id}.yaml"))


SU35 = make_signal(
    "su35-iran",
    "none",
    (
        make_state("deal", within=30 * DAY),
        make_state("delivery-reported", severity="warning"),
        make_state("delivered", min_sources=3, within=14 * DAY, severity="critical"),
    ),
)
CSTO = make_signal(
    "csto",
    "attending",
    (
        make_state("absent", within=7 * DAY, expires=30 * DAY),
        make_state("suspended"),
        make_state("withdrawn"),
    ),
    entities=("Armenia", "Belarus", "Kazakhstan"),
)


def report(
    days: float,
    state: str,
    outlet: str,
    story: str | None = None,
    *,
    against: bool = False,
    hedged: bool = False,
    entity: str | None = None,
) -> Observation:
    """An observation of `state`, placed in an article published `days` after T0 (the
    rules engine reads neither its signal nor the terms matched)."""
    return Observation(
        signal="",
        entity=entity,
        state=state,
        published=T0 + days * DAY,
        outlet=outlet,
        story=story or f"{outlet}-{state}-{days}",
        polarity="against" if against else "for",
        hedged=hedged,
        link=f"https://{outlet}/{state}/{days}/{'against' if against else 'for'}",
        title=f"{outlet} on {state}",
    )


def path(timeline) -> list[tuple[str, str, float, str]]:
    return [(c.from_state, c.to_state, (c.at - T0) / DAY, c.reason) for c in timeline.changes]


NOW = T0 + 365 * DAY


def test_a_state_needs_its_number_of_independent_outlets_within_the_window():
    evidence = [
        report(0, "delivered", "a.com"),
        report(1, "delivered", "a.com"),  # the same outlet again: still one source
        report(2, "delivered", "b.com"),
        report(20, "delivered", "c.com"),  # a.com and b.com have left the 14-day window
        report(21, "delivered", "d.com"),
        report(22, "delivered", "e.com"),  # c, d, e within 14 days: three outlets
    ]
    timeline = replay(SU35, None, evidence, NOW)
    assert path(timeline) == [
        ("none", "delivery-reported", 0, "evidence"),  # one report is enough for this one
        ("delivery-reported", "delivered", 22, "evidence"),
    ]
    assert [e.outlet for e in timeline.changes[1].evidence] == ["c.com", "d.com", "e.com"]
    assert timeline.state == "delivered" and timeline.since == T0 + 22 * DAY


def test_syndicated_copies_of_one_story_count_once():
    signal = make_signal("s", "none", (make_state("deal", min_sources=2, min_stories=2),))
    wire = [report(0, "deal", "a.com", "wire-1"), report(0.1, "deal", "b.com", "wire-1")]
    assert replay(signal, None, wire, NOW).changes == ()
    second = [*wire, report(1, "deal", "c.com", "own-story")]
    assert path(replay(signal, None, second, NOW)) == [("none", "deal", 1, "evidence")]


def test_hedged_reports_count_only_where_the_state_allows():
    hedged = [report(0, "deal", "a.com", hedged=True)]
    assert replay(SU35, None, hedged, NOW).state == "none"
    lenient = make_signal("s", "none", (make_state("deal", hedged=True),))
    assert replay(lenient, None, hedged, NOW).state == "deal"


def test_a_denial_undoes_a_single_report_and_the_state_can_be_reached_again():
    evidence = [
        report(0, "delivery-reported", "a.com"),
        report(1, "delivery-reported", "b.com", against=True),
        report(5, "delivery-reported", "c.com"),
    ]
    # A reported delivery implies the deal, which the denial leaves alone.
    assert path(replay(SU35, None, evidence, NOW)) == [
        ("none", "delivery-reported", 0, "evidence"),
        ("delivery-reported", "deal", 1, "denied"),
        ("deal", "delivery-reported", 5, "evidence"),
    ]


def test_one_denial_does_not_undo_several_independent_reports():
    evidence = [
        report(0, "delivered", "a.com"),
        report(1, "delivered", "b.com"),
        report(2, "delivered", "c.com"),
        report(3, "delivered", "d.com", against=True),
    ]
    assert replay(SU35, None, evidence, NOW).state == "delivered"


def test_a_later_report_that_the_deal_collapsed_leaves_the_state():
    evidence = [
        report(0, "deal", "a.com"),
        report(1, "deal", "b.com"),
        report(90, "deal", "c.com", against=True),  # the early reports are out of the window
    ]
    timeline = replay(SU35, None, evidence, NOW)
    assert path(timeline) == [("none", "deal", 0, "evidence"), ("deal", "none", 90, "denied")]
    assert [e.outlet for e in timeline.changes[1].evidence] == ["c.com"]


def test_leaving_a_state_falls_back_to_the_highest_state_still_standing():
    evidence = [
        report(0, "deal", "a.com"),
        report(10, "delivery-reported", "b.com"),
        report(11, "delivery-reported", "c.com", against=True),
    ]
    assert path(replay(SU35, None, evidence, NOW))[-1] == (
        "delivery-reported",
        "deal",
        11,
        "denied",
    )


def test_a_report_supports_the_states_down_its_weaker_chain_only():
    signal = make_signal(
        "s",
        "in",
        (
            make_state("absent"),
            make_state("suspended", weaker="in"),
            make_state("gone", weaker="in"),
        ),
    )
    gone = [report(0, "gone", "a.com"), report(1, "gone", "b.com", against=True)]
    # Leaving does not imply having been absent or suspended: the denial returns to "in".
    assert path(replay(signal, None, gone, NOW)) == [
        ("in", "gone", 0, "evidence"),
        ("gone", "in", 1, "denied"),
    ]
    chained = make_signal("s", "in", (make_state("absent"), make_state("gone")))
    assert replay(chained, None, gone, NOW).state == "absent"


def test_enough_evidence_at_once_goes_straight_to_the_highest_state():
    evidence = [report(0, name, o) for o in ("a.com", "b.com", "c.com") for name in ("delivered",)]
    evidence += [report(0, "delivery-reported", "a.com")]
    assert path(replay(SU35, None, evidence, NOW)) == [("none", "delivered", 0, "evidence")]


def test_hold_keeps_a_burst_of_rumour_from_flapping_the_state():
    signal = make_signal("s", "none", (make_state("deal", hold=2 * DAY),))
    rumour = [report(0, "deal", "a.com"), report(1, "deal", "b.com", against=True)]
    assert replay(signal, None, rumour, NOW).changes == ()
    lasting = [report(0, "deal", "a.com")]
    assert path(replay(signal, None, lasting, NOW)) == [("none", "deal", 2, "evidence")]
    # Not yet recorded while the hold is running.
    assert replay(signal, None, lasting, T0 + 1.5 * DAY).state == "none"
    # Leaving waits for the hold as well; a state reaffirmed in time is never left.
    denied = [*lasting, report(10, "deal", "b.com", against=True)]
    assert path(replay(signal, None, denied, NOW))[-1] == ("deal", "none", 12, "denied")
    reaffirmed = [*denied, report(11, "deal", "c.com"), report(11, "deal", "d.com")]
    assert path(replay(signal, None, reaffirmed, NOW)) == [("none", "deal", 2, "evidence")]


def test_an_event_state_expires_after_its_last_support():
    evidence = [report(0, "absent", "a.com"), report(10, "absent", "b.com")]
    timeline = replay(CSTO, "Kazakhstan", evidence, NOW)
    assert path(timeline) == [
        ("attending", "absent", 0, "evidence"),
        ("absent", "attending", 40, "expired"),
    ]
    # Before the expiry time it is still absent.
    assert replay(CSTO, "Kazakhstan", evidence, T0 + 39 * DAY).state == "absent"


def test_newer_evidence_for_a_lower_state_ends_an_event_state():
    evidence = [
        report(0, "absent", "a.com"),
        report(5, "attending", "b.com"),  # the next summit: the leader attends
    ]
    assert path(replay(CSTO, "Belarus", evidence, NOW)) == [
        ("attending", "absent", 0, "evidence"),
        ("absent", "attending", 5, "superseded"),
    ]
    hedged = [report(0, "absent", "a.com"), report(5, "attending", "b.com", hedged=True)]
    assert path(replay(CSTO, "Belarus", hedged, NOW))[-1][3] == "expired"


def test_durable_states_neither_expire_nor_yield_to_lower_evidence():
    evidence = [report(0, "suspended", "a.com"), report(50, "absent", "b.com")]
    assert replay(CSTO, "Armenia", evidence, NOW).state == "suspended"


def test_every_entity_has_its_own_state():
    evidence = [
        report(0, "suspended", "a.com", entity="Armenia"),
        report(1, "absent", "b.com", entity="Belarus"),
        report(1, "withdrawn", "c.com", entity="Narnia"),  # not an entity of the signal
    ]
    timelines = replay_signal(CSTO, evidence, T0 + 2 * DAY)
    assert [(t.entity, t.state) for t in timelines] == [
        ("Armenia", "suspended"),
        ("Belarus", "absent"),
        ("Kazakhstan", "attending"),
    ]


def test_an_aggregate_counts_members_in_away_states():
    aggregate = make_signal(
        "csto-away",
        "few",
        (make_state("some", min_count=2), make_state("most", min_count=3)),
        aggregate=Aggregate("csto", ("absent", "suspended", "withdrawn")),
    )
    evidence = [
        report(0, "suspended", "a.com", entity="Armenia"),
        report(1, "absent", "b.com", entity="Belarus"),
        report(1, "absent", "c.com", entity="Kazakhstan"),
    ]
    members = replay_signal(CSTO, evidence, NOW)
    timeline = replay_aggregate(aggregate, members)
    # Belarus and Kazakhstan join at the same moment; both expire 30 days later.
    assert path(timeline) == [
        ("few", "most", 1, "count"),
        ("most", "few", 31, "count"),
    ]
    assert {e.outlet for e in timeline.changes[0].evidence} == {"b.com", "c.com"}


def test_severity_is_that_of_the_higher_state():
    up, down = replay(
        SU35,
        None,
        [report(0, "delivered", o) for o in ("a.com", "b.com", "c.com")]
        + [report(1, "delivered", o, against=True) for o in ("d.com", "e.com", "f.com")],
        NOW,
    ).changes
    assert (up.to_state, down.to_state) == ("delivered", "delivery-reported")
    assert severity_of(SU35, up) == severity_of(SU35, down) == "critical"


def test_the_status_says_where_each_state_stands_now():
    evidence = [report(0, "absent", "a.com"), report(1, "absent", "b.com", against=True)]
    status = {s.name: s for s in replay(CSTO, "Belarus", evidence, T0 + 2 * DAY).status}
    assert status["absent"].standing is False
    assert (status["absent"].for_outlets, status["absent"].against_outlets) == (1, 1)
    # Seven days on, both reports have left the window.
    later = {s.name: s for s in replay(CSTO, "Belarus", evidence, T0 + 9 * DAY).status}
    assert (later["absent"].for_outlets, later["absent"].against_outlets) == (0, 0)


SU35_CORROBORATED = make_signal(
    "su35-iran",
    "none",
    (
        make_state("deal"),
        make_state("delivery-reported"),
        make_state(
            "delivered",
            min_sources=2,
            within=14 * DAY,
            corroboration=Corroboration(min_sources=3, within=14 * DAY),
        ),
    ),
)


def test_reports_from_enough_independent_outlets_corroborate_the_stronger_state() -> None:
    timeline = replay(
        SU35_CORROBORATED,
        None,
        [
            report(0, "delivery-reported", "a.example"),
            report(2, "delivery-reported", "b.example"),
            report(5, "delivery-reported", "c.example"),
        ],
        T0 + 30 * DAY,
    )
    assert [(c.to_state, c.at, c.reason) for c in timeline.changes] == [
        ("delivery-reported", T0, "evidence"),
        ("delivered", T0 + 5 * DAY, "corroborated"),
    ]
    assert {e.outlet for e in timeline.changes[-1].evidence} == {
        "a.example",
        "b.example",
        "c.example",
    }


def test_corroboration_needs_independent_outlets_within_its_window() -> None:
    spread_out = [
        report(0, "delivery-reported", "a.example"),
        report(10, "delivery-reported", "b.example"),
        report(20, "delivery-reported", "c.example"),
    ]
    one_outlet = [report(d, "delivery-reported", "a.example") for d in (0, 1, 2)]
    for reports in (spread_out, one_outlet):
        timeline = replay(SU35_CORROBORATED, None, reports, T0 + 30 * DAY)
        assert timeline.state == "delivery-reported"


def test_hedged_reports_do_not_corroborate_and_denials_undo_corroboration() -> None:
    hedged = [report(d, "delivery-reported", f"{d}.example", hedged=True) for d in (0, 1, 2)]
    assert replay(SU35_CORROBORATED, None, hedged, T0 + 5 * DAY).state == "none"

    denied = [
        report(0, "delivery-reported", "a.example"),
        report(1, "delivery-reported", "b.example"),
        report(2, "delivery-reported", "c.example"),
        *(report(3, "delivery-reported", f"d{i}.example", against=True) for i in range(3)),
    ]
    timeline = replay(SU35_CORROBORATED, None, denied, T0 + 5 * DAY)
    assert [c.to_state for c in timeline.changes][:2] == ["delivery-reported", "delivered"]
    assert timeline.state != "delivered"
    assert timeline.changes[2].reason == "denied"
