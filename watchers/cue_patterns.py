"""The matcher's reading patterns: sentence structure around the vocabulary's cue lists.

No word of any language is written here. Each pattern is glue (spaces,
punctuation, word order, how many qualifiers) around the regular expressions of
cue lists (`TermList.source`), so a language is added with vocabulary files alone.
signals/README.md says what each cue list does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from allywatch.language.model import Signal, TermList

_NEVER = "(?!)"
# Punctuation that ends a clause: a comma, semicolon, colon, bracket or dash.
_CLAUSE_PUNCTUATION = r"[,;:()\[\]—–]|\s-\s"
_SOURCE_QUALIFIERS = 3  # at most this many words before an unnamed source: "the Iranian media"


@dataclass(frozen=True)
class Segmentation:
    """How an article is cut into sentences and clauses: the same for every signal."""

    abbreviation: re.Pattern[str]  # a known abbreviation with its full stop, ending a text
    clause_break: re.Pattern[str]  # punctuation or a word that starts a new clause

    @classmethod
    def of(cls, signals: Sequence[Signal]) -> Segmentation:
        """From the `abbreviation` and `clause_break` lists of the signals' vocabularies
        (the same lists, unless the signals were loaded with different vocabularies)."""
        return _segmentation(_union(signals, "abbreviation"), _union(signals, "clause_break"))


def _union(signals: Sequence[Signal], name: str) -> str:
    sources = sorted({signal.cues[name].source for signal in signals})
    return "|".join(f"(?:{source})" for source in sources) or _NEVER


@cache
def _segmentation(abbreviation: str, clause_break: str) -> Segmentation:
    return Segmentation(
        # Abbreviations are matched as written: "No." is a number, "said no." ends a sentence.
        abbreviation=re.compile(rf"(?:{abbreviation})\.$"),
        clause_break=re.compile(rf"{_CLAUSE_PUNCTUATION}|{clause_break}", re.I),
    )


@dataclass(frozen=True)
class CuePatterns:
    """A signal's patterns built of several cue lists (or of one list and punctuation)."""

    not_negating: re.Pattern[str]  # right after a negation cue
    trailing_negation: re.Pattern[str]  # right after the match; group "cease": `cessation`
    trailing_not_negating: re.Pattern[str]  # right after a trailing negation
    occurrence: re.Pattern[str]  # right after a trailing negation
    attribution_after: re.Pattern[str]  # ending a sentence; group "source"
    attribution_before: re.Pattern[str]  # starting a sentence; group "source"
    with_partner: re.Pattern[str]  # right after a complement
    list_joiner: re.Pattern[str]  # all that stands between two listed names

    @classmethod
    def of(cls, cues: Mapping[str, TermList]) -> CuePatterns:
        """The patterns of a signal's cue lists; signals with the same lists share them."""
        return _cue_patterns(tuple(cues[name].source for name in _LISTS))


_LISTS = (
    "not_negating", "auxiliary", "still", "trailing_negation", "cessation",
    "trailing_not_negating", "before_occurrence", "occurrence", "according_to", "source_verb",
    "source_qualifier", "unnamed_source", "with_partner", "list_joiner",
)  # fmt: skip


@cache
def _cue_patterns(sources: tuple[str, ...]) -> CuePatterns:
    c = dict(zip(_LISTS, (f"(?:{source})" for source in sources), strict=True))
    unnamed = rf"(?:{c['source_qualifier']}\s+){{0,{_SOURCE_QUALIFIERS}}}{c['unnamed_source']}"
    return CuePatterns(
        not_negating=re.compile(rf"\s+{c['not_negating']}", re.I),
        # "have not started", "has still not", "is no longer", "так и не".
        trailing_negation=re.compile(
            rf"\s+(?:{c['auxiliary']}\s+)?(?:{c['still']}\s+)?"
            rf"(?:(?P<cease>{c['cessation']})|{c['trailing_negation']})",
            re.I,
        ),
        trailing_not_negating=re.compile(rf"\s+{c['trailing_not_negating']}", re.I),
        # "has not yet officially begun".
        occurrence=re.compile(rf"(?:\s+{c['before_occurrence']})*\s+{c['occurrence']}", re.I),
        # "... – media", "..., sources say", "..., according to reports", "...: report".
        attribution_after=re.compile(
            r"(?:\s*[,:]\s*|\s+[-–—]\s*|\s*[–—]\s*)(?P<source>"
            rf"{c['according_to']}\s+{unnamed}"
            rf"|{c['source_verb']}\s+{unnamed}"
            rf"|{unnamed}(?:\s+{c['source_verb']})?"
            r")[\s.!\"'”’»)]*$",
            re.I,
        ),
        # "Report: ...".
        attribution_before=re.compile(rf"[\s\"'“«]*(?P<source>{c['unnamed_source']})\s*:\s", re.I),
        with_partner=re.compile(rf"\s+{c['with_partner']}\s", re.I),
        # ", ", " and ", ", and ", " & ".
        list_joiner=re.compile(rf"\s*(?:[,&]\s*)?(?:{c['list_joiner']}\s*)?", re.I),
    )
