"""The matcher: from an article's title and summary to observations of signal states.

For each sentence of the title and the summary, each state's condition is
tested (per entity, for signals with entities). A match is then read in context,
using the cue lists of the vocabulary:

- negation close before a matched word, in the same clause ("has not
  delivered", "no Su-35s have arrived", "не поставила"), or a negated predicate
  right after the match saying that what it names has not come about ("Su-35
  deliveries to Iran have not started", "have yet to materialise", "is not
  expected", "так и не начались", "no longer in force") means the state is not
  evidenced at all; a negated predicate of any other verb leaves the claim
  standing ("Armenia's non-participation in the summit will not affect ties");
- a denial in the sentence ("Tehran denies receiving") makes the observation
  evidence *against* the state;
- speculation near the match ("may", "plans to", "talks on"), or a question,
  marks it hedged, and the report evidences only the state's `weaker` state
  (by default the one before it; a planned delivery is a deal);
- an attribution to unconfirmed sources ("reportedly", "allegedly") marks it
  hedged too, and demotes it likewise unless the state accepts hedged reports
  (its `hedged` setting); a future-tense cue ("will", "next year") demotes it
  unless the state accepts planned reports (its `future` setting), except where
  the cue is what an agreement is about ("a deal to build": `complement` cues);
  a "would" after a reporting verb is a reported "will" ("said the jets would
  be delivered"), a future cue, unless the sentence is conditional;
- a sentence framed by an attribution to unnamed sources, trailing ("Iran
  receives first Su-35 jets – media", "..., sources say", "— СМИ") or leading
  ("Report: ..."), has every match in it read as "reportedly" would be, though the
  attribution is a clause of its own, for states on a ladder of reported and
  confirmed news (a state that takes hedged reports, or one above such a state:
  "confirms ... – media" is a report, not a confirmation); elsewhere it is the
  headline's way of citing a report, and the report stands ("Power of Siberia 2
  shelved, sources say"). A named or official source ("- Tasnim", "state media
  says") frames nothing;
- cues count only in the clause of the match they qualify ("signed a
  memorandum; a contract is expected" is not hedged; "seeks an explanation after
  Armenia froze ..." is not either), and not as the tail of a hyphenated compound
  ("the long-delayed deal", "a long-awaited memorandum"); a hedge that makes up a
  whole aside, between commas or dashes, in brackets, or after a comma at the
  sentence's end ("Pashinyan, it seems, will skip the summit", "the jets, probably,
  have arrived", "Мирзоян, по всей видимости, пропустит", ", судя по всему."), is no
  clause of its own: its punctuation ends no clause, so it hedges the clause around
  it as it would without the commas. An aside with more than the hedge ("probably
  for political reasons") stays a clause of its own;
- words found by `article()` are background: a negation before them does not
  undo the sentence's claim;
- an entity's name right after a `place` cue ("the summit in Minsk"),
  hyphenated to a `modifier` cue ("the Russia-led bloc") or right before a
  `venue` cue ("the Minsk summit") is not an actor.

A report of a state tied to a recurring event is placed in time: said of a previous
occurrence ("who missed the last summit") it evidences nothing, and in a clause about
an earlier one ("a year after skipping it, Tokayev is back at the summit") it yields
to the article's other reports of the same entity (`previous` and `earlier` cues).

The initial state's own condition, where the signal file gives one, is read the
same way: its observations are evidence for the status quo ("talks continue",
"Tokayev arrives for the CSTO summit"). Per article and entity, the strongest
state evidenced is reported (a delivery implies the deal; "attended last year,
skips this one" is an absence), plus any denials, and beside it the strongest state
of another kind where the article names the occurrence: an absence from "the summit
in Minsk" is an event, a freeze of the membership a standing status, and an article
may report both; staying away from "the bloc's meetings" beside a freeze is the
freeze (see `_summarise`).

Every word these rules name is in a cue list of the vocabulary (signals/vocab/,
described in signals/README.md); the patterns that put the lists together are
in cue_patterns.py.

Matching stays cheap as signals grow: the words of an article are looked up
once in an index of the signals' anchor words (see `_Prefilter`), and only the
signals whose required term lists can all match are tested further.

`Matcher.read` also reports near-misses, for the review queue: an article that
meets a signal's `subject` ("article(csto) and entity") but evidences none of
its states, with the words that matched. A hedged report landing on the initial
state evidences nothing ("Armenia may leave the CSTO" is a near-miss); an
unhedged report of the status quo is evidence ("Tokayev arrives for the CSTO
summit" is not).
"""

from __future__ import annotations

import logging
import re
import sys
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import NamedTuple, TypeVar

from allywatch.language.bounded import Match, Pattern, PatternTimeout, compile_pattern
from allywatch.language.condition import (
    ENTITY,
    And,
    Name,
    Near,
    Node,
    Not,
    Or,
    WholeArticle,
    anchor_clauses,
    names_in,
)
from allywatch.language.model import Signal, StateDef, TermList
from allywatch.language.records import MatchedTerm, NearMiss, Observation
from allywatch.language.terms import LETTERS, WORD_CHARS, TermKey, TermKeys, fold
from allywatch.watchers.cue_patterns import CuePatterns, Segmentation
from allywatch.watchers.reading_form import (
    headline_case,
    one_script,
    without_dateline,
    without_outlet,
)
from allywatch.watchers.text import sentence_spans

log = logging.getLogger("allywatch.matcher")
_T = TypeVar("_T")

NEGATION_WINDOW = 3  # words between a negation cue and the word it negates
_CLOSER_REACH = 12  # characters before a listed name searched for the joiner closing its list
HEDGE_BEFORE = 6  # words before the first matched word in which a hedge counts
HEDGE_AFTER = 3  # ... and after the last one (where the hedge starts)
OCCURRENCE_WINDOW = 1  # words between an `earlier` or `previous` cue and the word it places
_FIELDS = ("title", "summary")
_BUCKET = 3  # prefix keys are indexed by this many first letters


# Names listed with commas ("Gazprom, CNPC sign contract", "Russia, China agree") are
# one subject, not two clauses: a comma between a capitalised word and a capitalised
# word followed by a lower-case one. A name with a digit is a model or type, not a party:
# "Algeria receives a batch of Su-35s, Iran keeps waiting" is two clauses.
_WORD_BEFORE = re.compile(r"(?:^|(?<=\s))(?P<initial>[^\W\d_])(?:[^\W\d]|['’-])*\s*$")
_WORDS_AFTER = re.compile(r"\s*(?P<initial>[^\W\d_])[\w'’-]*\s+(?P<next>[^\W\d_])")


# A hedge making up the whole of an aside (", probably,", "(по всей видимости)", "— it
# seems —") is said of the clause around it, as it would be without the punctuation: the
# aside's opening and closing punctuation end no clause. A comma or dash opens such an
# aside and a comma or dash closes it, or the sentence's end or a semicolon does (", it
# seems." leaves the comma out); a bracket is closed by its pair. An aside with more than
# the hedge ("probably for political reasons") is a clause of its own.
_ASIDE_CLOSERS = {",": ",—–-", "—": ",—–-", "–": ",—–-", "-": ",—–-", "(": ")", "[": "]"}
_ASIDE_END = re.compile(r"\s*(?:;|[.!?…]+[\"'”’»)]*(?:\s|$)|$)")  # a sentence's end
_ASIDE_STOP = re.compile(r"[;.!?…]")
_ASIDE_LONGEST = 40  # characters; no hedge is longer ("in all probability")


def _relatives(
    text: str, found: list[Match], relative: Pattern, words: list[int]
) -> list[tuple[int, int]]:
    """The relative clauses of `text` set off by commas ("Armenia, which froze its
    participation in the bloc last year, sent no one"), as word ranges: a `relative` cue
    right after a comma, up to the next punctuation, a comma or dash, in the same sentence
    (a clause-break word inside, "which accuses the bloc of failing it when Azerbaijan
    attacked,", does not end it)."""
    out: list[tuple[int, int]] = []
    punctuation = [m for m in found if not _LETTER.search(m.group())]
    for index, opening in enumerate(punctuation[:-1]):
        closing = punctuation[index + 1]
        if (
            opening.group() != ","
            or closing.group().strip() not in _RELATIVE_CLOSERS
            or _SENTENCE_END.search(text, opening.end(), closing.start())
            or relative.match(text, opening.end()) is None
        ):
            continue
        out.append((bisect_left(words, opening.end()), bisect_left(words, closing.start())))
    return out


def _names(text: str, words: list[re.Match[str]]) -> list[tuple[int, int]]:
    """Runs of two or more capitalised words (of `words`, the text's) with only spaces or
    hyphens between, as word ranges: a name of several words ("Collective Security Treaty
    Organization")."""
    out: list[tuple[int, int]] = []
    start = end = -1
    last = 0
    for index, word in enumerate(words):
        capital = word.group()[0].isupper()
        if capital and index == end and text[last : word.start()].strip(" -") == "":
            end = index + 1
        else:
            if end - start >= 2:
                out.append((start, end))
            start, end = (index, index + 1) if capital else (-1, -1)
        last = word.end()
    if end - start >= 2:
        out.append((start, end))
    return out


_RELATIVE_CLOSERS = {",", "—", "–", "-"}
_LETTER = re.compile(r"[^\W\d_]")
_SENTENCE_END = re.compile(r"[.!?…]\s")


def _hedge_asides(text: str, found: list[Match], aside: Pattern) -> set[int]:
    """The indexes in `found` (the clause breaks of `text`, in order) of the punctuation
    opening and closing hedge asides."""
    around: set[int] = set()
    for index, opening in enumerate(found):
        closers = _ASIDE_CLOSERS.get(opening.group().strip())
        if closers is None:
            continue
        closing = found[index + 1] if index + 1 < len(found) else None
        # Most asides are clauses too long for a hedge: spare them the hedge list.
        limit = opening.end() + _ASIDE_LONGEST
        if (
            (closing is None or closing.start() > limit)
            and limit < len(text)
            and _ASIDE_STOP.search(text, opening.end(), limit) is None
        ):
            continue
        hedge = aside.match(text, opening.end())
        if hedge is None:
            continue
        if (
            closing is not None
            and closing.group().strip() in closers
            and not text[hedge.end() : closing.start()].strip()
        ):
            around |= {index, index + 1}
        elif closers not in (")", "]") and _ASIDE_END.match(text, hedge.end()):
            around.add(index)
    return around


def _list_comma(text: str, found: Match) -> bool:
    if found.group() != ",":
        return False
    after = _WORDS_AFTER.match(text, found.end())
    if after is None or not after.group("initial").isupper() or not after.group("next").islower():
        return False
    before = _WORD_BEFORE.search(text, max(0, found.start() - 40), found.start())
    return before is not None and before.group("initial").isupper()


@dataclass(frozen=True)
class _Hit:
    """One term list match in the article."""

    term: str
    field: int
    start: int
    end: int
    w0: int  # index of its first word
    w1: int  # index of the word after it
    unit: int
    context: bool = False  # found by article(): background, not the sentence's claim


@dataclass
class _Unit:
    field: int
    start: int
    end: int


@dataclass
class _Document:
    texts: tuple[str, str]  # as read (see reading_form.py)
    shown: tuple[str, str]  # as written: evidence is quoted from these, at the same offsets
    vocabulary: _Words
    units: list[_Unit] = field(default_factory=list)
    words: list[list[int]] = field(default_factory=list)
    breaks: list[list[int]] = field(default_factory=list)
    phrase_breaks: list[list[int]] = field(default_factory=list)  # breaks but colons
    # Relative clauses set off by commas, as word ranges [first, last + 1) per field.
    relatives: list[list[tuple[int, int]]] = field(default_factory=list)
    # Names of several capitalised words in the summary ("the Collective Security Treaty
    # Organization"), as word ranges; none in a title, which headline case capitalises.
    names: list[list[tuple[int, int]]] = field(default_factory=list)
    cache: dict[int, list[_Hit]] = field(default_factory=dict)
    timed_out: list[tuple[str, str]] = field(default_factory=list)  # (list name, regex term)

    @classmethod
    def of(
        cls,
        texts: tuple[str, str],
        shown: tuple[str, str],
        vocabulary: _Words,
        segmentation: Segmentation,
    ) -> _Document:
        doc = cls(texts, shown, vocabulary)
        for index, text in enumerate(doc.texts):
            words = list(WORD_CHARS.finditer(text))
            doc.words.append([m.start() for m in words])
            clause_breaks = segmentation.clause_break.finditer(text)
            found = [m for m in clause_breaks if not _list_comma(text, m)]
            asides = _hedge_asides(text, found, segmentation.hedge_aside)
            found = [m for index, m in enumerate(found) if index not in asides]
            doc.breaks.append([m.start() for m in found])
            doc.phrase_breaks.append([m.start() for m in found if m.group() != ":"])
            doc.relatives.append(_relatives(text, found, segmentation.relative, doc.words[index]))
            doc.names.append(_names(text, words) if index == 1 else [])
            for start, end in sentence_spans(text, segmentation.abbreviation):
                if text[start:end].strip():
                    doc.units.append(_Unit(index, start, end))
        return doc

    def hits(self, terms: TermList) -> list[_Hit]:
        """Matches of a term list anywhere in the article (cached per list)."""
        key = id(terms)
        found = self.cache.get(key)
        if found is None:
            found = []
            if not self.vocabulary.could_match(terms):  # spares most expressions
                self.cache[key] = found
                return found
            unit_starts = [(u.field, u.start) for u in self.units]
            for index, text in enumerate(self.texts):
                words = self.words[index]
                for m in self._finditer(terms, text):
                    if m.end() == m.start():
                        continue
                    unit = bisect_right(unit_starts, (index, m.start())) - 1
                    found.append(
                        _Hit(
                            terms.name,
                            index,
                            m.start(),
                            m.end(),
                            bisect_left(words, m.start()),
                            bisect_left(words, m.end()),
                            unit,
                        )
                    )
            self.cache[key] = found
        return found

    def _finditer(self, terms: TermList, text: str) -> Iterator[Match]:
        """The list's matches in a text. Where its pattern runs past the time limit, the
        regex terms that do so alone are noted in `timed_out` and left out."""
        try:
            return terms.pattern.finditer(text)
        except PatternTimeout:
            slow = set()
            for source in terms.regex_sources:
                try:
                    compile_pattern(source, re.IGNORECASE, guarded=True).finditer(text)
                except PatternTimeout:
                    slow.add(source)
                    self.timed_out.append((terms.name, source))
            try:
                return terms.without(slow).finditer(text)
            except PatternTimeout:  # only together: the whole list is left out
                self.timed_out.append((terms.name, terms.source))
                return iter(())

    def spared_words(self, a: _Hit, b: _Hit) -> int:
        """How many of the words wholly between hits a and b do not count in their distance:
        those of relative clauses set off by commas, and all but one of each name of several
        words."""
        if a.field != b.field:
            return 0
        first, second = (a, b) if a.start <= b.start else (b, a)
        low, high = first.w1, second.w0
        clauses = [(s, e) for s, e in self.relatives[a.field] if low <= s and e <= high]
        return sum(e - s for s, e in clauses) + sum(
            e - s - 1
            for s, e in self.names[a.field]
            if low <= s and e <= high and not any(cs <= s and e <= ce for cs, ce in clauses)
        )

    def sentence(self, unit: int) -> str:
        u = self.units[unit]
        return self.shown[u.field][u.start : u.end].strip()

    def same_clause(self, field_: int, a: int, b: int, colons: bool = True) -> bool:
        """Whether no clause break lies between offsets a < b of one field (with
        `colons` false, a colon does not count: "Topic: sentence")."""
        breaks = self.breaks[field_] if colons else self.phrase_breaks[field_]
        return bisect_left(breaks, a) == bisect_left(breaks, b)


@dataclass
class _Context:
    """Evaluation of one condition on one sentence, with `entity` bound to one entity's mentions."""

    signal: Signal
    doc: _Document
    unit: int
    entity: list[_Hit]
    score: int | None = None

    def list_hits(self, name: str, anywhere: bool = False) -> list[_Hit]:
        if name == ENTITY:
            return self.entity
        hits = self.doc.hits(self.signal.terms[name])
        return hits if anywhere else [h for h in hits if h.unit == self.unit]


def _evaluate(node: Node, ctx: _Context) -> list[_Hit] | None:
    """The evidence for `node` in the context's sentence, or None if it does not hold."""
    if isinstance(node, Name):
        return ctx.list_hits(node.name) or None
    if isinstance(node, WholeArticle):
        hits = ctx.list_hits(node.item.name, anywhere=True)
        return [replace(h, context=True) for h in hits] or None
    # The entity's score (how near its mention is) comes from the parts that hold: a
    # part that fails, or one under `not`, leaves it as it was.
    score = ctx.score
    if isinstance(node, Not):
        found = _evaluate(node.item, ctx)
        ctx.score = score
        return [] if found is None else None
    if isinstance(node, And):
        out: list[_Hit] = []
        for item in node.items:
            found = _evaluate(item, ctx)
            if found is None:
                ctx.score = score
                return None
            out += found
        return out
    if isinstance(node, Or):
        union: list[_Hit] | None = None
        held = score
        for item in node.items:
            ctx.score = score
            found = _evaluate(item, ctx)
            if found is not None:
                union = (union or []) + found
                if ctx.score is not None and (held is None or ctx.score < held):
                    held = ctx.score
        ctx.score = held
        return union
    return _near(node, ctx)


def _near(node: Near, ctx: _Context) -> list[_Hit] | None:
    best: tuple[int, _Hit, _Hit] | None = None
    for a in ctx.list_hits(node.left.name):
        for b in ctx.list_hits(node.right.name):
            if node.ordered and a.start >= b.start:
                continue
            gap = max(0, b.w0 - a.w1) if a.start <= b.start else max(0, a.w0 - b.w1)
            # A relative clause between does not part them ("Armenia, which froze its
            # participation in the bloc last year, sent no one to the summit"), and a name of
            # several words is one ("turned up at the Collective Security Treaty Organization
            # summit").
            gap -= ctx.doc.spared_words(a, b)
            if gap > node.words:
                continue
            if node.clause and not (
                a.field == b.field
                and ctx.doc.same_clause(a.field, min(a.end, b.end), max(a.start, b.start), False)
            ):
                continue
            # With `entity` on one side, prefer the nearest entity, and on a tie the
            # one that comes first (the subject).
            score = 2 * gap
            if (node.left.name == ENTITY and a.start > b.start) or (
                node.right.name == ENTITY and b.start > a.start
            ):
                score += 1
            # On a tie, the words in the order the condition names them: "принял участие
            # во встрече" rather than the summit named before the subject.
            if (
                best is None
                or score < best[0]
                or score == best[0]
                and a.start < b.start
                and best[1].start > best[2].start
            ):
                best = (score, a, b)
    if best is None:
        return None
    if ENTITY in (node.left.name, node.right.name):
        ctx.score = best[0] if ctx.score is None else min(ctx.score, best[0])
    return [best[1], best[2]]


@dataclass(frozen=True)
class _Reading:
    state: str
    polarity: str
    hedged: bool
    evidence: tuple[_Hit, ...]
    earlier: bool = False  # of an event's earlier occurrence, in a clause of its own


class _Words:
    """The words of a text, folded, for telling whether a term list could match it."""

    def __init__(self, text: str) -> None:
        self.words = set(LETTERS.findall(fold(text)))
        self._starts: dict[int, set[str]] = {}
        self._could: dict[int, bool] = {}

    def starts(self, n: int) -> set[str]:
        """The words' first `n` letters."""
        found = self._starts.get(n)
        if found is None:
            found = self._starts[n] = {w[:n] for w in self.words if len(w) >= n}
        return found

    def could_match(self, terms: TermList) -> bool:
        """False where every term of the list needs a word the text lacks."""
        known = self._could.get(id(terms))
        if known is None:
            index = terms.word_index
            known = index is None or (
                not index.exact.isdisjoint(self.words)
                or any(not words.isdisjoint(self.starts(n)) for n, words in index.starts.items())
                or any(self._has_all(term) for term in index.several)
            )
            self._could[id(terms)] = known
        return known

    def _has_all(self, term: TermKeys) -> bool:
        """Whether the text has a word of each of the term's groups."""
        return all(any(self._has(key) for key in group) for group in term.groups)

    def _has(self, key: TermKey) -> bool:
        return key.word in (self.starts(len(key.word)) if key.prefix else self.words)


def _cost(clause: list[TermList]) -> tuple[int, int]:
    """How many texts a clause's key words are likely to let through: keys that are not
    names count first (common words such as "footage" or "first" are in many texts),
    then all keys; a list without keys (it can match any text) costs the most."""
    if any(terms.keys is None for terms in clause):
        return (sys.maxsize, sys.maxsize)
    keys = [key for terms in clause for term in terms.keys or () for key in term.telling]
    return (sum(not key.name for key in keys), len(keys))


class _Prefilter:
    """Which signals could match a text, judged from its words alone.

    Every state's condition implies clauses of term lists that must match (see
    `anchor_clauses`); one clause per state is indexed by its lists' key words.
    A text's words are looked up once in that index (prefix keys by their first
    letters), and only the signals found there have their clauses checked,
    against the same words. Signals' subjects are indexed alike, as entries of
    their own after the signals' states, so one look-up serves both.
    """

    def __init__(self, signals: Sequence[Signal]) -> None:
        # Entries: (signal, conditions), each signal's states, then each signal's subject.
        self.entries = [(s, list(s.conditions.values())) for s in signals]
        self.first_subject = len(self.entries)
        self.entries += [(s, [s.subject]) for s in signals if s.subject is not None]
        self.exact: dict[str, set[int]] = {}
        self.prefix: dict[str, dict[str, set[int]]] = {}  # first letters -> key -> entries
        self.always: set[int] = set()
        # Per entry, per condition: clauses as lists of term lists (one must match).
        self.requirements: list[list[list[list[TermList]]]] = []
        for index, (signal, conditions) in enumerate(self.entries):
            states = []
            for node in conditions:
                anchors = anchor_clauses(node, partial(self._named_cost, signal))
                clauses = [self._lists(signal, clause) for clause in anchors]
                states.append(clauses)
                indexed = self._choose(clauses)
                if indexed is None:
                    self.always.add(index)
                    continue
                for terms in indexed:
                    for term in terms.keys or ():
                        for key in term.telling:
                            if key.prefix:
                                bucket = self.prefix.setdefault(key.word[:_BUCKET], {})
                                bucket.setdefault(key.word, set()).add(index)
                            else:
                                self.exact.setdefault(key.word, set()).add(index)
            self.requirements.append(states)
        self.short = sorted({b for b in self.prefix if len(b) < _BUCKET}, key=len)

    @staticmethod
    def _lists(signal: Signal, names: frozenset[str]) -> list[TermList]:
        out: list[TermList] = []
        for name in sorted(names):
            if name == ENTITY:
                out += signal.entity_terms.values()
            else:
                out.append(signal.terms[name])
        return out

    def _named_cost(self, signal: Signal, names: frozenset[str]) -> tuple[int, int]:
        return _cost(self._lists(signal, names))

    @staticmethod
    def _choose(clauses: list[list[TermList]]) -> list[TermList] | None:
        """The clause to index: every list keyed; the cheapest keys (see `_cost`)."""
        usable = [c for c in clauses if all(t.keys is not None for t in c)]
        if not usable:
            return None
        return min(usable, key=_cost)

    def candidates(self, words: _Words, subjects: bool) -> tuple[list[Signal], list[Signal]]:
        """The signals whose states could match the text, and (with `subjects`) those
        whose subject it could meet."""
        touched = set(self.always)
        exact, prefix = self.exact.get, self.prefix.get
        for word in words.words:
            found = exact(word)
            if found:
                touched |= found
            bucket = prefix(word[:_BUCKET])
            if bucket:
                for key, signals in bucket.items():
                    if word.startswith(key):
                        touched |= signals
        for head in self.short:  # prefix keys shorter than a bucket's name
            for key, signals in self.prefix[head].items():
                if any(word.startswith(key) for word in words.words):
                    touched |= signals
        if not subjects:
            touched = {i for i in touched if i < self.first_subject}
        if not touched:
            return [], []
        could_match = words.could_match
        matching = [
            i
            for i in sorted(touched)
            if any(
                all(any(could_match(t) for t in clause) for clause in clauses)
                for clauses in self.requirements[i]
            )
        ]
        return (
            [self.entries[i][0] for i in matching if i < self.first_subject],
            [self.entries[i][0] for i in matching if i >= self.first_subject],
        )


class Reading(NamedTuple):
    """What the matcher read in one article: the states it evidences, and the signals
    whose subject it meets without evidencing any of their states."""

    observations: list[Observation]
    near_misses: list[NearMiss]


class Matcher:
    """Matches articles against a fixed set of signals (aggregate signals are skipped)."""

    def __init__(self, signals: Sequence[Signal]) -> None:
        self.signals = [s for s in signals if s.aggregate is None]
        self._prefilter = _Prefilter(self.signals)
        self._segmentation = Segmentation.of(self.signals)
        self._patterns = {id(s): CuePatterns.of(s.cues) for s in self.signals}

    def sentences(self, text: str) -> list[str]:
        """The sentences of a plain text, as the matcher reads them."""
        spans = sentence_spans(text, self._segmentation.abbreviation)
        return [text[a:b].strip() for a, b in spans if text[a:b].strip()]

    def match(self, title: str, summary: str) -> list[Observation]:
        """Observations the article evidences; plain text in (run html_to_text first)."""
        return self._read(title, summary, review=False).observations

    def read(self, title: str, summary: str) -> Reading:
        """Observations the article evidences, and its near-misses (see the module's
        docstring); plain text in."""
        return self._read(title, summary, review=True)

    def _read(self, title: str, summary: str, review: bool) -> Reading:
        shown = (title, summary)
        title, summary = one_script(title), one_script(summary)
        words = _Words(f"{title}\n{summary}")
        candidates, subjects = self._prefilter.candidates(words, subjects=review)
        if not candidates and not subjects:
            return Reading([], [])
        # Only after the prefilter, which they could only make pass less often.
        segmentation = self._segmentation
        title = headline_case(
            without_outlet(title, segmentation.outlet), segmentation.headline_word
        )
        summary = without_dateline(summary)
        try:
            doc = _Document.of((title, summary), shown, words, segmentation)
        except PatternTimeout as exc:
            log.warning("matching skipped for %r: sentence splitting %s", title[:80], exc)
            return Reading([], [])
        observations: list[Observation] = []
        for signal in candidates:
            observations += _guarded(signal, doc, title, partial(self._match_signal, signal, doc))
        near_misses: list[NearMiss] = []
        for signal in subjects:
            if not _evidenced(signal, observations):
                near_misses += _guarded(signal, doc, title, partial(self._near_miss, signal, doc))
        return Reading(observations, near_misses)

    def _near_miss(self, signal: Signal, doc: _Document) -> list[NearMiss]:
        """The article as a near-miss of the signal ([] when it does not meet its subject),
        with the subject's words and the states' words in the sentences meeting it."""
        assert signal.subject is not None
        uses_entity = ENTITY in names_in(signal.subject)
        met = False
        entities: set[str] = set()
        hits: list[_Hit] = []
        units: set[int] = set()
        for unit in range(len(doc.units)):
            present = self._actors(signal, doc, unit) if uses_entity else [(None, [])]
            for name, mentions in present:
                evidence = _evaluate(signal.subject, _Context(signal, doc, unit, mentions))
                if evidence is not None:
                    met = True
                    hits += evidence
                    units.add(unit)
                    if name is not None:
                        entities.add(name)
        if not met:
            return []
        for terms in signal.terms.values():
            hits += [h for h in doc.hits(terms) if h.unit in units]
        hits = [replace(h, context=False) for h in hits]  # each word once, background or not
        entity = next(iter(entities)) if len(entities) == 1 else None
        return [NearMiss(signal.id, entity, _matched_terms(hits, doc))]

    def _match_signal(self, signal: Signal, doc: _Document) -> list[Observation]:
        patterns = self._patterns[id(signal)]
        readings: dict[str | None, list[_Reading]] = {}
        defined = (signal.status_quo, *signal.states) if signal.status_quo else signal.states
        for unit in range(len(doc.units)):
            present = self._actors(signal, doc, unit)
            for state in defined:
                condition = signal.conditions[state.name]
                results = []
                for name, mentions in present:
                    ctx = _Context(signal, doc, unit, mentions)
                    evidence = _evaluate(condition, ctx)
                    if evidence is not None:
                        results.append((ctx.score or 0, name, evidence))
                if not results:
                    continue
                best = min(score for score, _, _ in results)
                nearest = {n for score, n, _ in results if score == best}
                chosen = _coordinated(doc, patterns, nearest, present)
                for _, name, evidence in results:
                    if name in chosen:
                        match = _Match(signal, patterns, doc, unit, evidence)
                        reading = _read(match, state.name)
                        if reading is not None and state.event is not None:
                            reading = _of_occurrence(match, reading)
                        if reading is not None:
                            readings.setdefault(name, []).append(reading)
        return [
            obs for name, found in readings.items() for obs in _summarise(signal, name, found, doc)
        ]

    def _actors(
        self, signal: Signal, doc: _Document, unit: int
    ) -> list[tuple[str | None, list[_Hit]]]:
        """The entities mentioned in a sentence as actors, with their mentions.

        A mention inside a longer matched term ("Russia-led alliance") does not
        count, nor, when entities are actors, one right after a place cue ("the
        summit in Minsk"), hyphenated to a modifier cue ("Moscow-led bloc") or right
        before a venue cue ("the Minsk summit").

        An `entity_anaphor` cue ("the republic", "республика") mentions the entity named last
        before it: in its own sentence ("Tajikistan's president stayed home; the republic was
        represented by the speaker"), else in the nearest sentence before that names any,
        the mention that comes last ("Саммит прошёл без Армении. Республика делегацию не
        направила."). Not where that mention is one of a list ("bilateral drills with Moscow
        and Dushanbe. The republic ..."): a singular word cannot tell which one it means.
        """
        if not signal.entities:
            return [(None, [])]
        named = _named_actors(signal, doc, unit)
        if signal.entity_role != "actor":
            return named
        anaphors = [h for h in doc.hits(signal.cues["entity_anaphor"]) if h.unit == unit]
        if not anaphors:
            return named
        if named:  # each refers to the entity mentioned last before it in the sentence
            mentions = dict(named)
            # A possessive is background to the clause it stands in, told of the entity
            # already named ("..., calling it a consequence of the country's frozen
            # membership"): it adds no mention.
            for anaphor in anaphors:
                if _POSSESSIVE.match(doc.texts[anaphor.field], anaphor.end):
                    continue
                last = _last_mention(named, anaphor.start)
                if last is not None and not self._listed(signal, doc, *last):
                    mentions[last[0]] = [*mentions[last[0]], anaphor]
            return list(mentions.items())
        for earlier in range(unit - 1, -1, -1):
            last = _last_mention(_named_actors(signal, doc, earlier))
            if last is not None:
                return named if self._listed(signal, doc, *last) else [(last[0], anaphors)]
        return named

    def _listed(self, signal: Signal, doc: _Document, name: str | None, mention: _Hit) -> bool:
        """Whether an entity's mention is one of a list with another entity's, an actor or
        not ("with Moscow and Dushanbe")."""
        patterns = self._patterns[id(signal)]
        return any(
            other.unit == mention.unit and _joined(doc, patterns, mention, other)
            for other_name, terms in signal.entity_terms.items()
            if other_name != name
            for other in doc.hits(terms)
        )


def _last_mention(
    named: list[tuple[str | None, list[_Hit]]], end: int | None = None
) -> tuple[str | None, _Hit] | None:
    """The entity mentioned last (ending at or before offset `end`, where given), with that
    mention; None where none is."""
    found = [(name, h) for name, hits in named for h in hits if end is None or h.end <= end]
    return max(found, key=lambda mention: mention[1].start, default=None)


def _named_actors(signal: Signal, doc: _Document, unit: int) -> list[tuple[str | None, list[_Hit]]]:
    """The entities a sentence names as actors, with their mentions (see `_actors`)."""
    covered = [h for terms in signal.terms.values() for h in doc.hits(terms) if h.unit == unit]
    actor = signal.entity_role == "actor"
    places = [h for h in doc.hits(signal.cues["place"]) if h.unit == unit] if actor else []
    modifiers = [h for h in doc.hits(signal.cues["modifier"]) if h.unit == unit] if actor else []
    venues = [h for h in doc.hits(signal.cues["venue"]) if h.unit == unit] if actor else []
    out: list[tuple[str | None, list[_Hit]]] = []
    for name, terms in signal.entity_terms.items():
        mentions = [
            h
            for h in doc.hits(terms)
            if h.unit == unit
            and not any(
                c.start <= h.start and h.end <= c.end and (c.end - c.start) > (h.end - h.start)
                for c in covered
            )
            and not any(p.end <= h.start and p.w1 == h.w0 for p in places)
            and not any(_attached(doc, h, m, _HYPHEN) for m in modifiers)
            and not any(_attached(doc, h, v, _JOINT) for v in venues)
        ]
        if mentions:
            out.append((name, mentions))
    return out


def _guarded(signal: Signal, doc: _Document, title: str, work: Callable[[], list[_T]]) -> list[_T]:
    """What `work` finds of one signal in the article; nothing where a cue pattern runs
    past its time limit (the signal cannot read the item). Regex terms that ran past
    theirs and were left out are logged."""
    try:
        found = work()
    except PatternTimeout as exc:
        log.warning("signal %s skipped for %r: %s", signal.id, title[:80], exc)
        found = []
    for name, source in doc.timed_out:
        log.warning(
            "signal %s, term list %s: the term {regex: %s} took over the time limit"
            " on %r and was skipped for it",
            signal.id, name, source, title[:80],
        )  # fmt: skip
    doc.timed_out.clear()
    return found


def _evidenced(signal: Signal, observations: list[Observation]) -> bool:
    """Whether the article evidences a state of the signal: any observation but a hedged
    report landing on the initial state (which evidences nothing)."""
    return any(
        o.signal == signal.id and not (o.state == signal.initial and o.hedged) for o in observations
    )


_HYPHEN = re.compile(r"\s*[-\u2010\u2011\u2012\u2013]\s*")
_POSSESSIVE = re.compile(r"['’]s?(?!\w)")
_JOINT = re.compile(r"\s*[-\u2010\u2011\u2012\u2013]?\s*")


def _attached(doc: _Document, name: _Hit, cue: _Hit, joint: re.Pattern[str]) -> bool:
    """Whether a cue follows the name, joined only by `joint` ("Russia-led", "Minsk summit")."""
    return (
        cue.field == name.field
        and cue.start >= name.end
        and joint.fullmatch(doc.texts[name.field][name.end : cue.start]) is not None
    )


def _coordinated(
    doc: _Document,
    patterns: CuePatterns,
    chosen: set[str | None],
    present: list[tuple[str | None, list[_Hit]]],
) -> set[str | None]:
    """`chosen`, plus the entities listed together with them ("Saudi Arabia, Iran and Egypt")."""
    mentions = {name: hits for name, hits in present}
    grown = True
    while grown:
        grown = False
        for name, hits in present:
            if name in chosen:
                continue
            for other in chosen:
                others = mentions.get(other, [])
                if any(_joined(doc, patterns, a, b) for a in hits for b in others):
                    chosen = chosen | {name}
                    grown = True
                    break
    return chosen


def _joined(doc: _Document, patterns: CuePatterns, a: _Hit, b: _Hit) -> bool:
    """Whether two mentions are neighbours in a list: only commas or `list_joiner` words
    ("and") between them, the first perhaps a possessive ("Kyrgyzstan's and Tajikistan's
    presidents")."""
    if a.field != b.field:
        return False
    first, second = (a, b) if a.start < b.start else (b, a)
    text = doc.texts[a.field]
    between = text[first.end : second.start]
    owner = _POSSESSIVE.match(between)
    if owner is not None:
        between = between[owner.end() :]
    if between.strip() == "," and patterns.list_closer.search(
        text, max(0, first.start - _CLOSER_REACH), first.start
    ):
        # A list closed by its "and" before the first: the comma after it starts another
        # clause ("участвовали главы МИД России и Таджикистана, армянская сторона не
        # приехала": Tajikistan is no absentee).
        return False
    return patterns.list_joiner.fullmatch(between) is not None


@dataclass
class _Match:
    """A condition match in one sentence, to be read in context."""

    signal: Signal
    patterns: CuePatterns
    doc: _Document
    unit: int
    evidence: list[_Hit]
    spans: list[tuple[int, int, int]] = field(init=False)  # (field, start, end) of the evidence

    def __post_init__(self) -> None:
        self.spans = sorted({(h.field, h.start, h.end) for h in self.evidence})


@dataclass(frozen=True)
class _Anchor:
    """Where the claim of a match lies: its first and last words."""

    first: int  # index of its first word
    last: int  # index of the word after it
    start: int  # offset of its first word
    end: int  # offset of the end of its last word
    field: int  # field of its last word

    @classmethod
    def of(cls, hits: list[_Hit]) -> _Anchor:
        first = min(h.w0 for h in hits)
        last = max(h.w1 for h in hits)
        return cls(
            first=first,
            last=last,
            start=min(h.start for h in hits if h.w0 == first),
            end=max(h.end for h in hits if h.w1 == last),
            field=next(h.field for h in hits if h.w1 == last),
        )

    def near(self, cue: _Hit) -> bool:
        return self.first - HEDGE_BEFORE <= cue.w0 <= self.last + HEDGE_AFTER


@dataclass(frozen=True)
class _Cues:
    """The cues qualifying a match."""

    hedges: list[_Hit]
    rumours: list[_Hit]
    futures: list[_Hit]
    denials: list[_Hit]

    def all(self) -> tuple[_Hit, ...]:
        return tuple(self.hedges + self.rumours + self.futures + self.denials)


def _read(match: _Match, state: str) -> _Reading | None:
    """Read a condition match in context: negated (None), denied, hedged, or plain."""
    claim = _claim(match)
    denials = _cue_hits(match, "denial")
    if not denials and _negated_claim(match, claim):
        return None
    anchor = _Anchor.of(claim or [h for h in match.evidence if h.unit == match.unit])
    hedges, futures = _hedges_and_futures(match, anchor)
    rumours = _rumours(match, state, anchor)
    return _verdict(match, state, _Cues(hedges, rumours, futures, denials))


def _claim(match: _Match) -> list[_Hit]:
    """What the sentence claims: its evidence but the entity, and but background found
    by article() ("will not finance the CSTO ..., as Yerevan's participation remains
    frozen")."""
    return [
        h
        for h in match.evidence
        if h.term not in match.signal.entity_terms and h.unit == match.unit and not h.context
    ]


def _cue_hits(match: _Match, name: str) -> list[_Hit]:
    """A cue list's matches in the match's sentence, but for words of the match itself."""
    hits = match.doc.hits(match.signal.cues[name])
    return [h for h in hits if h.unit == match.unit and not _inside(h, match.spans)]


def _negated_claim(match: _Match, claim: list[_Hit]) -> bool:
    return any(_negated(match, h) for h in _claimed(match, claim)) or _negated_after(match, claim)


def _claimed(match: _Match, claim: list[_Hit]) -> list[_Hit]:
    """The claim's words a negation may undo: not a word of the signal's subject (the
    bloc's name) standing in a clause where none of the claim's other words does, which
    names the subject there and claims nothing ("Armenia has not yet left CSTO but no
    longer participates in it": that "not" is not the freeze's)."""
    subject = match.signal.subject
    if subject is None:
        return claim
    names = names_in(subject)
    doc = match.doc
    others = [h for h in claim if h.term not in names]
    if not others:
        return claim
    return [
        h
        for h in claim
        if h.term not in names
        or any(
            o.field == h.field
            and doc.same_clause(h.field, min(h.start, o.start), max(h.start, o.start))
            for o in others
        )
    ]


def _qualifying(match: _Match, name: str, anchor: _Anchor) -> list[_Hit]:
    """A cue list's matches that qualify the match (see `_qualifies`); a cue ending a
    hyphenated compound describes a thing instead ("the long-delayed deal")."""
    return [
        h
        for h in _cue_hits(match, name)
        if _qualifies(match, anchor, h) and not _compound_tail(match.doc, h)
    ]


def _qualifies(match: _Match, anchor: _Anchor, cue: _Hit) -> bool:
    """Whether a cue near the match qualifies it: after it, only in its last clause
    ("signed a memorandum; a contract is expected") and not across a predicate of its
    own ("Yerevan, which has frozen its participation in the CSTO and is seeking new
    suppliers"); inside it, only in a clause holding part of the match ("CSTO summit:
    Putin calls for unity; Pashinyan absent"); before it, not across a `subordinator`
    ("after", "because")."""
    if not anchor.near(cue):
        return False
    doc = match.doc
    if cue.start >= anchor.end:
        if cue.field == anchor.field and match.patterns.next_predicate.search(
            doc.texts[anchor.field], anchor.end, cue.start
        ):
            return False
        return doc.same_clause(anchor.field, anchor.end, cue.start)
    subordinator = match.signal.cues["subordinator"].pattern
    if cue.start < anchor.start:
        # Not across a subordinator, before the match or before its last word ("Переговоры
        # прошли на полях саммита, на который Пашинян не приехал": the talks are no hedge
        # of who did not come).
        last = max(
            (e.start for e in match.evidence if e.unit == match.unit and e.field == cue.field),
            default=anchor.start,
        )
        if subordinator.search(doc.texts[cue.field], cue.end, max(anchor.start, last)):
            return False
    if cue.start > anchor.start:
        return any(
            e.field == cue.field
            and doc.same_clause(cue.field, min(e.start, cue.start), max(e.start, cue.start))
            for e in match.evidence
            if e.unit == match.unit
        )
    return True


def _hedges_and_futures(match: _Match, anchor: _Anchor) -> tuple[list[_Hit], list[_Hit]]:
    """The hedge and the future cues qualifying the match. A reported "would" in the
    match is a future, not a hedge; a future cue that is what was agreed is none."""
    hedges = _qualifying(match, "hedge", anchor)
    reported = [h for h in hedges if h.end <= anchor.end and _reported_will(match, h)]
    complements = match.doc.hits(match.signal.cues["complement"])
    futures = [
        h for h in _qualifying(match, "future", anchor) if not _complement(match, h, complements)
    ]
    return [h for h in hedges if h not in reported], futures + reported


def _rumours(match: _Match, state: str, anchor: _Anchor) -> list[_Hit]:
    """Attributions to unconfirmed sources qualifying the match, with the sentence's
    framing by unnamed sources for states that take such reports."""
    rumours = _qualifying(match, "rumour", anchor)
    if _takes_reports(match.signal, state):
        rumours += _attribution(match)
    return rumours


def _verdict(match: _Match, state: str, cues: _Cues) -> _Reading:
    """What the match evidences given its cues: evidence against the state when denied;
    otherwise the state, or its weaker one when hedged, a question, or reported or
    planned where the state does not take such reports."""
    signal = match.signal
    evidence = tuple(match.evidence) + cues.all()
    question = match.doc.sentence(match.unit).endswith("?")
    uncertain = bool(cues.hedges or cues.rumours) or question
    if cues.denials:
        return _Reading(state, "against", uncertain, evidence)
    definition = _definition(signal, state)
    final = state
    if (
        cues.hedges
        or question
        or (cues.rumours and not definition.hedged)
        or (cues.futures and not definition.future)
    ):
        final = definition.weaker or signal.initial
        weaker = signal.state(final) if final != signal.initial else None
        if (
            weaker is not None
            and weaker.hedged
            and (cues.hedges or question or (cues.futures and not weaker.future))
        ):
            # The weaker state is this one reported, which takes a report but not
            # speculation or a plan: "talks on Su-35 deliveries continue, Iran's defence
            # minister says" and "delivery planned for March" are no delivery reported.
            final = weaker.weaker or signal.initial
    accepted_future = final != signal.initial and signal.state(final).future
    hedged = uncertain or (bool(cues.futures) and not accepted_future)
    return _Reading(final, "for", hedged, evidence)


def _definition(signal: Signal, state: str) -> StateDef:
    """A state's definition; the initial state's is the status quo's entry (read only
    where the file gives one: its condition is what matched)."""
    if state == signal.initial and signal.status_quo is not None:
        return signal.status_quo
    return signal.state(state)


def _takes_reports(signal: Signal, state: str) -> bool:
    """Whether a state sits on a signal's ladder of reported and confirmed news: it
    takes hedged reports, or its `weaker` state does ("delivered" above
    "delivery-reported"). Elsewhere a headline's "– media" is its way of citing a
    report, and the report stands ("Power of Siberia 2 shelved, sources say")."""
    definition = _definition(signal, state)
    weaker = definition.weaker
    return definition.hedged or (
        weaker is not None and weaker != signal.initial and signal.state(weaker).hedged
    )


def _attribution(match: _Match) -> list[_Hit]:
    """An attribution to unnamed sources framing the whole sentence: trailing ("Iran
    receives first Su-35 jets – media", "..., sources say", "... — СМИ") or leading
    ("Report: ..."). It stands in a clause of its own, yet what it attributes is the
    sentence's claim, so it hedges every match in the sentence as "reportedly" would.
    A named outlet or an official one ("- Tasnim", "state media says") does not."""
    doc, unit = match.doc, match.unit
    u = doc.units[unit]
    text = doc.texts[u.field]
    patterns = match.patterns
    found = patterns.attribution_after.search(
        text, u.start, u.end
    ) or patterns.attribution_before.match(text, u.start, u.end)
    if found is None:
        return []
    start, end = found.span("source")
    words = doc.words[u.field]
    return [
        _Hit(
            "rumour", u.field, start, end, bisect_left(words, start), bisect_left(words, end), unit
        )
    ]


def _reported_will(match: _Match, cue: _Hit) -> bool:
    """Whether a `future_in_past` cue ("would") before the match's last word is a
    reported "will" ("a commander said the jets would be delivered soon"): after a
    `reporting_verb`, in a sentence with no `conditional` word. After the match it is
    another verb's ("said supplying jets to Iran would cross a red line")."""
    cues = match.signal.cues
    text = match.doc.texts[cue.field]
    if cues["future_in_past"].pattern.fullmatch(text, cue.start, cue.end) is None:
        return False
    u = match.doc.units[match.unit]
    return (
        cues["reporting_verb"].pattern.search(text, u.start, cue.start) is not None
        and cues["conditional"].pattern.search(text, u.start, u.end) is None
    )


def _compound_tail(doc: _Document, cue: _Hit) -> bool:
    """Whether a cue ends a hyphenated compound ("the long-delayed deal", "a long-awaited
    memorandum"): it describes the thing, it does not hedge the report."""
    text = doc.texts[cue.field]
    return (
        cue.start >= 2
        and text[cue.start - 1] in _COMPOUND_HYPHENS
        and text[cue.start - 2].isalpha()
    )


_COMPOUND_HYPHENS = "-\u2010\u2011"
_PARTNER_WORDS = 4  # at most this many words from a complement to a future cue after a partner


def _complement(match: _Match, cue: _Hit, complements: list[_Hit]) -> bool:
    """Whether a future cue is what an agreement is about ("a deal to build", "agreed to
    sell"), not a sign that the agreement lies ahead. A `passive_infinitive` ("a deal to
    be signed") is what lies ahead for the agreement itself, and a `time_ahead` puts
    what the word names ahead ("construction begins next year", "starts no earlier than
    2028"): what began or was agreed is a deed, never a date. The party agreed with may
    stand between ("an agreement with China to build")."""
    text = match.doc.texts[cue.field]
    cues = match.signal.cues
    if cues["passive_infinitive"].pattern.match(text, cue.start) or cues[
        "time_ahead"
    ].pattern.match(text, cue.start):
        return False
    return any(
        c.field == cue.field
        and c.end <= cue.start
        and (
            0 <= cue.w0 - c.w1 <= 1
            or cue.w0 - c.w1 <= _PARTNER_WORDS
            and match.patterns.with_partner.match(text, c.end) is not None
        )
        for c in complements
    )


def _inside(hit: _Hit, spans: list[tuple[int, int, int]]) -> bool:
    return any(f == hit.field and s <= hit.start and hit.end <= e for f, s, e in spans)


def _negated(match: _Match, hit: _Hit) -> bool:
    """Whether a negation cue stands just before `hit`, in the same clause (of the same
    sentence: "Нет. Армения больше не будет ..." is not negated by the "Нет")."""
    doc = match.doc
    text = doc.texts[hit.field]
    for cue in doc.hits(match.signal.cues["negation"]):
        if cue.unit != hit.unit or cue.end > hit.start or _inside(cue, match.spans):
            continue
        if hit.w0 - cue.w1 > NEGATION_WINDOW:
            continue
        if match.patterns.not_negating.match(text, cue.end):
            continue
        if doc.same_clause(hit.field, cue.end, hit.start):
            return True
    return False


def _negated_after(match: _Match, claim: list[_Hit]) -> bool:
    """Whether a negated predicate follows the match's last word and says that what the
    words name did not come about: "Su-35 deliveries to Iran have not started", "have
    yet to arrive", "так и не начались". A negated predicate of another kind leaves the
    claim standing ("Armenia's non-participation in the summit will not affect ties")."""
    if not claim:
        return False
    last = max(claim, key=lambda h: (h.field, h.end))
    text = match.doc.texts[last.field]
    patterns = match.patterns
    end = _subject_after(match, last)
    found = patterns.trailing_negation.match(text, end)
    if found is None or patterns.trailing_not_negating.match(text, found.end()):
        return False
    return (
        found.group("cease") is not None or patterns.occurrence.match(text, found.end()) is not None
    )


def _subject_after(match: _Match, last: _Hit) -> int:
    """Where a predicate after the claim's last word would start: past the entity named
    right after it, the subject in the object-first order Russian and Ukrainian use
    ("процедуру выхода из ОДКБ Армения не запускала"), else right after that word."""
    for hit in match.evidence:
        if hit.term in match.signal.entity_terms and hit.field == last.field and hit.w0 == last.w1:
            return hit.end
    return last.end


def _of_occurrence(match: _Match, reading: _Reading) -> _Reading | None:
    """A reading of a state tied to a recurring event, placed in time.

    When a `previous` cue stands beside every word of its claim ("Japarov, who missed
    the last summit, arrives in Minsk", "after boycotting last year's summit") it is
    said of an earlier occurrence and evidences nothing about this one: None. When
    one stands beside some of them ("пропустив прошлый саммит, прибыл на заседание"),
    or an `earlier` cue opens the clause of a word of its claim ("a year after
    skipping it", "having stayed away", "после бойкота"), it is marked earlier: it
    yields to the article's other readings of the entity ("A year after skipping it,
    Tokayev is back at the summit" is attending) and stands where there are none
    ("Pashinyan flies to Paris after skipping the summit").

    The clauses holding a word placed by a `previous` cue are about the earlier
    occurrence. When the claim's other words cover every term list of those clauses'
    words, the claim rests on them alone and is of this occurrence ("пропустив прошлый
    саммит, Жапаров прибыл на заседание ОДКБ" is attending: "прибыл на заседание"
    needs no word of the first clause; the skipping does)."""
    claim = _claim(match)
    previous = [_beside(match, "previous", h, after=True) for h in claim]
    if previous and all(previous):
        return None
    placed = [h for h, p in zip(claim, previous, strict=True) if p]
    rest = [h for h in claim if not any(_same_clause(match.doc, h, p) for p in placed)]
    if placed and rest and {h.term for h in claim} <= {h.term for h in rest}:
        claim, previous = rest, [False] * len(rest)
    if any(previous) or any(_beside(match, "earlier", h, after=False) for h in claim):
        return replace(reading, earlier=True)
    return reading


def _same_clause(doc: _Document, a: _Hit, b: _Hit) -> bool:
    """Whether two hits stand in one clause of one field."""
    if a.field != b.field:
        return False
    first, second = sorted((a, b), key=lambda h: h.start)
    return doc.same_clause(a.field, first.start, second.start)


def _beside(match: _Match, name: str, hit: _Hit, after: bool) -> bool:
    """Whether a cue of the list stands right before `hit` (at most OCCURRENCE_WINDOW
    words between), or with `after` right after it, in the same clause."""
    doc = match.doc
    for cue in _cue_hits(match, name):
        if cue.field != hit.field:
            continue
        before_it = cue.end <= hit.start and hit.w0 - cue.w1 <= OCCURRENCE_WINDOW
        if before_it and doc.same_clause(hit.field, cue.end, hit.start):
            return True
        after_it = after and cue.start >= hit.end and cue.w0 - hit.w1 <= OCCURRENCE_WINDOW
        if after_it and doc.same_clause(hit.field, hit.end, cue.start):
            return True
    return False


def _summarise(
    signal: Signal, entity: str | None, readings: list[_Reading], doc: _Document
) -> list[Observation]:
    """The states evidenced for one entity, plus any denials.

    The strongest state evidenced, and beside it the strongest of another kind (see
    `_kind`) where the article names the occurrence (`_placed`): "Pashinyan skips the
    CSTO summit in Minsk; Armenia has frozen its participation" is an absence and a
    freeze, while "Armenia will not take part in the bloc's meetings while its
    participation is frozen" is the freeze alone, and a delivery still stands for the
    deal (one kind). The initial state only where no other is evidenced. A reading of
    an earlier occurrence counts only where the article has no other for the entity."""
    rank = {name: i for i, name in enumerate(signal.state_names())}
    out: list[Observation] = []
    support = [r for r in readings if r.polarity == "for"]
    support = [r for r in support if not r.earlier] or support
    if support:
        top = max(rank[r.state] for r in support)
        out.append(_merged(signal, entity, [r for r in support if rank[r.state] == top], doc))
        kinds = {_kind(signal, r.state) for r in support if rank[r.state] == top}
        for kind in dict.fromkeys(_kind(signal, r.state) for r in support):
            of_kind = [
                r for r in support if _kind(signal, r.state) == kind and r.state != signal.initial
            ]
            if kind in kinds or not of_kind or not _placed(signal, entity, kind, doc, of_kind):
                continue
            best = max(rank[r.state] for r in of_kind)
            out.append(_merged(signal, entity, [r for r in of_kind if rank[r.state] == best], doc))
    against = [r for r in readings if r.polarity == "against"]
    for state in dict.fromkeys(r.state for r in against):
        out.append(_merged(signal, entity, [r for r in against if r.state == state], doc))
    return out


def _kind(signal: Signal, state: str) -> str | None:
    """What kind of news a state is: an occurrence of a recurring event (its `event`,
    "absent from this summit") or a standing status (None: a deal, a delivery, a freeze,
    a withdrawal). States of one kind are steps of one escalation, the stronger telling
    the weaker ("delivered" tells the deal); states of different kinds tell different
    things, and an article may tell both ("skips the summit, its membership frozen")."""
    if state == signal.initial and signal.status_quo is None:
        return None
    return _definition(signal, state).event


def _placed(
    signal: Signal, entity: str | None, kind: str | None, doc: _Document, readings: list[_Reading]
) -> bool:
    """Whether the article names an occurrence of the event `kind`: a term of its
    `places` ("Minsk", "Bishkek") other than one of the entity's own names ("Yerevan"
    for Armenia is Armenia), or a term of its `one_occurrence` among the words of a
    reading ("did not attend the meeting of the CSTO's security chiefs", "проигнорировал
    саммит"). Without either, staying away is the standing status told again ("Yerevan
    will not attend the bloc's meetings while its participation is frozen"), not an
    event of its own. A standing status (None) is always placed."""
    if kind is None:
        return True
    event = signal.events[kind]
    if event.one_occurrence is not None and any(
        _names_one(signal, event.one_occurrence, doc, r) for r in readings
    ):
        return True
    places = event.places
    if places is None:
        return False
    own = doc.hits(signal.entity_terms[entity]) if entity is not None else []
    return any(
        not any(o.field == p.field and o.start < p.end and p.start < o.end for o in own)
        for p in doc.hits(places)
    )


def _names_one(signal: Signal, one: TermList, doc: _Document, reading: _Reading) -> bool:
    """Whether a reading's words name one occurrence: a word of `one` in the clause of
    another word of the reading, not an entity's name ("did not attend the meeting", not
    "... in whose work it takes no part, Pashinyan told a session of parliament")."""
    words = [h for h in reading.evidence if not h.context and h.term not in signal.entity_terms]
    return any(
        one.pattern.search(doc.texts[h.field], h.start, h.end) is not None
        and any(
            o.field == h.field
            and (o.start, o.end) != (h.start, h.end)
            and doc.same_clause(h.field, min(o.start, h.start), max(o.start, h.start))
            for o in words
        )
        for h in words
    )


def _merged(
    signal: Signal, entity: str | None, readings: list[_Reading], doc: _Document
) -> Observation:
    """One observation from the readings of one state: all their evidence; hedged
    only if every sentence saying so was hedged."""
    unhedged = [r for r in readings if not r.hedged]
    kept = unhedged or readings
    evidence = tuple(h for r in kept for h in r.evidence)
    return _observation(
        signal, entity, _Reading(kept[0].state, kept[0].polarity, not unhedged, evidence), doc
    )


def _observation(
    signal: Signal, entity: str | None, reading: _Reading, doc: _Document
) -> Observation:
    return Observation(
        signal=signal.id,
        entity=entity,
        state=reading.state,
        polarity=reading.polarity,  # type: ignore[arg-type]
        hedged=reading.hedged,
        evidence=_matched_terms(reading.evidence, doc),
    )


def _matched_terms(found: Sequence[_Hit], doc: _Document) -> tuple[MatchedTerm, ...]:
    """Matches as evidence, each once, in the order they stand."""
    hits = sorted(set(found), key=lambda h: (h.field, h.start, h.end))
    return tuple(
        MatchedTerm(
            term=h.term,
            text=doc.shown[h.field][h.start : h.end],
            field=_FIELDS[h.field],  # type: ignore[arg-type]
            start=h.start,
            end=h.end,
            sentence=doc.sentence(h.unit),
        )
        for h in hits
    )
