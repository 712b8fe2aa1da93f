"""The signal language's model: signals, their states, term lists and embedded tests.

These are the types the matcher (watchers/) and the rules engine (alerts/) both
read. They are built by the loader (loader.py) from signal files, or directly
in code and tests; nothing here reads a file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from allywatch.language.bounded import Pattern, compile_pattern
from allywatch.language.condition import Node
from allywatch.language.terms import TermKeys

SEVERITIES = ("info", "warning", "critical")
NO_MATCH = "no-match"


@dataclass(frozen=True)
class Aggregate:
    """A signal counting the entities of another signal that are in one of the `away` states."""

    of: str
    away: tuple[str, ...]


@dataclass(frozen=True)
class Corroboration:
    """Another way to reach a state: reports of its `weaker` state from `min_sources`
    independent outlets and `min_stories` distinct stories, within `within` (None:
    any time). "Delivered" is reached when several outlets report a delivery."""

    min_sources: int = 1
    min_stories: int = 1
    within: timedelta | None = None


@dataclass(frozen=True)
class Event:
    """A recurring event a signal's states can be tied to (a yearly summit, a parade).

    Reports of its states (any entity's) form occurrences: a report more than `gap`
    after the previous one starts the next occurrence. A state tied to the event is
    "absent from this occurrence": it ends when newer evidence says otherwise, or
    `lapses` after the occurrence's last report. `places` names where an occurrence
    is held ("the summit in Bishkek"); `one_occurrence`, the words that name a single
    one ("the summit", "заседание", not "its summits"); `label` is how `status` names
    the event.
    """

    name: str
    label: str
    gap: timedelta
    lapses: timedelta | None = None
    places: TermList | None = None
    one_occurrence: TermList | None = None


@dataclass(frozen=True)
class StateDef:
    """One non-initial state: when an article evidences it, and the evidence the state needs.

    `hedged`: whether reports attributed to unconfirmed sources ("reportedly")
    count toward this state; when not, the matcher records such a report at the
    `weaker` state instead. `future` likewise for reports of it as planned or
    scheduled ("will sign"). Speculation ("may", "plans to", "talks on") never
    evidences a state, only its weaker one. The matcher applies these settings:
    every observation it reports counts toward its state as it stands.
    """

    name: str
    when: str | None
    min_sources: int = 1
    min_stories: int = 1
    within: timedelta | None = None
    hold: timedelta | None = None
    expires: timedelta | None = None
    hedged: bool = False
    severity: str = "warning"
    min_count: int | None = None
    future: bool = False
    weaker: str | None = None
    corroboration: Corroboration | None = None
    event: str | None = None  # the name of the recurring event the state belongs to


@dataclass(frozen=True)
class TermList:
    """A term list: its terms combined into one regular expression, and their prefilter keys.

    `keys` is None when some term has no key (digits only, or a regex term with no
    literal word: see lang_regex.py), so a text cannot be ruled out by its words.
    The expression is compiled on first use: most lists are never needed by a
    command that does not match articles, and the prefilter spares most of the
    rest for most articles. Every term was checked when the list was loaded, so
    compiling cannot fail.
    """

    name: str
    terms: tuple[str, ...]
    source: str
    keys: tuple[TermKeys, ...] | None  # one per term
    # The sources of its `{regex: ...}` terms: the list is matched with a time limit.
    regex_sources: tuple[str, ...] = ()

    @cached_property
    def pattern(self) -> Pattern:
        return compile_pattern(self.source, re.IGNORECASE, guarded=bool(self.regex_sources))

    def without(self, sources: set[str]) -> Pattern:
        """The list's pattern with some of its regex terms left out (they never match)."""
        source = self.source
        for removed in sources:
            source = source.replace(f"(?:{removed})", "(?!)")
        guarded = bool(set(self.regex_sources) - sources)
        return compile_pattern(source, re.IGNORECASE, guarded=guarded)

    @cached_property
    def word_index(self) -> WordIndex | None:
        """The list's keys arranged for a quick check that it could match a text."""
        return None if self.keys is None else WordIndex.of(self.keys)


@dataclass(frozen=True)
class WordIndex:
    """A term list's keys for `could_match`: the one-word terms' keys as sets (whole words,
    and word starts by length), the terms of several words as they are."""

    exact: frozenset[str]
    starts: Mapping[int, frozenset[str]]
    several: tuple[TermKeys, ...]

    @classmethod
    def of(cls, keys: tuple[TermKeys, ...]) -> WordIndex:
        exact: set[str] = set()
        starts: dict[int, set[str]] = {}
        several = []
        for term in keys:
            if len(term.groups) > 1:
                several.append(term)
                continue
            for key in term.groups[0]:
                if key.prefix:
                    starts.setdefault(len(key.word), set()).add(key.word)
                else:
                    exact.add(key.word)
        return cls(frozenset(exact), {n: frozenset(w) for n, w in starts.items()}, tuple(several))


@dataclass(frozen=True)
class SignalTest:
    """An embedded test: a text and what the signal should make of it."""

    title: str
    summary: str
    expect: str
    entity: str | None
    polarity: str
    hedged: bool | None
    line: int
    # The labels file the test was written in (`allywatch review export`); None: the signal file.
    path: Path | None = None
    # More states the text evidences beside `expect` (`expect: [absent, suspended]`).
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Signal:
    id: str
    question: str
    initial: str
    entities: tuple[str, ...]
    states: tuple[StateDef, ...]
    aggregate: Aggregate | None
    path: Path
    terms: Mapping[str, TermList] = field(default_factory=dict, compare=False, repr=False)
    entity_terms: Mapping[str, TermList] = field(default_factory=dict, compare=False, repr=False)
    conditions: Mapping[str, Node] = field(default_factory=dict, compare=False, repr=False)
    cues: Mapping[str, TermList] = field(default_factory=dict, compare=False, repr=False)
    tests: tuple[SignalTest, ...] = field(default=(), compare=False, repr=False)
    # "actor": entities act ("Armenia skips the summit"), so a name standing as a
    # place ("the summit in Minsk") is not a mention; "place": entities are where
    # things happen ("troops in Mali").
    entity_role: str = "actor"
    # A short display name ("Su-35/Iran"); the id when the file gives none.
    label: str = ""
    # Recurring events the states may be tied to, by name.
    events: Mapping[str, Event] = field(default_factory=dict, compare=False, repr=False)
    # The initial state's own definition, where the file gives it a condition:
    # evidence for the status quo ("attends the summit", "talks continue").
    status_quo: StateDef | None = None
    # What the signal is about (`subject:`, a condition like `when`): an article meeting
    # it that evidences no state is a near-miss, kept for an analyst to review.
    subject: Node | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.id)

    def state_names(self) -> tuple[str, ...]:
        """Initial state first, then the others in rank order."""
        return (self.initial, *(s.name for s in self.states))

    def state(self, name: str) -> StateDef:
        for s in self.states:
            if s.name == name:
                return s
        raise KeyError(name)
