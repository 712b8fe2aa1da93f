"""The rules engine: observations in, each signal's state timeline out.

Everything here is a pure function of the signal definitions, the
observations and the clock, so replaying the same observations gives the same
transitions (that is what `backtest` and re-matching rely on).

The signal definitions come from the watchers' signal language; this module
only needs the attributes named in the Protocols below.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


class StateSpec(Protocol):
    name: str
    min_sources: int
    min_stories: int
    within: timedelta | None
    expires: timedelta | None
    hedged: bool
    severity: str
    min_count: int | None


class AggregateSpec(Protocol):
    of: str
    away: tuple[str, ...]


class SignalSpec(Protocol):
    id: str
    initial: str
    entities: tuple[str, ...]
    states: tuple[StateSpec, ...]
    aggregate: AggregateSpec | None


@dataclass(frozen=True)
class Evidence:
    """One observation as the rules engine sees it."""

    state: str
    at: datetime
    outlet: str
    story: str
    polarity: str = "for"
    hedged: bool = False
    link: str = ""
    title: str = ""


@dataclass(frozen=True)
class Change:
    """A state change: when, from what to what, and the articles that carried it."""

    signal: str
    entity: str | None
    from_state: str
    to_state: str
    at: datetime
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class Timeline:
    """An entity's (or a whole signal's) state now, since when, and how it got there."""

    signal: str
    entity: str | None
    state: str
    since: datetime | None
    changes: tuple[Change, ...]


def replay(
    signal: SignalSpec, entity: str | None, evidence: Sequence[Evidence], now: datetime
) -> Timeline:
    """Walk one entity's evidence in time order and record every state change up to `now`."""
    rank = {signal.initial: 0} | {s.name: i + 1 for i, s in enumerate(signal.states)}
    specs = {s.name: s for s in signal.states}
    ordered = sorted((e for e in evidence if e.at <= now), key=lambda e: e.at)
    state, since = signal.initial, None
    last_support: datetime | None = None
    changes: list[Change] = []

    def expire_until(moment: datetime) -> None:
        nonlocal state, since, last_support
        spec = specs.get(state)
        if spec is None or spec.expires is None or last_support is None:
            return
        ends = last_support + spec.expires
        if ends <= moment:
            changes.append(Change(signal.id, entity, state, signal.initial, ends))
            state, since, last_support = signal.initial, ends, None

    for index, item in enumerate(ordered):
        expire_until(item.at)
        seen = ordered[: index + 1]
        if item.polarity == "for" and item.state == state:
            last_support = item.at
        best: tuple[StateSpec, list[Evidence]] | None = None
        for spec in signal.states:
            if rank[spec.name] <= rank[state]:
                continue
            support = _support(spec, seen, item.at)
            if support is not None:
                best = (spec, support)
        if best is not None:
            spec, support = best
            changes.append(Change(signal.id, entity, state, spec.name, item.at, tuple(support)))
            state, since, last_support = spec.name, item.at, item.at
    expire_until(now)
    return Timeline(signal.id, entity, state, since, tuple(changes))


def _support(spec: StateSpec, seen: Sequence[Evidence], at: datetime) -> list[Evidence] | None:
    """The evidence that makes `spec` hold at `at`, or None when it does not hold."""
    start = at - spec.within if spec.within is not None else None
    window = [e for e in seen if e.state == spec.name and (start is None or e.at > start)]
    backing = [e for e in window if e.polarity == "for" and (spec.hedged or not e.hedged)]
    against = [e for e in window if e.polarity == "against"]
    outlets = {e.outlet for e in backing}
    if len(outlets) < spec.min_sources or len({e.story for e in backing}) < spec.min_stories:
        return None
    if len({e.outlet for e in against}) >= len(outlets):
        return None
    return backing


def replay_signal(
    signal: SignalSpec, evidence: Iterable[tuple[str | None, Evidence]], now: datetime
) -> list[Timeline]:
    """One timeline per entity (or one for the whole signal when it has none)."""
    by_entity: dict[str | None, list[Evidence]] = {e: [] for e in (signal.entities or (None,))}
    for entity, item in evidence:
        if entity in by_entity:
            by_entity[entity].append(item)
    return [replay(signal, entity, items, now) for entity, items in by_entity.items()]


def replay_aggregate(signal: SignalSpec, members: Sequence[Timeline]) -> Timeline:
    """An aggregate signal's timeline: how many members are in an `away` state over time."""
    assert signal.aggregate is not None
    away = set(signal.aggregate.away)
    thresholds = [(s.min_count or 0, s.name) for s in signal.states]
    events = sorted((change for member in members for change in member.changes), key=lambda c: c.at)
    current: dict[str | None, str] = {}
    state, since = signal.initial, None
    changes: list[Change] = []
    for change in events:
        current[change.entity] = change.to_state
        count = sum(1 for value in current.values() if value in away)
        new = signal.initial
        for minimum, name in thresholds:
            if count >= minimum:
                new = name
        if new != state:
            changes.append(Change(signal.id, None, state, new, change.at, change.evidence))
            state, since = new, change.at
    return Timeline(signal.id, None, state, since, tuple(changes))
