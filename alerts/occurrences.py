"""Occurrences of a signal's recurring events: which summit a report is about.

The reports of the states tied to an event (the status quo's included), of every
entity of the signal, in publication order, form the event's occurrences: a
report published more than the event's `gap` after the previous one starts the
next occurrence. Every report therefore belongs to exactly one occurrence, and
which one depends only on reports published up to it: the grouping is causal,
so evaluating cycle by cycle finds the same occurrences as one replay.

An occurrence is named by its event's label, its place and its start date (the
first report's publication date): "the CSTO summit in Bishkek, 2025-11-27". The
place is the term of the event's `places` found most often in the titles of the
occurrence's reports published so far (ties go to the term seen first), so it too
is known as of a moment, never from later reports.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from operator import attrgetter

from allywatch.alerts.occurrence import Occurrence
from allywatch.language.bounded import Pattern, PatternTimeout, compile_pattern
from allywatch.language.model import Event, Signal, TermList
from allywatch.language.records import Observation
from allywatch.language.terms import compile_plain, compile_regex, fold

# Reports in time order, ties broken by everything they say: neither a replay nor the
# occurrences depend on the order they are given them.
chronological = attrgetter(
    "published", "state", "outlet", "story", "polarity", "hedged", "link", "title", "tier"
)

log = logging.getLogger("allywatch.occurrences")


class Series:
    """One event's occurrences, from the reports of the states tied to it."""

    def __init__(self, event: Event, reports: list[Observation]) -> None:
        """`reports` in chronological order."""
        self.event = event
        self._reports = reports
        self._times = [item.when for item in reports]
        # Index into the reports where each occurrence starts.
        self._firsts = [
            index
            for index, moment in enumerate(self._times)
            if not index or moment - self._times[index - 1] > event.gap
        ]
        self._starts = [self._times[index] for index in self._firsts]
        self._places: dict[int, tuple[list[datetime], list[str | None]]] = {}

    @property
    def starts(self) -> list[datetime]:
        """When each occurrence started, oldest first."""
        return self._starts

    def index_at(self, moment: datetime) -> int | None:
        """The occurrence going on at `moment` (the latest started by then), if any."""
        index = bisect_right(self._starts, moment) - 1
        return index if index >= 0 else None

    def last_report(self, index: int, as_of: datetime) -> datetime:
        """When the occurrence's latest report published by `as_of` came out."""
        low, high = self._bounds(index)
        return self._times[max(bisect_right(self._times, as_of, low, high) - 1, low)]

    def lapses_at(self, index: int, as_of: datetime) -> datetime | None:
        """When a state tied to the occurrence lapses, as known at `as_of`."""
        if self.event.lapses is None:
            return None
        return self.last_report(index, as_of) + self.event.lapses

    def occurrence(self, index: int, as_of: datetime) -> Occurrence:
        """The occurrence named as its reports published by `as_of` name it."""
        return Occurrence(
            self.event.name, self.event.label, self._starts[index], self._place(index, as_of)
        )

    def newest(self) -> Occurrence | None:
        """The latest occurrence, named by all its reports."""
        if not self._starts:
            return None
        return self.occurrence(len(self._starts) - 1, self._times[-1])

    def opening(self, index: int) -> list[Observation]:
        """The reports that started the occurrence (those published at its start)."""
        low, high = self._bounds(index)
        end = bisect_right(self._times, self._starts[index], low, high)
        return self._reports[low:end]

    def _bounds(self, index: int) -> tuple[int, int]:
        low = self._firsts[index]
        high = self._firsts[index + 1] if index + 1 < len(self._firsts) else len(self._times)
        return low, high

    def _place(self, index: int, as_of: datetime) -> str | None:
        if self.event.places is None:
            return None
        if index not in self._places:
            low, high = self._bounds(index)
            self._places[index] = _leading_places(self.event.places, self._reports[low:high])
        times, places = self._places[index]
        at = bisect_right(times, as_of) - 1
        return places[at] if at >= 0 else None


def _leading_places(
    places: TermList, reports: list[Observation]
) -> tuple[list[datetime], list[str | None]]:
    """When the leading place changed over the reports, and to what (see the module)."""
    finder = _PlaceFinder(places)
    counts: dict[int, int] = {}
    first_seen: dict[int, int] = {}
    shown: dict[int, str] = {}
    leader: int | None = None
    times: list[datetime] = []
    names: list[str | None] = []
    for item in reports:
        for term, text in finder(item.title):
            counts[term] = counts.get(term, 0) + 1
            if term not in first_seen:
                first_seen[term], shown[term] = len(first_seen), text
            if leader is None or (counts[term], -first_seen[term]) > (
                counts[leader],
                -first_seen[leader],
            ):
                leader = term
        name = shown[leader] if leader is not None else None
        if not names or names[-1] != name:
            if times and times[-1] == item.when:
                names[-1] = name
            else:
                times.append(item.when)
                names.append(name)
    return times, names


class _PlaceFinder:
    """Finds the place terms a title names, with what it needs of the list worked out once."""

    def __init__(self, places: TermList) -> None:
        self.places = places
        self.words = _key_words(places)
        self.terms = _term_patterns(places)

    def __call__(self, title: str) -> list[tuple[int, str]]:
        """The place terms a title names, each once: (term's index, how to show it).

        `{regex: ...}` place terms match with the matcher's time limit (language/bounded.py):
        a title on which one runs past it is read as naming no place, with a warning.
        """
        places, words = self.places, self.words
        if words is not None:
            folded = fold(title)
            if not any(word in folded for word in words):
                return []  # most titles name no place: no need to run the expression
        found: dict[int, str] = {}
        try:
            for match in places.pattern.finditer(title):
                text = match.group(0)
                for index, (shown, pattern) in enumerate(self.terms):
                    if pattern.fullmatch(text):
                        found.setdefault(index, shown or text)
                        break
        except PatternTimeout as exc:
            log.warning("place terms %s skipped for %r: %s", places.name, title[:80], exc)
            return []
        return list(found.items())


@cache
def _key_words(places: TermList) -> frozenset[str] | None:
    """Words one of which every place the list names contains (None: no such words)."""
    if places.keys is None:
        return None
    return frozenset(key.word for term in places.keys for key in term.telling)


@cache
def _term_patterns(places: TermList) -> list[tuple[str | None, Pattern]]:
    """Each term of the list with its own expression, and how to show a place it
    matched: a plain term without wildcards as written, others as the text says."""
    out: list[tuple[str | None, Pattern]] = []
    for term in places.terms:
        if term.startswith("regex:"):
            source = compile_regex(term[len("regex:") :])
            out.append((None, compile_pattern(source, re.IGNORECASE, guarded=True)))
        else:
            shown = None if "*" in term else term
            out.append((shown, re.compile(compile_plain(term)[0], re.IGNORECASE)))
    return out


class Calendar:
    """A signal's events and their occurrences, from the reports of all its entities."""

    def __init__(self, series: Mapping[str, Series], tied: Mapping[str, Series]) -> None:
        self.series = series  # by event name
        self.tied = tied  # by the name of a state tied to an event

    @classmethod
    def of(cls, signal: Signal, evidence: Iterable[Observation], now: datetime) -> Calendar:
        """The occurrences the evidence published by `now` forms."""
        events = {
            spec.name: spec.event
            for spec in (*signal.states, signal.status_quo)
            if spec is not None and spec.event is not None and spec.event in signal.events
        }
        if not events:
            return EMPTY
        reports: dict[str, list[Observation]] = {name: [] for name in set(events.values())}
        for item in evidence:
            event = events.get(item.state)
            if event is not None and item.when <= now:
                reports[event].append(item)
        series = {
            name: Series(signal.events[name], sorted(items, key=chronological))
            for name, items in reports.items()
        }
        return cls(series, {state: series[event] for state, event in events.items()})

    def latest(self, moment: datetime) -> dict[str, int]:
        """Per event, the index of its latest occurrence started by `moment`."""
        out = {}
        for name, series in self.series.items():
            index = series.index_at(moment)
            if index is not None:
                out[name] = index
        return out


EMPTY = Calendar({}, {})
