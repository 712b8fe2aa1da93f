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

from allywatch.language.bounded import Pattern, compile_pattern
from allywatch.language.model import Signal, TermList

_NEVER = "(?!)"
# Punctuation that ends a clause: a comma, semicolon, colon, bracket or dash.
_CLAUSE_PUNCTUATION = r"[,;:()\[\]—–]|\s-\s"
_SOURCE_QUALIFIERS = 3  # at most this many words before an unnamed source: "the Iranian media"
# Closing quotes and brackets that may end a name before what is said of it: «Сила Сибири 2».
_CLOSING = r"[\"'”’»)]*"


@dataclass(frozen=True)
class Segmentation:
    """How an article is cut into sentences and clauses: the same for every signal."""

    abbreviation: Pattern  # a known abbreviation with its full stop, ending a text
    clause_break: Pattern  # punctuation or a word that starts a new clause
    # Matched right after a comma, dash or bracket: a hedge cue making up the whole of
    # an aside, up to (not including) the punctuation or sentence end that closes it.
    hedge_aside: Pattern
    # A whole word that headline case writes with a capital and that is never a name.
    headline_word: Pattern
    outlet: Pattern  # a word of a news outlet's name, anywhere in a title's last segment
    # Matched right after a comma: the word opening a relative clause set off by commas
    # ("Armenia, which froze its participation in the bloc, sent no one").
    relative: Pattern

    @classmethod
    def of(cls, signals: Sequence[Signal]) -> Segmentation:
        """From the `abbreviation`, `clause_break`, `headline_word`, `outlet` and `relative`
        lists of the signals' vocabularies (the same lists, unless the signals were loaded with
        different vocabularies), and their `hedge` lists for the asides that are no
        clause of their own."""
        guarded = any(
            signal.cues[name].regex_sources
            for signal in signals
            for name in ("abbreviation", "clause_break")
        )
        return _segmentation(
            _union(signals, "abbreviation"),
            _union(signals, "clause_break"),
            guarded,
            _union(signals, "hedge"),
            any(signal.cues["hedge"].regex_sources for signal in signals),
            _union(signals, "headline_word"),
            _union(signals, "outlet"),
            any(
                signal.cues[name].regex_sources
                for signal in signals
                for name in ("headline_word", "outlet")
            ),
            _union(signals, "relative"),
            any(signal.cues["relative"].regex_sources for signal in signals),
        )


def _union(signals: Sequence[Signal], name: str) -> str:
    sources = sorted({signal.cues[name].source for signal in signals})
    return "|".join(f"(?:{source})" for source in sources) or _NEVER


@cache
def _segmentation(
    abbreviation: str,
    clause_break: str,
    guarded: bool,
    hedge: str,
    hedge_guarded: bool,
    headline_word: str,
    outlet: str,
    title_guarded: bool,
    relative: str,
    relative_guarded: bool,
) -> Segmentation:
    return Segmentation(
        # Abbreviations are matched as written: "No." is a number, "said no." ends a sentence.
        abbreviation=compile_pattern(rf"(?:{abbreviation})\.$", guarded=guarded),
        clause_break=compile_pattern(
            rf"{_CLAUSE_PUNCTUATION}|{clause_break}", re.I, guarded=guarded
        ),
        # ", probably,", "(по всей видимости)", ", it seems." (the matcher checks which
        # punctuation closes it).
        hedge_aside=compile_pattern(
            rf"\s*(?:{hedge})(?=\s*(?:[,;)\]—–.!?…]|-\s|$))", re.I, guarded=hedge_guarded
        ),
        headline_word=compile_pattern(rf"(?:{headline_word})", re.I, guarded=title_guarded),
        outlet=compile_pattern(rf"(?:{outlet})", re.I, guarded=title_guarded),
        relative=compile_pattern(rf"\s*(?:{relative})(?!\w)", re.I, guarded=relative_guarded),
    )


@dataclass(frozen=True)
class CuePatterns:
    """A signal's patterns built of several cue lists (or of one list and punctuation)."""

    not_negating: Pattern  # right after a negation cue
    trailing_negation: Pattern  # right after the match; group "cease": `cessation`
    trailing_not_negating: Pattern  # right after a trailing negation
    occurrence: Pattern  # right after a trailing negation
    attribution_after: Pattern  # ending a sentence; group "source"
    attribution_before: Pattern  # starting a sentence; group "source"
    with_partner: Pattern  # right after a complement
    list_joiner: Pattern  # all that stands between two listed names
    list_closer: Pattern  # a joiner word ending the text before a name: the list it closes
    # A joiner and an auxiliary: a predicate of its own after the match ("... and is seeking").
    next_predicate: Pattern

    @classmethod
    def of(cls, cues: Mapping[str, TermList]) -> CuePatterns:
        """The patterns of a signal's cue lists; signals with the same lists share them."""
        sources = tuple(cues[name].source for name in _LISTS)
        return _cue_patterns(sources, any(cues[name].regex_sources for name in _LISTS))


_LISTS = (
    "not_negating", "auxiliary", "still", "trailing_negation", "cessation",
    "trailing_not_negating", "before_occurrence", "occurrence", "according_to", "source_verb",
    "source_qualifier", "unnamed_source", "with_partner", "list_joiner",
)  # fmt: skip


@cache
def _cue_patterns(sources: tuple[str, ...], guarded: bool) -> CuePatterns:
    def compiled(source: str) -> Pattern:
        return compile_pattern(source, re.I, guarded=guarded)

    c = dict(zip(_LISTS, (f"(?:{source})" for source in sources), strict=True))
    unnamed = rf"(?:{c['source_qualifier']}\s+){{0,{_SOURCE_QUALIFIERS}}}{c['unnamed_source']}"
    return CuePatterns(
        not_negating=compiled(rf"\s+{c['not_negating']}"),
        # "have not started", "has still not", "is no longer", "так и не".
        trailing_negation=compiled(
            rf"{_CLOSING}\s+(?:{c['auxiliary']}\s+)?(?:{c['still']}\s+)?"
            rf"(?:(?P<cease>{c['cessation']})|{c['trailing_negation']})"
        ),
        trailing_not_negating=compiled(rf"\s+{c['trailing_not_negating']}"),
        # "has not yet officially begun".
        occurrence=compiled(rf"(?:\s+{c['before_occurrence']})*\s+{c['occurrence']}"),
        # "... – media", "..., sources say", "..., according to reports", "...: report".
        attribution_after=compiled(
            r"(?:\s*[,:]\s*|\s+[-–—]\s*|\s*[–—]\s*)(?P<source>"
            rf"{c['according_to']}\s+{unnamed}"
            rf"|{c['source_verb']}\s+{unnamed}"
            rf"|{unnamed}(?:\s+{c['source_verb']})?"
            r")[\s.!\"'”’»)]*$"
        ),
        # "Report: ...".
        attribution_before=compiled(rf"[\s\"'“«]*(?P<source>{c['unnamed_source']})\s*:\s"),
        with_partner=compiled(rf"\s+{c['with_partner']}\s"),
        # ", ", " and ", ", and ", " & ".
        list_joiner=compiled(rf"\s*(?:[,&]\s*)?(?:{c['list_joiner']}\s*)?"),
        # "... Russia and Tajikistan, ...": the "and" before the name ends its list.
        list_closer=compiled(rf"(?<!\w){c['list_joiner']}\s+\Z"),
        next_predicate=compiled(rf"\s(?:{c['list_joiner']})\s+{c['auxiliary']}(?!\w)"),
    )
