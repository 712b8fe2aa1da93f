"""Shapes of regular expressions that backtrack catastrophically, found before matching.

A repeat over a body that can itself match a run of text in several ways takes
time exponential in the run's length when a match fails: `(a+)+$`, `(\\w+\\s?)*$`,
`(\\d+\\w)+$` against a long run of letters or digits. The telling shape is a
nested quantifier over overlapping characters: an unbounded repeat whose body is,
apart from parts that may match nothing, one unbounded repeat, or one repeat of a
single character class followed or preceded only by single characters of that class.

The check is conservative (it finds the classic shapes, not every slow
expression); the matcher's time limit (bounded.py) covers the rest.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

from allywatch.language.regex_tree import parse_regex

if TYPE_CHECKING:  # typeshed describes the parser under its older, public names
    import sre_constants as _c
else:  # importing those warns of their deprecation
    import re._constants as _c

_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", _c.MAX_REPEAT)}
_GROUPS = {_c.SUBPATTERN, getattr(_c, "ATOMIC_GROUP", _c.SUBPATTERN)}
_ZERO_WIDTH = {_c.AT, _c.ASSERT, _c.ASSERT_NOT}
_SINGLE = {_c.LITERAL, _c.NOT_LITERAL, _c.IN, _c.ANY}
# Characters to compare classes on: Latin, Cyrillic, digits, spaces and punctuation.
_SAMPLE = "".join(map(chr, [*range(0x250), *range(0x400, 0x460), 0x2028, 0x3000, 0x4E00]))
_CATEGORIES = {
    _c.CATEGORY_DIGIT: r"\d", _c.CATEGORY_NOT_DIGIT: r"\D",
    _c.CATEGORY_SPACE: r"\s", _c.CATEGORY_NOT_SPACE: r"\S",
    _c.CATEGORY_WORD: r"\w", _c.CATEGORY_NOT_WORD: r"\W",
}  # fmt: skip


def catastrophic_shape(source: str) -> str | None:
    """What makes `source` backtrack catastrophically, or None where no known shape is found."""
    items = parse_regex(source)
    return None if items is None else _find(list(items))


def _find(items: list[tuple[Any, Any]]) -> str | None:
    for op, av in items:
        if op in _REPEATS:
            low, high, body = av
            if high == _c.MAXREPEAT and _ambiguous(_flatten(list(body))):
                return "a repeat nested in a repeat over the same characters, as in (a+)+"
            found = _find(list(body))
        elif op in _GROUPS:
            found = _find(list(av[-1]))
        elif op is _c.BRANCH:
            found = next(filter(None, (_find(list(alt)) for alt in av[1])), None)
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            found = _find(list(av[1]))
        else:
            found = None
        if found:
            return found
    return None


def _ambiguous(body: list[tuple[Any, Any]]) -> bool:
    """Whether a repeated body can split one run of text into iterations in many ways."""
    if len(body) == 1 and body[0][0] is _c.BRANCH:
        return any(_ambiguous(_flatten(list(alt))) for alt in body[0][1][1])
    for i, (op, av) in enumerate(body):
        if op not in _REPEATS or av[1] != _c.MAXREPEAT:
            continue
        rest = [(o, a) for o, a in body[:i] + body[i + 1 :] if not _nullable(o, a)]
        if not rest:
            return True
        inner = _flatten(list(av[2]))
        if len(inner) == 1 and inner[0][0] in _SINGLE:
            chars = _chars(*inner[0])
            if all(o in _SINGLE and chars & _chars(o, a) for o, a in rest):
                return True
    return False


def _flatten(items: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    flat: list[tuple[Any, Any]] = []
    for op, av in items:
        flat += _flatten(list(av[-1])) if op in _GROUPS else [(op, av)]
    return flat


def _nullable(op: Any, av: Any) -> bool:
    """Whether an item may match the empty string."""
    if op in _ZERO_WIDTH:
        return True
    if op in _REPEATS:
        return av[0] == 0 or all(_nullable(o, a) for o, a in av[2])
    if op in _GROUPS:
        return all(_nullable(o, a) for o, a in av[-1])
    if op is _c.BRANCH:
        return any(all(_nullable(o, a) for o, a in alt) for alt in av[1])
    return False


def _chars(op: Any, av: Any) -> frozenset[str]:
    """The sample characters a single-character item matches (case-insensitively)."""
    if op is _c.ANY:
        return frozenset(_SAMPLE) - {"\n"}
    if op is _c.LITERAL:
        return _folded(chr(av))
    if op is _c.NOT_LITERAL:
        return frozenset(_SAMPLE) - _folded(chr(av))
    chars: set[str] = set()
    negate = False
    for member, value in av:
        if member is _c.NEGATE:
            negate = True
        elif member is _c.LITERAL:
            chars |= _folded(chr(value))
        elif member is _c.RANGE:
            chars |= {ch for ch in _SAMPLE if value[0] <= ord(ch) <= value[1]}
        elif member is _c.CATEGORY and value in _CATEGORIES:
            chars |= _category(_CATEGORIES[value])
    return frozenset(_SAMPLE) - chars if negate else frozenset(chars)


def _folded(ch: str) -> frozenset[str]:
    return frozenset({ch, ch.lower(), ch.upper()})


@cache
def _category(escape: str) -> frozenset[str]:
    return frozenset(re.findall(escape, _SAMPLE))
