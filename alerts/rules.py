"""The rules engine: observations in, each signal's state timeline out.

Everything here is a pure function of the signal definitions, the
observations and the clock, so replaying the same observations gives the same
transitions (that is what `backtest` and re-matching rely on). It is also
causal: what happens up to a moment depends only on evidence published up to
that moment, so evaluating cycle by cycle as articles arrive gives the same
transitions as one replay over all of them.

How a state is reached and left
-------------------------------
Each state of a signal (not the initial one) *stands* or not, on its own:

- A report of a state also supports the states it implies, down its `weaker`
  chain (see `implied`); a report against a state bears on that state only.
- It comes to stand when, within its `within` window (all history when
  unset), the independent reports for it, minus those against it, reach
  `min_sources` outlets and `min_stories` stories. Syndicated copies of one
  story count once towards stories; several stories of one outlet count once
  towards outlets. Hedged reports count only where the state says `hedged`.
- It stops standing when a report against it arrives and, within the window,
  the reports against it are at least as many as those for it, counted by
  outlet and by story. One denial does not undo three independent reports,
  but a later report that a deal collapsed undoes a deal whose reports have
  left the window: a state without `within` weighs every report ever made,
  so give `within` to states that later news should be able to reverse.
- A state with `corroboration` also comes to stand when reports of its
  `weaker` state alone reach the corroboration's outlets and stories within
  its window (a delivery reported by several independent outlets is taken as
  delivered without an official confirmation), and stops standing only when
  both its own reports and those corroborating it are outweighed.
- A state with `expires` (an event, such as missing one summit) also stops
  standing `expires` after its latest supporting report, or as soon as newer
  evidence for a lower-ranked state (or, unhedged, for the initial state)
  comes to stand.

A state is *held* once it has stood for its `hold` time, and released once it
has stopped standing for its `hold` time (like Prometheus `for:`), so a burst
of rumour does not flap it. The signal's state is the highest-ranked held
state, or the initial state when none is held. Every change of it is a
`Change` carrying the articles that caused it.

The signal definitions are the signal language's own types
(allywatch.language.model), and the observations are the matcher's
(allywatch.language.records.Observation), placed in their articles: the
engine reads when each was published, its outlet, story, link and title.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from operator import attrgetter

from allywatch.language.model import Corroboration, Signal, StateDef
from allywatch.language.records import Observation

# How many articles a change cites at most (the newest ones).
MAX_CITED = 20


# Reports in time order, ties broken by what they say: a replay does not depend on
# the order it is given them.
chronological = attrgetter(
    "published", "state", "outlet", "story", "polarity", "hedged", "link", "title"
)
_published = attrgetter("published")


@dataclass(frozen=True)
class Change:
    """A state change: when, from what to what, why, and the articles that carried it.

    `reason` is "evidence" (reports reached a higher state), "corroborated"
    (reports of the weaker state reached its corroboration), "denied" (reports
    against the state left), "expired", "superseded" (newer evidence for a
    lower state ended an event state), "count" (an aggregate's count changed)
    or "revised" (recorded when late evidence rewrote history; see evaluate).
    """

    signal: str
    entity: str | None
    from_state: str
    to_state: str
    at: datetime
    evidence: tuple[Observation, ...] = ()
    reason: str = "evidence"


@dataclass(frozen=True)
class StateStatus:
    """Where one state stands at the end of a replay: what `explain` shows."""

    name: str
    standing: bool
    held: bool
    since: datetime | None
    last_support: datetime | None
    expires_at: datetime | None
    pending_until: datetime | None
    for_outlets: int
    for_stories: int
    against_outlets: int
    against_stories: int


@dataclass(frozen=True)
class Timeline:
    """An entity's (or a whole signal's) state now, since when, and how it got there."""

    signal: str
    entity: str | None
    state: str
    since: datetime | None
    changes: tuple[Change, ...]
    status: tuple[StateStatus, ...] = ()


def counts(spec: StateDef, item: Observation) -> bool:
    """Whether a report bears on this state at all (hedged ones only where allowed)."""
    return item.polarity in ("for", "against") and (spec.hedged or not item.hedged)


def implied(signal: Signal, name: str) -> list[str]:
    """The states a report of `name` supports: itself and, down its `weaker` chain, each
    state it implies (a corroborated delivery was also reported; a reported delivery
    implies the deal). The matcher records only the strongest state an article
    evidences, so this is how the weaker states get their support. `weaker` None
    means the state ranked just below."""
    names = [s.name for s in signal.states]
    out: list[str] = []
    while name in names and name not in out:
        out.append(name)
        index = names.index(name)
        weaker = signal.states[index].weaker
        name = weaker if weaker is not None else (names[index - 1] if index else signal.initial)
    return out


def supporters(signal: Signal, name: str) -> list[str]:
    """The states whose reports support `name` (itself included)."""
    return [s.name for s in signal.states if name in implied(signal, s.name)]


class Tally:
    """The reports on one state within its window, counted by outlet and by story."""

    def __init__(self, within: timedelta | None) -> None:
        self.within = within
        self.items: deque[Observation] = deque()
        self._outlets = {"for": Counter[str](), "against": Counter[str]()}
        self._stories = {"for": Counter[str](), "against": Counter[str]()}

    def add(self, item: Observation) -> None:
        self.items.append(item)
        self._outlets[item.polarity][item.outlet] += 1
        self._stories[item.polarity][item.story] += 1

    def slide(self, moment: datetime) -> None:
        """Drop the reports that fell out of the window ending at `moment`."""
        if self.within is None:
            return
        start = moment - self.within
        items = self.items
        while items and items[0].published <= start:
            item = items.popleft()
            for counter, value in (
                (self._outlets[item.polarity], item.outlet),
                (self._stories[item.polarity], item.story),
            ):
                counter[value] -= 1
                if not counter[value]:
                    del counter[value]

    def count(self, polarity: str) -> tuple[int, int]:
        """Distinct outlets and stories reporting for (or against) the state."""
        return len(self._outlets[polarity]), len(self._stories[polarity])

    def net(self) -> tuple[int, int]:
        """Outlets and stories for, minus those against."""
        (for_outlets, for_stories), (against_outlets, against_stories) = (
            self.count("for"),
            self.count("against"),
        )
        return for_outlets - against_outlets, for_stories - against_stories

    def reports(self, polarity: str) -> list[Observation]:
        return [item for item in self.items if item.polarity == polarity]


def enters(spec: StateDef | Corroboration, tally: Tally) -> bool:
    outlets, stories = tally.net()
    return outlets >= max(spec.min_sources, 1) and stories >= max(spec.min_stories, 1)


def opposed(tally: Tally) -> bool:
    outlets, stories = tally.net()
    return bool(tally.count("against")[0]) and outlets <= 0 and stories <= 0


class _State:
    """One state's standing during a replay."""

    def __init__(self, spec: StateDef, rank: int, corroborated_by: str | None) -> None:
        self.spec, self.rank = spec, rank
        self.tally = Tally(spec.within)
        # Reports of the weaker state `corroborated_by`, counted for `corroboration`.
        self.corroboration = spec.corroboration
        self.corroborated_by = corroborated_by if self.corroboration else None
        self.corroborating = Tally(self.corroboration.within if self.corroboration else None)
        self.standing = self.held = False
        self.changed_at: datetime | None = None
        self.last_support: datetime | None = None
        self.cause: tuple[Observation, ...] = ()
        self.cause_reason = "evidence"

    @property
    def hold(self) -> timedelta:
        return self.spec.hold or timedelta(0)

    def expires_at(self) -> datetime | None:
        if not self.standing or self.spec.expires is None or self.last_support is None:
            return None
        return self.last_support + self.spec.expires

    def pending_until(self) -> datetime | None:
        if self.standing == self.held or self.changed_at is None:
            return None
        return self.changed_at + self.hold

    def tallies(self) -> list[Tally]:
        return [self.tally, self.corroborating] if self.corroboration else [self.tally]

    def enters(self) -> bool:
        return enters(self.spec, self.tally) or (
            self.corroboration is not None and enters(self.corroboration, self.corroborating)
        )

    def opposed(self) -> bool:
        """Reports against it outweigh every kind of support it has."""
        return any(t.count("against")[0] for t in self.tallies()) and all(
            opposed(t) or not t.count("for")[0] for t in self.tallies()
        )

    def stand(self, moment: datetime) -> None:
        self.standing, self.changed_at = True, moment
        reports = self.tally.reports("for") if enters(self.spec, self.tally) else []
        self.cause = cite(reports or self.corroborating.reports("for"))
        self.cause_reason = "evidence" if reports else "corroborated"

    def fall(self, moment: datetime, reason: str, cause: Iterable[Observation]) -> None:
        self.standing, self.changed_at = False, moment
        self.cause, self.cause_reason = cite(cause), reason

    def status(self) -> StateStatus:
        return StateStatus(
            name=self.spec.name,
            standing=self.standing,
            held=self.held,
            since=self.changed_at,
            last_support=self.last_support,
            expires_at=self.expires_at(),
            pending_until=self.pending_until(),
            for_outlets=self.tally.count("for")[0],
            for_stories=self.tally.count("for")[1],
            against_outlets=self.tally.count("against")[0],
            against_stories=self.tally.count("against")[1],
        )


def cite(items: Iterable[Observation]) -> tuple[Observation, ...]:
    """The articles to cite: each link once, the newest MAX_CITED, oldest first."""
    unique: dict[str, Observation] = {}
    for item in sorted(items, key=chronological):
        unique.setdefault(item.link or f"{item.outlet}|{item.story}|{item.published}", item)
    return tuple(sorted(unique.values(), key=chronological)[-MAX_CITED:])


def replay(
    signal: Signal, entity: str | None, evidence: Iterable[Observation], now: datetime
) -> Timeline:
    """Walk one entity's evidence in time order and record every state change up to `now`."""
    chains = {spec.name: implied(signal, spec.name) for spec in signal.states}
    states = [
        _State(spec, rank, (chains[spec.name][1:] or [None])[0])
        for rank, spec in enumerate(signal.states, start=1)
    ]
    by_name = {s.spec.name: s for s in states}
    relevant = sorted(
        (
            e
            for e in evidence
            if e.published <= now and (e.state in by_name or e.state == signal.initial)
        ),
        key=chronological,
    )
    batches = [(at, list(items)) for at, items in groupby(relevant, key=_published)]
    committed, since = signal.initial, None
    changes: list[Change] = []
    index = 0
    while True:
        timers = [t for s in states for t in (s.expires_at(), s.pending_until()) if t is not None]
        upcoming = [*timers, batches[index][0]] if index < len(batches) else timers
        if not upcoming or min(upcoming) > now:
            break
        moment = min(upcoming)
        if index < len(batches) and batches[index][0] == moment:
            _apply(signal, states, by_name, chains, moment, batches[index][1])
            index += 1
        for s in states:
            expiry = s.expires_at()
            if expiry is not None and expiry <= moment:
                s.fall(expiry, "expired", ())
        for s in states:
            pending = s.pending_until()
            if pending is not None and pending <= moment:
                s.held = s.standing
        held = [s for s in states if s.held]
        top = max(held, key=lambda s: s.rank) if held else None
        new = top.spec.name if top else signal.initial
        if new != committed:
            old = by_name.get(committed)
            cause = top if top is not None and (old is None or top.rank > old.rank) else old
            assert cause is not None
            changes.append(
                Change(signal.id, entity, committed, new, moment, cause.cause, cause.cause_reason)
            )
            committed, since = new, moment
    for s in states:
        for tally in s.tallies():
            tally.slide(now)
    return Timeline(
        signal.id, entity, committed, since, tuple(changes), tuple(s.status() for s in states)
    )


def _apply(
    signal: Signal,
    states: list[_State],
    by_name: dict[str, _State],
    chains: dict[str, list[str]],
    moment: datetime,
    batch: list[Observation],
) -> None:
    """Take in the reports published at `moment`: stand, fall, supersede."""
    touched: dict[str, list[Observation]] = {}
    for item in batch:
        names = chains.get(item.state, []) if item.polarity == "for" else [item.state]
        for name in names:
            state = by_name.get(name)
            if state is not None and counts(state.spec, item):
                state.tally.add(item)
                touched.setdefault(name, []).append(item)
                if item.polarity == "for":
                    state.last_support = moment
        for s in states:
            if s.corroborated_by in names and s.spec.name not in names and counts(s.spec, item):
                s.corroborating.add(item)
                touched.setdefault(s.spec.name, []).append(item)
    for s in states:
        for tally in s.tallies():
            tally.slide(moment)
    fresh: list[tuple[int, list[Observation]]] = []
    initial_support = [
        e for e in batch if e.state == signal.initial and e.polarity == "for" and not e.hedged
    ]
    if initial_support:
        fresh.append((0, initial_support))
    for s in states:
        items = touched.get(s.spec.name)
        if not items:
            continue
        if s.standing and any(e.polarity == "against" for e in items) and s.opposed():
            s.fall(moment, "denied", [e for t in s.tallies() for e in t.reports("against")])
        elif not s.standing and s.enters():
            s.stand(moment)
        if s.standing and any(e.polarity == "for" for e in items):
            fresh.append((s.rank, items))
    for rank, items in fresh:
        for s in states:
            if (
                s.rank > rank
                and s.standing
                and s.spec.expires is not None
                and s.last_support is not None
                and s.last_support < moment
            ):
                s.fall(moment, "superseded", items)


def replay_signal(signal: Signal, evidence: Iterable[Observation], now: datetime) -> list[Timeline]:
    """One timeline per entity (or one for the whole signal when it has none)."""
    by_entity: dict[str | None, list[Observation]] = {e: [] for e in (signal.entities or (None,))}
    for item in evidence:
        if item.entity in by_entity:
            by_entity[item.entity].append(item)
    return [replay(signal, entity, items, now) for entity, items in by_entity.items()]


def replay_all(
    signals: Sequence[Signal],
    evidence: Callable[[str], Iterable[Observation]],
    now: datetime,
) -> dict[str, list[Timeline]]:
    """Every signal's timelines: plain signals from `evidence(signal_id)`, then aggregates."""
    timelines = {
        s.id: replay_signal(s, evidence(s.id), now) for s in signals if s.aggregate is None
    }
    for signal in signals:
        if signal.aggregate is not None and signal.aggregate.of in timelines:
            timelines[signal.id] = [replay_aggregate(signal, timelines[signal.aggregate.of])]
    return timelines


def replay_aggregate(signal: Signal, members: Sequence[Timeline]) -> Timeline:
    """An aggregate signal's timeline: how many members are in an `away` state over time.

    Its state is the highest-ranked state whose `min_count` the count reaches.
    Member changes at the same moment are taken together, so two members
    swapping places never shows as a change.
    """
    if signal.aggregate is None:
        raise ValueError(f"{signal.id} is not an aggregate signal")
    away = set(signal.aggregate.away)
    events = sorted((change for member in members for change in member.changes), key=lambda c: c.at)
    current: dict[str | None, str] = {}
    state, since = signal.initial, None
    changes: list[Change] = []
    for moment, group in groupby(events, key=lambda c: c.at):
        batch = list(group)
        for change in batch:
            current[change.entity] = change.to_state
        count = sum(1 for value in current.values() if value in away)
        new = signal.initial
        for spec in signal.states:
            if count >= (spec.min_count or 0):
                new = spec.name
        if new != state:
            cited = cite(e for change in batch for e in change.evidence)
            changes.append(Change(signal.id, None, state, new, moment, cited, "count"))
            state, since = new, moment
    return Timeline(signal.id, None, state, since, tuple(changes))


def severity_of(signal: Signal, change: Change) -> str:
    """An alert's severity: that of the higher-ranked of the two states (the initial has none)."""
    specs = {spec.name: (rank, spec) for rank, spec in enumerate(signal.states, start=1)}
    ranked = [specs[name] for name in (change.from_state, change.to_state) if name in specs]
    return max(ranked, key=lambda pair: pair[0])[1].severity if ranked else "info"
