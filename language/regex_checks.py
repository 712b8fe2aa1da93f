"""The checks of `{regex: ...}` terms, recalled from an earlier load when given.

Checking a regex term (terms.compile_regex: compiled by `re` and by the regex
package, and read for catastrophic backtracking) and reading its prefilter keys
(regex.regex_keys) take over a millisecond a term, and the built-in pack has
hundreds of them: most of the time loading it takes. Both are functions of the
term's source alone, given the code doing them and the versions of Python and of
the regex package (`checks_version`). So a load can be handed the checks of an
earlier one (`RegexChecks(kept)`), and a term found there is not checked again.

A term not among them is checked in full, and a refused term is never among the
checks a load used, so its problem is reported every time. This module keeps
the checks in memory only, and encodes them as JSON data (`to_json`, `from_json`);
keeping them between runs, in a cache file, is allywatch/signal_cache.py's
`load_signals_keeping_checks` (language/ imports nothing else of allywatch).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import regex

from allywatch.language.regex import regex_keys
from allywatch.language.terms import TermKey, TermKeys, compile_regex

_PACKAGE = Path(__file__).resolve().parent


class RegexChecks:
    """The regex terms one load has checked: recalled from `kept` (a checked term's
    source: its prefilter keys), else checked in full."""

    def __init__(self, kept: Mapping[str, TermKeys | None] | None = None) -> None:
        self._kept = dict(kept or {})
        self._used: dict[str, TermKeys | None] = {}

    def check(self, source: str) -> tuple[str, TermKeys | None]:
        """The term's source once checked, and its prefilter keys; TermError where refused."""
        keys = self._kept[source] if source in self._kept else regex_keys(compile_regex(source))
        self._used[source] = keys
        return source, keys

    @property
    def changed(self) -> bool:
        """Whether the terms this load used are not those it was given (new terms were
        checked, or terms given were not used)."""
        return self._used.keys() != self._kept.keys()

    def to_json(self) -> dict[str, Any]:
        """The checks of the terms this load used, as plain JSON data."""
        return {source: _encode(keys) for source, keys in self._used.items()}

    @classmethod
    def from_json(cls, value: Any) -> RegexChecks:
        """Checks to recall, from what `to_json` gave; TypeError or ValueError on anything
        else."""
        if not isinstance(value, dict):
            raise TypeError(f"not a mapping of checked terms: {type(value).__name__}")
        kept = {}
        for source, keys in value.items():
            if not isinstance(source, str):
                raise TypeError(f"not a term's source: {source!r}")
            kept[source] = _decode(keys)
        return cls(kept)


@cache  # the code and the versions do not change while a process runs
def checks_version() -> str:
    """A digest of what checking a term depends on besides its source: this package's code
    (all of it, to be safe) and the versions of Python (its `re`) and of the regex package.
    Checks made under another version must not be recalled."""
    digest = hashlib.sha256(f"{sys.version}\0{regex.__version__}\0".encode())
    for path in sorted(_PACKAGE.glob("*.py")):
        data = path.read_bytes()
        digest.update(f"\0{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _encode(keys: TermKeys | None) -> list[list[list[Any]]] | None:
    if keys is None:
        return None
    return [[[k.word, k.prefix, k.name] for k in group] for group in keys.groups]


def _decode(value: Any) -> TermKeys | None:
    """The keys `_encode` wrote; TypeError or ValueError on anything else."""
    if value is None:
        return None
    groups = []
    for group in value:
        keys = []
        for word, prefix, name in group:
            if not (isinstance(word, str) and isinstance(prefix, bool) and isinstance(name, bool)):
                raise TypeError(f"not a prefilter key: {[word, prefix, name]!r}")
            keys.append(TermKey(word, prefix, name))
        if not keys:
            raise ValueError("an empty group of prefilter keys")
        groups.append(tuple(keys))
    if not groups:
        raise ValueError("no groups of prefilter keys")
    return TermKeys(tuple(groups))
