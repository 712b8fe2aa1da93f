"""Terms: the words and phrases of a term list, compiled to regular expressions.

A term is matched case-insensitively on word boundaries. Inside a term:

- a space stands for any run of spaces or a hyphen ("handed over", "handed-over");
- a hyphen, and the seam between letters and digits, may be written or left
  out ("Su-35" matches "Su-35", "Su 35", "Su35");
- `*` at the end of a word stands for any word ending ("deliver*");
- an apostrophe matches the typographic one too ("won't", "won’t"), and the
  Russian е matches ё.

A term written as a mapping `{regex: "..."}` is a regular expression used as
written (case-insensitive), for the rare case the plain form cannot say.

Every plain term also yields prefilter keys: words that must occur in any text
the term matches (see `TermKeys`), so that a matcher can skip a signal whose
anchor words are absent without running its expressions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import regex

from allywatch.language.backtracking import catastrophic_shape
from allywatch.language.bounded import compile_pattern

_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014"
_SEP_REQUIRED = rf"(?:\s*[{_HYPHENS}]\s*|\s+)"
_SEP_OPTIONAL = rf"(?:\s*[{_HYPHENS}]\s*|\s+)?"
_APOSTROPHES = "'\u2019\u02bc"
_PIECE = re.compile(r"[^\W\d_]+|\d+|\*|[^\w\s*]", re.UNICODE)
LETTERS = re.compile(r"[^\W\d_]+")
# A word, for counting distances: "Iran's", "Russia-led" and "Su-35" are one word each.
WORD_CHARS = re.compile(r"[^\W_]+(?:['\u2019\u2010\u2011-][^\W_]+)*")


class TermError(ValueError):
    """A term that cannot be compiled; the message says what was expected."""


@dataclass(frozen=True)
class TermKey:
    """A lower-cased word of a text (`prefix`: the start of one; `name`: written with a
    capital in the term, so likely a name, which is rarer than other words)."""

    word: str
    prefix: bool
    name: bool = False


@dataclass(frozen=True)
class TermKeys:
    """What every match of a term contains: for each group, one of its words.

    A plain term has a group of one key per word ("Power of Siberia 2": power,
    siberia); a regular expression has a group per required run of letters, with
    one key per alternative (see lang_regex.py).
    """

    groups: tuple[tuple[TermKey, ...], ...]

    @property
    def telling(self) -> tuple[TermKey, ...]:
        """The group to index a term by: names, then the longest words, are likely the
        rarest ("Mongolia" in "pipeline through Mongolia")."""
        return max(
            self.groups,
            key=lambda g: (all(k.name for k in g), min(len(k.word) for k in g), -len(g)),
        )


def fold(text: str) -> str:
    """The form prefilter keys and text words are compared in."""
    return text.lower().replace("ё", "е")


def _piece_pattern(piece: str) -> str:
    if piece in _APOSTROPHES:
        return f"[{_APOSTROPHES}]"
    out = []
    for ch in piece:
        if ch in "еЕёЁ":
            out.append("[её]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


@cache  # the vocabulary's terms recur in every signal that uses them
def compile_plain(term: str) -> tuple[str, TermKeys | None]:
    """The regex source of a plain term, and its prefilter keys (None if it has no letters)."""
    words = term.split()
    if not words:
        raise TermError("an empty term")
    word_patterns: list[str] = []
    keys: list[TermKey] = []
    for word in words:
        if "*" in word[:-1] or word == "*":
            raise TermError(f"{term!r}: '*' may only end a word, as in 'deliver*'")
        parts = re.split(f"[{_HYPHENS}]", word)
        if any(not p for p in parts):
            raise TermError(f"{term!r}: a hyphen must join two parts of a word")
        part_patterns = []
        for p_index, part in enumerate(parts):
            pieces = _PIECE.findall(part)
            pattern = ""
            prev = None
            for piece in pieces:
                if piece == "*":
                    pattern += r"\w*"
                    prev = piece
                    continue
                if prev is not None and prev != "*" and _seam(prev, piece):
                    pattern += _SEP_OPTIONAL
                pattern += _piece_pattern(piece)
                prev = piece
            part_patterns.append(pattern)
            if p_index == 0:  # later parts may be joined to letters: not a word's start
                key = _key_of(pieces, joins_letters=_next_starts_with_letter(parts, p_index))
                keys += [key] if key else []
        word_patterns.append(_SEP_OPTIONAL.join(part_patterns))
    source = word_patterns[0]
    for prev, word, pattern in zip(words, words[1:], word_patterns[1:], strict=False):
        # "Power of Siberia 2" also matches "Power of Siberia2".
        seam = _seam(prev[-1], word[0]) and prev[-1] != "*"
        source += (_SEP_OPTIONAL if seam else _SEP_REQUIRED) + pattern
    source = r"(?<!\w)" + source + r"(?!\w)"
    return source, TermKeys(tuple((key,) for key in keys)) if keys else None


def _seam(prev: str, piece: str) -> bool:
    """Whether a letters/digits seam lies between two pieces ("Su" | "35")."""
    return (prev[0].isdigit() and piece[0].isalpha()) or (prev[0].isalpha() and piece[0].isdigit())


def _next_starts_with_letter(parts: list[str], index: int) -> bool:
    return index + 1 < len(parts) and bool(LETTERS.match(parts[index + 1]))


def _key_of(pieces: list[str], joins_letters: bool) -> TermKey | None:
    """The key of a word's first letters: where only digits come before them, they
    start a word of the text (digits end words; an apostrophe may not)."""
    for i, piece in enumerate(pieces):
        if piece.isdigit():
            continue
        if LETTERS.fullmatch(piece):
            following = pieces[i + 1] if i + 1 < len(pieces) else None
            # The word may run on in the text: after a '*', where an optional hyphen
            # joins it to more letters ("Flanker-E" is also "FlankerE"), or through an
            # apostrophe that is a letter itself ("donʼt" with U+02BC is one word).
            prefix = following is not None or joins_letters
            return TermKey(fold(piece), prefix, name=piece[0].isupper())
        return None
    return None


# A lookbehind opening with a word ("(?<!он\s)"): it sees the end of any longer word too
# ("Рахмон в Москву" has "он " before "в"), unless it starts at a word boundary.
_LOOSE_LOOKBEHIND = re.compile(r"(?P<open>\(\?<[!=])(?P<word>[^\W\d_]+)(?=\\s|\s)")


@cache  # a vocabulary's regex terms recur in every signal that uses them
def compile_regex(source: str) -> str:
    """Check a `{regex: ...}` term; returns its source (TermError where it is refused)."""
    try:
        compiled = re.compile(source, re.IGNORECASE)
    except re.error as exc:
        raise TermError(f"bad regular expression {source!r}: {exc}") from exc
    if compiled.match(""):
        raise TermError(f"regular expression {source!r} matches the empty string")
    if compiled.groupindex:
        # A list's terms are joined into one expression, where names would clash.
        raise TermError(f"regular expression {source!r}: named groups are not allowed")
    if (loose := _LOOSE_LOOKBEHIND.search(source)) is not None:
        word = loose.group("word")
        raise TermError(
            f"regular expression {source!r}: the lookbehind {loose.group()}... also sees the"
            f" end of a longer word ({word!r} ends other words): start it at a word"
            f" boundary, {loose.group('open')}(?<!\\w){word}..."
        )
    shape = catastrophic_shape(source)
    if shape:
        raise TermError(f"regular expression {source!r} may take for ever to match: {shape}")
    try:
        compile_pattern(source, re.IGNORECASE, guarded=True)  # the engine it will run on
    except regex.error as exc:
        raise TermError(f"bad regular expression {source!r}: {exc}") from exc
    return source
