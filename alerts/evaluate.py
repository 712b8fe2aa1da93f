"""Evaluation against the store: replay each signal from its stored observations,
record the transitions not yet recorded, raise one alert for each, and keep the
current state table up to date.

What has been recorded is a chain per signal and entity: each transition starts
from the state the previous one ended in. A replay is reconciled with that
chain, never appended blindly: only changes after the latest recorded one are
added (from the recorded state), and when evidence that arrived late rewrote
earlier history so that the replay now ends elsewhere, one "revised"
transition at evaluation time brings the chain to the replayed state. So no
sequence of evaluations records (or alerts) one change twice, and evaluating
again with nothing new records nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

from allywatch.alerts.outline import SignalOutline
from allywatch.alerts.replay_due import due_signals, evaluation_keys
from allywatch.alerts.silences import is_silenced
from allywatch.alerts.tier_weights import DEFAULT_TIER_WEIGHTS
from allywatch.store import queries
from allywatch.store.models import Alert, Transition
from allywatch.store.silences import list_silences

if TYPE_CHECKING:
    from allywatch.alerts.occurrence import Occurrence
    from allywatch.alerts.rules import Change, StateStatus, Timeline
    from allywatch.language.model import Signal
    from allywatch.language.records import Observation

_TICK = timedelta(microseconds=1)


class SignalPack(Protocol):
    """Signals whose outlines can be had without loading them (a workspace's)."""

    @property
    def outlines(self) -> Sequence[SignalOutline]: ...

    @property
    def signals(self) -> Sequence[Signal]: ...


@dataclass(frozen=True)
class _Loaded:
    """Signals loaded already, as a pack."""

    signals: Sequence[Signal]

    @property
    def outlines(self) -> list[SignalOutline]:
        return [SignalOutline.of(signal) for signal in self.signals]


def evaluate(
    session: Session,
    signals: Sequence[Signal] | SignalPack,
    now: datetime,
    *,
    announce: bool = True,
    announce_within: timedelta | None = None,
    weights: Mapping[str, int] = DEFAULT_TIER_WEIGHTS,
    tiers: Mapping[str, str] | None = None,
) -> list[Alert]:
    """Bring stored state up to date with the observations; return the alerts raised.

    `tiers` maps source names to their tiers, `weights` the tiers to their
    weights (see alerts.rules).

    An alert is announced when allywatch first learns of its change, whatever
    the date of the articles behind it (feeds surface articles late, and a
    source added later brings its older items). It is recorded but not
    announced (so nobody is sent it) when `announce` is false (the first
    run's baseline), when its change happened more than `announce_within`
    before `now`, or when a silence covers its signal or entity;
    `unannounced_reason` says which.

    A signal is replayed only when something could have changed since it was
    last evaluated: its definition, its observations (count and newest id), or
    a timer (expiry, lapse, hold) due by `now`. Replays are causal, so skipping the
    others changes nothing but the time it takes. That is decided from the signals'
    outlines: given a pack (`SignalPack`), its signals are loaded only when one is due.
    """
    pack = _Loaded(signals) if isinstance(signals, Sequence) else signals
    outlines = pack.outlines
    keys = evaluation_keys(session, outlines, weights, tiers or {})
    due = due_signals(session, outlines, keys, now)
    if not due:
        return []
    queries.signal_states(session)  # into the session, for set_signal_state below
    signals = pack.signals
    due |= {s.aggregate.of for s in signals if s.aggregate is not None and s.id in due}
    # Aggregates are replayed from their members' timelines, so whenever those are.
    replayed = [s for s in signals if s.id in due or s.aggregate is not None]
    # Imported here: the rules engine (and the signal language it reads) is loaded only
    # when a signal is due, which in a quiet cycle they seldom are.
    from allywatch.alerts.rules import replay_all

    timelines = replay_all(
        replayed,
        lambda signal_id: queries.stored_observations(session, signal_id, tiers),
        now,
        weights=weights,
    )

    silences = list_silences(session, now)
    by_id = {s.id: s for s in signals}
    raised: list[Alert] = []
    for signal_id, entity_timelines in timelines.items():
        signal = by_id[signal_id]
        recorded = queries.last_transitions(session, signal_id)
        for timeline in entity_timelines:
            entity = timeline.entity or ""
            quiet = not announce or is_silenced(silences, signal_id, entity)
            last = recorded.get(entity)
            since = last.at if last is not None else None
            for change in reconcile(timeline, last, signal.initial, now):
                old = announce_within is not None and change.at < now - announce_within
                raised.append(_record(session, signal, change, now, not (quiet or old)))
                since = change.at
            queries.set_signal_state(
                session,
                signal_id,
                entity,
                timeline.state,
                since,
                now,
                _detail(timeline, now, keys[signal_id]),
                _occurrence_json(timeline.occurrence),
            )
    return raised


def _detail(timeline: Timeline, now: datetime, key: dict[str, object]) -> dict[str, object]:
    timers = [
        t
        for s in timeline.status
        for t in (s.expires_at, s.lapses_at, s.pending_until)
        if t is not None
    ]
    return {
        "at": now.isoformat(),
        "next": min(timers).isoformat() if timers else None,
        **key,
        "states": [_status_json(s) for s in timeline.status],
    }


def reconcile(
    timeline: Timeline, last: Transition | None, initial: str, now: datetime
) -> list[Change]:
    """The changes to record so that the recorded chain ends where `timeline` does.

    Recorded times strictly increase along a chain, so (signal, entity, at)
    never repeats: a revision goes at `now`, or just after the latest
    recorded change when the clock says otherwise.
    """
    from allywatch.alerts.rules import Change  # see evaluate: loaded only when replaying

    current = last.to_state if last is not None else initial
    after = last.at if last is not None else None
    out: list[Change] = []
    for change in timeline.changes:
        if (after is None or change.at > after) and change.to_state != current:
            out.append(replace(change, from_state=current))
            current = change.to_state
    if current != timeline.state:
        assert after is not None  # without a recorded chain every change is taken above
        behind = [c for c in timeline.changes if c.at <= after]
        out.append(
            Change(
                timeline.signal,
                timeline.entity,
                current,
                timeline.state,
                now if now > after else after + _TICK,
                behind[-1].evidence if behind else (),
                "revised",
                timeline.occurrence,
            )
        )
    return out


def evidence_json(items: Sequence[Observation]) -> list[dict[str, object]]:
    """The articles a change cites, as transitions and alerts store them."""
    return [
        {
            "link": e.link,
            "title": e.title,
            "outlet": e.outlet,
            "published": e.when.isoformat(),
            "state": e.state,
            "polarity": e.polarity,
            "hedged": e.hedged,
        }
        for e in items
    ]


def _record(
    session: Session, signal: Signal, change: Change, now: datetime, announced: bool
) -> Alert:
    from allywatch.alerts.rules import severity_of  # see evaluate: loaded only when replaying

    entity = change.entity or ""
    evidence = evidence_json(change.evidence)
    transition = queries.add_transition(
        session,
        signal=change.signal,
        entity=entity,
        from_state=change.from_state,
        to_state=change.to_state,
        at=change.at,
        evidence=evidence,
        recorded_at=now,
        reason=change.reason,
        occurrence=_occurrence_json(change.occurrence),
    )
    alert = queries.add_alert(
        session,
        key=f"transition:{change.signal}:{entity}:{change.at.isoformat()}:{change.to_state}",
        kind="transition",
        signal=change.signal,
        entity=entity,
        from_state=change.from_state,
        to_state=change.to_state,
        severity=severity_of(signal, change),
        at=change.at,
        message=message(change),
        evidence=evidence,
        transition_id=transition.id,
        created_at=now,
        announced=announced,
    )
    # The transition's unique key guards the alert's: a new transition always has a new alert.
    assert alert is not None
    return alert


def message(change: Change) -> str:
    subject = f"{change.signal} / {change.entity}" if change.entity else change.signal
    why = "" if change.reason in ("evidence", "count") else f" ({change.reason})"
    return f"{subject}: {change.from_state} -> {change.to_state}{why}"


def _occurrence_json(occurrence: Occurrence | None) -> dict[str, object] | None:
    return occurrence.to_json() if occurrence is not None else None


def _status_json(status: StateStatus) -> dict[str, object]:
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in asdict(status).items()
    }
