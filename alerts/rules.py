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
- A state tied to one of the signal's recurring events (`event`: "absent from
  this summit") belongs to an occurrence of it (see occurrences.py: the
  reports of all entities form them). It weighs only the reports of its latest
  occurrence (a report of a newer summit clears those of the older one), is
  superseded like an expiring state, and lapses `lapses` after its
  occurrence's last report (of any entity), besides its own `expires`.
  Reports for the status quo ("attends the summit") supersede when unhedged,
  or hedged too where the signal's `status_quo` says `hedged`; where the status
  quo is tied to the event, the initial state names the occurrence of its
  latest report until that lapses. An aggregate counts, at each moment, only
  members away from the latest occurrence started (see replay_aggregate).

Outlets are counted with the weight of their source's tier (`weights`; by
default an official source counts 2, any other 1; an outlet weighs as its
highest tier seen), so one official source alone can meet `min_sources` 2.
Stories count once each, whatever their tier.

A state is *held* once it has stood for its `hold` time, and released once it
has stopped standing for its `hold` time (like Prometheus `for:`), so a burst
of rumour does not flap it. The signal's state is the highest-ranked held
state, or the initial state when none is held. Every change of it is a
`Change` carrying the articles that caused it and, for a state tied to an
event, its occurrence.

The signal definitions are the signal language's own types
(allywatch.language.model), and the observations are the matcher's
(allywatch.language.records.Observation), placed in their articles: the
engine reads when each was published, its outlet, story, link, title and
its source's tier.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from operator import attrgetter
from typing import Any

from allywatch.alerts.occurrence import Occurrence
from allywatch.alerts.occurrences import EMPTY, Calendar, Series, chronological
from allywatch.alerts.tier_weights import DEFAULT_TIER_WEIGHTS
from allywatch.language.model import Corroboration, Signal, StateDef
from allywatch.language.records import Observation

# How many articles a change cites at most (the newest ones).
MAX_CITED = 20


_published = attrgetter("published")


@dataclass(frozen=True)
class Change:
    """A state change: when, from what to what, why, and the articles that carried it.

    `reason` is "evidence" (reports reached a higher state), "corroborated"
    (reports of the weaker state reached its corroboration), "denied" (reports
    against the state left), "expired", "superseded" (newer evidence for a
    lower state ended an event state), "lapsed" (its event's occurrence is long
    over), "count" (an aggregate's count changed) or "revised" (recorded when
    late evidence rewrote history; see evaluate). A "renewed" change (the same
    state, a newer occurrence) is never recorded: see Timeline.renewals.

    `occurrence` is the occurrence of the state changed to, where that state is
    tied to an event (for an aggregate: the latest occurrence, the one it counts).
    """

    signal: str
    entity: str | None
    from_state: str
    to_state: str
    at: datetime
    evidence: tuple[Observation, ...] = ()
    reason: str = "evidence"
    occurrence: Occurrence | None = None


@dataclass(frozen=True)
class StateStatus:
    """Where one state stands at the end of a replay: what `explain` shows.

    Outlets are counted with their tier weights, as toward `min_sources`.
    """

    name: str
    standing: bool
    held: bool
    since: datetime | None
    last_support: datetime | None
    expires_at: datetime | None
    lapses_at: datetime | None
    pending_until: datetime | None
    for_outlets: int
    for_stories: int
    against_outlets: int
    against_stories: int


@dataclass(frozen=True)
class Timeline:
    """An entity's (or a whole signal's) state now, since when, and how it got there.

    `occurrence` is the current state's occurrence, named as of the end of the
    replay. `renewals` are the moments a state moved to a newer occurrence without
    changing (absent from one summit, then from the next): not changes to record,
    but an aggregate counting the latest occurrence needs them.
    """

    signal: str
    entity: str | None
    state: str
    since: datetime | None
    changes: tuple[Change, ...]
    status: tuple[StateStatus, ...] = ()
    occurrence: Occurrence | None = None
    renewals: tuple[Change, ...] = ()


def counts(spec: StateDef, item: Observation) -> bool:
    """Whether a report bears on this state at all (hedged ones only where allowed)."""
    return item.polarity in ("for", "against") and (spec.hedged or not item.hedged)


def implied(signal: Signal, name: str) -> list[str]:
    """The states a report of `name` supports: itself and, down its `weaker` chain, each
    state it implies (a corroborated delivery was also reported; a reported delivery
    implies the deal). The matcher records only the strongest state of each kind an
    article evidences (an event's occurrence, a standing status: watchers/matcher.py),
    so this is how the weaker states get their support. `weaker` None means the state
    ranked just below."""
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
    """The reports on one state within its window, counted by outlet (with its tier's
    weight) and by story."""

    def __init__(
        self, within: timedelta | None, weights: Mapping[str, int] = DEFAULT_TIER_WEIGHTS
    ) -> None:
        self.within = within
        self.weights = weights
        self.items: deque[Observation] = deque()
        self.clear()

    def clear(self) -> None:
        self.items.clear()
        self._outlets = {"for": Counter[str](), "against": Counter[str]()}
        self._stories = {"for": Counter[str](), "against": Counter[str]()}
        # The reports weighing more than 1, by (outlet, weight): most weigh 1, and
        # counting outlets stays a len() while none does.
        self._heavy = {"for": Counter[tuple[str, int]](), "against": Counter[tuple[str, int]]()}

    def add(self, item: Observation) -> None:
        self.items.append(item)
        self._outlets[item.polarity][item.outlet] += 1
        self._stories[item.polarity][item.story] += 1
        weight = self.weights.get(item.tier, 1)
        if weight > 1:
            self._heavy[item.polarity][item.outlet, weight] += 1

    def slide(self, moment: datetime) -> None:
        """Drop the reports that fell out of the window ending at `moment`."""
        if self.within is None:
            return
        start = moment - self.within
        items = self.items
        while items and items[0].when <= start:
            item = items.popleft()
            counted: list[tuple[Counter[Any], object]] = [
                (self._outlets[item.polarity], item.outlet),
                (self._stories[item.polarity], item.story),
            ]
            weight = self.weights.get(item.tier, 1)
            if weight > 1:
                counted.append((self._heavy[item.polarity], (item.outlet, weight)))
            for counter, value in counted:
                counter[value] -= 1
                if not counter[value]:
                    del counter[value]

    def count(self, polarity: str) -> tuple[int, int]:
        """Outlets (each with the weight of its highest tier) and distinct stories
        reporting for (or against) the state."""
        outlets = len(self._outlets[polarity])
        heavy = self._heavy[polarity]
        if heavy:
            best: dict[str, int] = {}
            for outlet, weight in heavy:
                best[outlet] = max(best.get(outlet, weight), weight)
            outlets += sum(best.values()) - len(best)
        return outlets, len(self._stories[polarity])

    def net(self) -> tuple[int, int]:
        """Outlets and stories for, minus those against."""
        (for_outlets, for_stories), (against_outlets, against_stories) = (
            self.count("for"),
            self.count("against"),
        )
        return for_outlets - against_outlets, for_stories - against_stories

    def newest(self, polarity: str) -> list[Observation]:
        """The reports to cite for (or against) the state, as `cite` picks them; without
        sorting, as reports are taken in time order: a state that comes and goes many
        times over a long history must not sort all of it each time."""
        newest_first = (item for item in reversed(self.items) if item.polarity == polarity)
        return _newest_cited(newest_first)[::-1]


def enters(spec: StateDef | Corroboration, tally: Tally) -> bool:
    outlets, stories = tally.net()
    return outlets >= max(spec.min_sources, 1) and stories >= max(spec.min_stories, 1)


def opposed(tally: Tally) -> bool:
    outlets, stories = tally.net()
    return bool(tally.count("against")[0]) and outlets <= 0 and stories <= 0


class _State:
    """One state's standing during a replay."""

    def __init__(
        self,
        spec: StateDef,
        rank: int,
        corroborated_by: str | None,
        weights: Mapping[str, int],
        series: Series | None,
    ) -> None:
        self.spec, self.rank = spec, rank
        self.tally = Tally(spec.within, weights)
        # Reports of the weaker state `corroborated_by`, counted for `corroboration`.
        self.corroboration = spec.corroboration
        self.corroborated_by = corroborated_by if self.corroboration else None
        self.corroborating = Tally(
            self.corroboration.within if self.corroboration else None, weights
        )
        self.standing = self.held = False
        self.changed_at: datetime | None = None
        self.last_support: datetime | None = None
        self.cause: tuple[Observation, ...] = ()
        self.cause_reason = "evidence"
        # For a state tied to an event: the occurrences, the one whose reports the
        # tallies hold, and the one the state stands for.
        self.series = series
        self.counting: int | None = None
        self.occurrence: int | None = None

    @property
    def superseded_by_lower(self) -> bool:
        """Whether newer evidence for a lower state ends it: a state of one event."""
        return self.spec.expires is not None or self.series is not None

    @property
    def hold(self) -> timedelta:
        return self.spec.hold or timedelta(0)

    def expires_at(self) -> datetime | None:
        if not self.standing or self.spec.expires is None or self.last_support is None:
            return None
        return self.last_support + self.spec.expires

    def lapses_at(self, as_of: datetime) -> datetime | None:
        """When its occurrence lapses, as known at `as_of`."""
        if not self.standing or self.series is None or self.occurrence is None:
            return None
        return self.series.lapses_at(self.occurrence, as_of)

    def ending(self, moment: datetime) -> tuple[datetime, str] | None:
        """When and why it stops standing by `moment` for want of fresh reports (the
        earlier of its expiry and its occurrence's lapse)."""
        if not self.standing:
            return None
        expiry, lapse = self.expires_at(), self.lapses_at(moment)
        if lapse is not None and lapse <= moment and (expiry is None or lapse < expiry):
            return lapse, "lapsed"
        return (expiry, "expired") if expiry is not None and expiry <= moment else None

    def pending_until(self) -> datetime | None:
        if self.standing == self.held or self.changed_at is None:
            return None
        return self.changed_at + self.hold

    def reach(self, occurrence: int) -> None:
        """Take in a report of `occurrence`: reports of older ones no longer count."""
        if self.counting is None or occurrence > self.counting:
            for tally in self.tallies():
                tally.clear()
            self.counting = occurrence

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
        self._cite_support()
        self.occurrence = self.counting

    def renew(self) -> None:
        """Standing already, it is now reached for a newer occurrence."""
        self._cite_support()
        self.occurrence = self.counting

    def _cite_support(self) -> None:
        reports = self.tally.newest("for") if enters(self.spec, self.tally) else []
        self.cause = cite(reports or self.corroborating.newest("for"))
        self.cause_reason = "evidence" if reports else "corroborated"

    def fall(self, moment: datetime, reason: str, cause: Iterable[Observation]) -> None:
        self.standing, self.changed_at = False, moment
        self.cause, self.cause_reason = cite(cause), reason

    def status(self, moment: datetime) -> StateStatus:
        return StateStatus(
            name=self.spec.name,
            standing=self.standing,
            held=self.held,
            since=self.changed_at,
            last_support=self.last_support,
            expires_at=self.expires_at(),
            lapses_at=self.lapses_at(moment),
            pending_until=self.pending_until(),
            for_outlets=self.tally.count("for")[0],
            for_stories=self.tally.count("for")[1],
            against_outlets=self.tally.count("against")[0],
            against_stories=self.tally.count("against")[1],
        )


def cite(items: Iterable[Observation]) -> tuple[Observation, ...]:
    """The articles to cite: the newest MAX_CITED, each link once (its newest report),
    oldest first."""
    return tuple(_newest_cited(sorted(items, key=chronological, reverse=True))[::-1])


def _newest_cited(newest_first: Iterable[Observation]) -> list[Observation]:
    """The first MAX_CITED reports of `newest_first` with links (or stories) not seen
    before, newest first."""
    out: list[Observation] = []
    seen: set[str] = set()
    for item in newest_first:
        key = _cited_as(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
            if len(out) == MAX_CITED:
                break
    return out


def _cited_as(item: Observation) -> str:
    return item.link or f"{item.outlet}|{item.story}|{item.published}"


def replay(
    signal: Signal,
    entity: str | None,
    evidence: Iterable[Observation],
    now: datetime,
    *,
    weights: Mapping[str, int] = DEFAULT_TIER_WEIGHTS,
    calendar: Calendar | None = None,
) -> Timeline:
    """Walk one entity's evidence in time order and record every state change up to `now`.

    `calendar` holds the occurrences of the signal's events, formed from every
    entity's reports (see replay_signal); without it, from this evidence alone.
    """
    _check_weights(weights)
    names = {signal.initial, *(s.name for s in signal.states)}
    relevant = sorted(
        (e for e in evidence if e.when <= now and e.state in names), key=chronological
    )
    if calendar is None:
        calendar = Calendar.of(signal, relevant, now)
    return _Replay(signal, entity, weights, calendar).run(relevant, now)


def _check_weights(weights: Mapping[str, int]) -> None:
    if any(weight < 1 for weight in weights.values()):
        raise ValueError(f"tier weights must be 1 or more: {dict(weights)}")


class _Replay:
    """One entity's replay: its states, and the state committed so far."""

    def __init__(
        self, signal: Signal, entity: str | None, weights: Mapping[str, int], calendar: Calendar
    ) -> None:
        self.signal, self.entity, self.calendar = signal, entity, calendar
        self.chains = {spec.name: implied(signal, spec.name) for spec in signal.states}
        self.states = [
            _State(
                spec,
                rank,
                next(iter(self.chains[spec.name][1:]), None),
                weights,
                calendar.tied.get(spec.name),
            )
            for rank, spec in enumerate(signal.states, start=1)
        ]
        self.by_name = {s.spec.name: s for s in self.states}
        # The occurrence of the latest report for the status quo, where it is tied to one.
        self.quo_series = calendar.tied.get(signal.initial)
        self.quo_occurrence: int | None = None
        quo = signal.status_quo
        self.quo_hedged = quo is not None and quo.hedged

    def run(self, relevant: list[Observation], now: datetime) -> Timeline:
        signal, states = self.signal, self.states
        batches = [(at, list(items)) for at, items in groupby(relevant, key=_published)]
        committed, since = signal.initial, None
        place: tuple[Series, int] | None = None
        changes: list[Change] = []
        renewals: list[Change] = []
        index = 0
        clock = batches[0][0] if batches else now
        while True:
            timers = [
                t
                for s in states
                for t in (s.expires_at(), s.lapses_at(clock), s.pending_until())
                if t is not None
            ]
            upcoming = [*timers, batches[index][0]] if index < len(batches) else timers
            if not upcoming or min(upcoming) > now:
                break
            moment = clock = min(upcoming)
            if index < len(batches) and batches[index][0] == moment:
                self.apply(moment, batches[index][1])
                index += 1
            for s in states:
                ending = s.ending(moment)
                if ending is not None:
                    s.fall(ending[0], ending[1], ())
            for s in states:
                pending = s.pending_until()
                if pending is not None and pending <= moment:
                    s.held = s.standing
            held = [s for s in states if s.held]
            top = max(held, key=lambda s: s.rank) if held else None
            new = top.spec.name if top else signal.initial
            now_place = self.place(new, moment) if self.calendar.tied else None
            if new != committed:
                old = self.by_name.get(committed)
                cause = top if top is not None and (old is None or top.rank > old.rank) else old
                assert cause is not None
                changes.append(
                    Change(
                        signal.id,
                        self.entity,
                        committed,
                        new,
                        moment,
                        cause.cause,
                        cause.cause_reason,
                        _named(now_place, moment),
                    )
                )
                committed, since = new, moment
            elif top is not None and now_place is not None and now_place != place:
                renewals.append(
                    Change(
                        signal.id,
                        self.entity,
                        new,
                        new,
                        moment,
                        top.cause,
                        "renewed",
                        _named(now_place, moment),
                    )
                )
            place = now_place
        for s in states:
            for tally in s.tallies():
                tally.slide(now)
        return Timeline(
            signal.id,
            self.entity,
            committed,
            since,
            tuple(changes),
            tuple(s.status(now) for s in states),
            _named(self.place(committed, now) if self.calendar.tied else None, now),
            tuple(renewals),
        )

    def place(self, name: str, moment: datetime) -> tuple[Series, int] | None:
        """The occurrence state `name` belongs to at `moment`, if it is tied to one."""
        if name == self.signal.initial:
            series, index = self.quo_series, self.quo_occurrence
            if series is None or index is None:
                return None
            lapses = series.lapses_at(index, moment)
            return (series, index) if lapses is None or lapses > moment else None
        state = self.by_name[name]
        if state.series is None or state.occurrence is None:
            return None
        return state.series, state.occurrence

    def apply(self, moment: datetime, batch: list[Observation]) -> None:
        """Take in the reports published at `moment`: stand, fall, supersede."""
        signal, states, by_name, tied = self.signal, self.states, self.by_name, self.calendar.tied
        touched: dict[str, list[Observation]] = {}
        for item in batch:
            names = self.chains.get(item.state, []) if item.polarity == "for" else [item.state]
            series = tied.get(item.state)
            occurrence = series.index_at(moment) if series is not None else None
            for name in names:
                state = by_name.get(name)
                if state is not None and counts(state.spec, item):
                    if occurrence is not None and state.series is series:
                        state.reach(occurrence)
                    state.tally.add(item)
                    touched.setdefault(name, []).append(item)
                    if item.polarity == "for":
                        state.last_support = moment
            for s in states:
                if s.corroborated_by in names and s.spec.name not in names and counts(s.spec, item):
                    if occurrence is not None and s.series is series:
                        s.reach(occurrence)
                    s.corroborating.add(item)
                    touched.setdefault(s.spec.name, []).append(item)
        for s in states:
            for tally in s.tallies():
                tally.slide(moment)
        fresh: list[tuple[int, list[Observation]]] = []
        initial_support = [
            e
            for e in batch
            if e.state == signal.initial
            and e.polarity == "for"
            and (self.quo_hedged or not e.hedged)
        ]
        if initial_support:
            fresh.append((0, initial_support))
            if self.quo_series is not None:
                self.quo_occurrence = self.quo_series.index_at(moment)
        for s in states:
            items = touched.get(s.spec.name)
            if not items:
                continue
            if s.standing and any(e.polarity == "against" for e in items) and s.opposed():
                s.fall(moment, "denied", [e for t in s.tallies() for e in t.newest("against")])
            elif not s.standing and s.enters():
                s.stand(moment)
            elif s.standing and s.occurrence != s.counting and s.enters():
                s.renew()
            if s.standing and any(e.polarity == "for" for e in items):
                fresh.append((s.rank, items))
        for rank, items in fresh:
            for s in states:
                if (
                    s.rank > rank
                    and s.standing
                    and s.superseded_by_lower
                    and s.last_support is not None
                    and s.last_support < moment
                ):
                    s.fall(moment, "superseded", items)


def _named(place: tuple[Series, int] | None, moment: datetime) -> Occurrence | None:
    return place[0].occurrence(place[1], moment) if place is not None else None


def replay_signal(
    signal: Signal,
    evidence: Iterable[Observation],
    now: datetime,
    *,
    weights: Mapping[str, int] = DEFAULT_TIER_WEIGHTS,
    calendar: Calendar | None = None,
) -> list[Timeline]:
    """One timeline per entity (or one for the whole signal when it has none).

    The occurrences of the signal's events are formed from every entity's reports
    (a summit is shared): `calendar`, or found here.
    """
    if calendar is None:
        evidence = list(evidence) if signal.events else evidence
        calendar = Calendar.of(signal, evidence, now)
    by_entity: dict[str | None, list[Observation]] = {e: [] for e in (signal.entities or (None,))}
    for item in evidence:
        if item.entity in by_entity:
            by_entity[item.entity].append(item)
    return [
        replay(signal, entity, items, now, weights=weights, calendar=calendar)
        for entity, items in by_entity.items()
    ]


def replay_all(
    signals: Sequence[Signal],
    evidence: Callable[[str], Iterable[Observation]],
    now: datetime,
    *,
    weights: Mapping[str, int] = DEFAULT_TIER_WEIGHTS,
) -> dict[str, list[Timeline]]:
    """Every signal's timelines: plain signals from `evidence(signal_id)`, then aggregates."""
    timelines: dict[str, list[Timeline]] = {}
    calendars: dict[str, Calendar] = {}
    for s in signals:
        if s.aggregate is None:
            items = evidence(s.id)
            items = list(items) if s.events else items
            calendars[s.id] = Calendar.of(s, items, now)
            timelines[s.id] = replay_signal(
                s, items, now, weights=weights, calendar=calendars[s.id]
            )
    for signal in signals:
        if signal.aggregate is not None and signal.aggregate.of in timelines:
            of = signal.aggregate.of
            timelines[signal.id] = [replay_aggregate(signal, timelines[of], calendars[of])]
    return timelines


def replay_aggregate(
    signal: Signal, members: Sequence[Timeline], calendar: Calendar = EMPTY
) -> Timeline:
    """An aggregate signal's timeline: how many members are in an `away` state over time.

    Its state is the highest-ranked state whose `min_count` the count reaches.
    Member changes at the same moment are taken together, so two members
    swapping places never shows as a change.

    A member whose away state is tied to an event counts only while that state
    belongs to the event's latest occurrence started so far (from `calendar`,
    the members' signal's occurrences): members away from last year's summit no
    longer count once this year's has begun.
    """
    if signal.aggregate is None:
        raise ValueError(f"{signal.id} is not an aggregate signal")
    away = set(signal.aggregate.away)
    steps: dict[datetime, list[Change]] = {}
    for change in sorted(
        (c for member in members for c in (*member.changes, *member.renewals)),
        key=lambda c: c.at,
    ):
        steps.setdefault(change.at, []).append(change)
    for series in calendar.series.values():
        for start in series.starts:
            steps.setdefault(start, [])
    current: dict[str | None, tuple[str, Occurrence | None]] = {}
    # Per event, the latest occurrence started so far.
    latest: dict[str, Occurrence] = {}
    state, since = signal.initial, None
    changes: list[Change] = []
    for moment in sorted(steps):
        batch = steps[moment]
        opened: list[Observation] = []
        for name, index in calendar.latest(moment).items():
            series = calendar.series[name]
            if name not in latest or series.starts[index] > latest[name].start:
                latest[name] = Occurrence(
                    series.event.name, series.event.label, series.starts[index]
                )
                opened += series.opening(index) if series.starts[index] == moment else []
        for change in batch:
            current[change.entity] = (change.to_state, change.occurrence)
            occurrence = change.occurrence
            if occurrence is not None and (
                occurrence.event not in latest or occurrence.start > latest[occurrence.event].start
            ):
                latest[occurrence.event] = occurrence
        count = sum(
            1
            for value, occurrence in current.values()
            if value in away
            and (occurrence is None or occurrence.same(latest.get(occurrence.event)))
        )
        new = signal.initial
        for spec in signal.states:
            if count >= (spec.min_count or 0):
                new = spec.name
        if new != state:
            cited = cite([*(e for change in batch for e in change.evidence), *opened])
            counted = _named_at(calendar, _newest(latest), moment)
            changes.append(Change(signal.id, None, state, new, moment, cited, "count", counted))
            state, since = new, moment
    return Timeline(
        signal.id, None, state, since, tuple(changes), occurrence=_newest_of(calendar, latest)
    )


def _newest(latest: Mapping[str, Occurrence]) -> Occurrence | None:
    """The occurrence an aggregate counts: the latest started of any event."""
    return max(latest.values(), key=attrgetter("start"), default=None)


def _named_at(
    calendar: Calendar, occurrence: Occurrence | None, moment: datetime
) -> Occurrence | None:
    """The occurrence named as its reports published by `moment` name it."""
    series = calendar.series.get(occurrence.event) if occurrence is not None else None
    if occurrence is None or series is None:
        return occurrence
    index = series.index_at(occurrence.start)
    return series.occurrence(index, moment) if index is not None else occurrence


def _newest_of(calendar: Calendar, latest: Mapping[str, Occurrence]) -> Occurrence | None:
    """The latest occurrence, named by all its reports."""
    named = [o for o in (s.newest() for s in calendar.series.values()) if o is not None]
    return max(named or latest.values(), key=attrgetter("start"), default=None)


def severity_of(signal: Signal, change: Change) -> str:
    """An alert's severity: that of the higher-ranked of the two states (the initial has none)."""
    specs = {spec.name: (rank, spec) for rank, spec in enumerate(signal.states, start=1)}
    ranked = [specs[name] for name in (change.from_state, change.to_state) if name in specs]
    return max(ranked, key=lambda pair: pair[0])[1].severity if ranked else "info"
