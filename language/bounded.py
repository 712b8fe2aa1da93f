"""Patterns with a time limit: how `{regex: ...}` terms from signal files are matched.

A regular expression written in a signal file can backtrack for ever on some
text (`(a|a)+$` against a long run of "a"), and Python's `re` cannot be
interrupted. So an expression holding such a term is compiled with the `regex`
package, whose matching functions take a `timeout` and raise TimeoutError when
it passes; here that becomes a `PatternTimeout` naming the pattern. Expressions
made of plain terms only (compiled by terms.py, linear by construction) stay on
`re`, which is as fast and needs no guard.

The limit bounds one call: one `search`, or all of one `finditer` over a text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, overload

import regex

# Seconds one matching call of a guarded pattern may take. The regex package checks
# its clock now and then, so a call may overrun this by a fraction of it.
MATCH_TIMEOUT = 0.5


class PatternTimeout(Exception):
    """A guarded pattern ran past the time limit on some text."""

    def __init__(self, source: str) -> None:
        super().__init__(f"matching took over {MATCH_TIMEOUT:g} s: {source}")
        self.source = source


class Match(Protocol):
    """What the matcher uses of a match: `re.Match[str]` or `regex.Match[str]`."""

    @overload
    def group(self, group: Literal[0] = 0, /) -> str: ...
    @overload
    def group(self, group: str | int, /) -> str | Any: ...  # Any: None for a group not taking part
    def start(self, group: int | str = 0, /) -> int: ...
    def end(self, group: int | str = 0, /) -> int: ...
    def span(self, group: int | str = 0, /) -> tuple[int, int]: ...


class Pattern(Protocol):
    """What the matcher uses of a compiled pattern: `re.Pattern` or `GuardedPattern`."""

    def search(self, string: str, pos: int = ..., endpos: int = ...) -> Match | None: ...
    def match(self, string: str, pos: int = ..., endpos: int = ...) -> Match | None: ...
    def fullmatch(self, string: str, pos: int = ..., endpos: int = ...) -> Match | None: ...
    def finditer(self, string: str, pos: int = ..., endpos: int = ...) -> Iterator[Match]: ...


_END = 2**62  # "to the end of the string", as endpos


@dataclass(frozen=True)
class GuardedPattern:
    """A `regex` pattern whose every call is bounded by MATCH_TIMEOUT."""

    source: str
    compiled: regex.Pattern[str]

    def search(self, string: str, pos: int = 0, endpos: int = _END) -> regex.Match[str] | None:
        return self._bounded(self.compiled.search, string, pos, endpos)

    def match(self, string: str, pos: int = 0, endpos: int = _END) -> regex.Match[str] | None:
        return self._bounded(self.compiled.match, string, pos, endpos)

    def fullmatch(self, string: str, pos: int = 0, endpos: int = _END) -> regex.Match[str] | None:
        return self._bounded(self.compiled.fullmatch, string, pos, endpos)

    def finditer(self, string: str, pos: int = 0, endpos: int = _END) -> Iterator[regex.Match[str]]:
        """All matches, found before returning (the limit covers the whole scan)."""
        iterator = self.compiled.finditer(string, pos, endpos, timeout=MATCH_TIMEOUT)
        try:
            return iter(list(iterator))
        except TimeoutError as exc:
            raise PatternTimeout(self.source) from exc

    def _bounded(
        self,
        method: Callable[..., regex.Match[str] | None],
        string: str,
        pos: int,
        endpos: int,
    ) -> regex.Match[str] | None:
        try:
            return method(string, pos, endpos, timeout=MATCH_TIMEOUT)
        except TimeoutError as exc:
            raise PatternTimeout(self.source) from exc


def compile_pattern(source: str, flags: int = 0, *, guarded: bool) -> Pattern:
    """`source` compiled with `re`, or with a time limit where `guarded` (it holds a
    `{regex: ...}` term). `flags`: re's flags (IGNORECASE has the same value in regex)."""
    if not guarded:
        return re.compile(source, flags)
    # As a plain int: re's flag enum in regex's flag arithmetic slows compiling by a sixth.
    return GuardedPattern(source, regex.compile(source, int(flags)))
