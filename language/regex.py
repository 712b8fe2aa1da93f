"""Prefilter keys of `{regex: ...}` terms: words every match must contain.

A plain term names its words; a regular expression hides them. Without keys a
term list cannot rule out any text, and a signal that uses it is tested
against every article. So the expression is read (with the parser of Python's
`re` module) for a run of literal letters that starts a word in every match: a
run at the start of a word (after `(?<!\\w)`, `\\b`, a space, a hyphen or any
other non-letter) in the part of the expression that every match goes through,
or one such run at the head of each alternative of a group. The run's letters
are a prefix of a word of the text, so the run becomes a prefix key.

The reading is conservative: whatever it cannot follow (a class that may be a
letter, an optional part, a back-reference) ends the run or the word start, and
an expression with no such run gets no keys, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from allywatch.language.regex_tree import parse_regex
from allywatch.language.terms import LETTERS, TermKey, TermKeys, fold

if TYPE_CHECKING:  # typeshed describes the parser under its older, public names
    import sre_constants as _c
else:  # importing those warns of their deprecation
    import re._constants as _c

_WORD_CLASSES = {_c.CATEGORY_WORD, _c.CATEGORY_UNI_WORD, _c.CATEGORY_LOC_WORD}
_NON_LETTER_CLASSES = {
    _c.CATEGORY_SPACE,
    _c.CATEGORY_UNI_SPACE,
    _c.CATEGORY_DIGIT,
    _c.CATEGORY_UNI_DIGIT,
    _c.CATEGORY_NOT_WORD,
    _c.CATEGORY_UNI_NOT_WORD,
}
_WORD_STARTS = {
    _c.AT_BOUNDARY,
    _c.AT_UNI_BOUNDARY,
    _c.AT_BEGINNING,
    _c.AT_BEGINNING_STRING,
    _c.AT_BEGINNING_LINE,
}
_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", _c.MAX_REPEAT)}
_GROUPS = {_c.SUBPATTERN, getattr(_c, "ATOMIC_GROUP", _c.SUBPATTERN)}


@cache  # a vocabulary's regex terms recur in every signal that uses them
def regex_keys(source: str) -> TermKeys | None:
    """The words every match of `source` (matched case-insensitively) starts a word
    with, as prefix keys; None where the expression cannot be read for any."""
    items = parse_regex(source)
    if items is None:
        return None
    required = _scan(list(items), word_start=False).required
    if not required:
        return None
    return TermKeys(
        tuple(
            tuple(
                TermKey(fold(word), prefix=True, name=word[0].isupper()) for word in sorted(group)
            )
            for group in required
        )
    )


@dataclass
class _Scan:
    """What a sequence of regex items guarantees of its matches."""

    # Runs of letters as written (folded when they become keys).
    required: list[frozenset[str]] = field(default_factory=list)  # each: one starts a word
    leading: frozenset[str] | None = None  # keys of a run the sequence starts with
    word_start: bool = False  # whether the position after the sequence starts a word


def _scan(items: list[tuple[Any, Any]], word_start: bool) -> _Scan:
    out = _Scan()
    run: list[str] | None = None
    run_leads = False
    consumed = False

    def close(endings: frozenset[str] = frozenset({""})) -> None:
        """End the run of letters; it needs one of `endings` right after it."""
        nonlocal run
        if run:
            keys = frozenset("".join(run) + ending for ending in endings)
            out.required.append(keys)
            if run_leads:
                out.leading = keys
        run = None

    for op, av in _flatten(items):
        if op is _c.LITERAL:
            char = chr(av)
            if LETTERS.fullmatch(char):
                if run is not None:
                    run.append(char)
                elif word_start:
                    run, run_leads = [char], not consumed
                word_start = False
            else:
                close()
                word_start = True
            consumed = True
        elif op is _c.BRANCH:
            # A run goes on into the alternatives: the parser reads "(?:not|never)" as
            # "n(?:ot|ever)".
            heads = [_scan(list(alt), word_start=True).leading for alt in av[1]]
            close(
                frozenset[str]().union(*(h or () for h in heads)) if all(heads) else frozenset({""})
            )
            alternatives = [_scan(list(alt), word_start) for alt in av[1]]
            if all(a.leading for a in alternatives):
                keys = frozenset().union(*(a.leading or () for a in alternatives))
                out.required.append(keys)
                if not consumed:
                    out.leading = keys
            word_start = all(a.word_start for a in alternatives)
            consumed = True
        elif op in _REPEATS:
            close()
            low, _high, sub = av
            first = _scan(list(sub), word_start)
            ends_at_start = _scan(list(sub), False).word_start
            if low >= 1:
                out.required += first.required
                if not consumed and first.leading:
                    out.leading = first.leading
                word_start = ends_at_start
            else:
                word_start = word_start and ends_at_start
            consumed = True
        elif op is _c.ASSERT_NOT and av[0] == -1 and _is_word_class(list(av[1])):
            close()
            word_start = True
        elif op is _c.AT:
            close()
            if av in _WORD_STARTS:
                word_start = True
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            close()  # zero-width: the position's word start is unchanged
        elif op is _c.IN:
            close()
            word_start = _only_non_letters(av)
            consumed = True
        else:  # ANY, NOT_LITERAL, back-references, conditionals: anything may follow
            close()
            word_start = False
            consumed = True
    close()
    out.word_start = word_start
    return out


def _flatten(items: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Groups that are not repeated match their items in sequence: inline them."""
    flat: list[tuple[Any, Any]] = []
    for op, av in items:
        if op in _GROUPS:
            flat += _flatten(list(av[-1]))
        else:
            flat.append((op, av))
    return flat


def _is_word_class(items: list[tuple[Any, Any]]) -> bool:
    return len(items) == 1 and items[0][0] is _c.IN and _in_categories(items[0][1]) <= _WORD_CLASSES


def _in_categories(members: list[tuple[Any, Any]]) -> set[Any]:
    return {av if op is _c.CATEGORY else None for op, av in members}


def _only_non_letters(members: list[tuple[Any, Any]]) -> bool:
    """Whether a character class matches no letter."""
    for op, av in members:
        if op is _c.LITERAL:
            if LETTERS.fullmatch(chr(av)):
                return False
        elif op is _c.CATEGORY:
            if av not in _NON_LETTER_CLASSES:
                return False
        elif op is _c.RANGE:
            if any(LETTERS.fullmatch(chr(c)) for c in range(av[0], av[1] + 1)):
                return False
        else:  # NEGATE and the like: may match letters
            return False
    return True
