"""The checks of `{regex: ...}` terms, kept between runs.

Checking a regex term (terms.compile_regex: compiled by `re` and by the regex
package, and read for catastrophic backtracking) and reading its prefilter keys
(regex.regex_keys) take over a millisecond a term, and the built-in pack has
hundreds of them: most of the time loading it takes. Both are functions of the
term's source alone, given the code doing them and the versions of Python and
of the regex package. So the terms that passed, with their keys, are kept in a
JSON file under $XDG_CACHE_HOME/allywatch (else ~/.cache/allywatch), one file per
list of signal paths, under a digest of this package's code and those versions.

A term not in the file is checked in full, and a refused term is never kept, so
its problem is reported every time, as before. A file that cannot be read, is
damaged or carries another digest is not used, and one that cannot be written is
not written: the file changes how soon loading ends, never what it gives.
(language/ imports nothing else of allywatch, so this repeats the few lines of
allywatch/cache_file.py it needs.)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import regex

from allywatch.language.regex import regex_keys
from allywatch.language.terms import TermKey, TermKeys, compile_regex

_PACKAGE = Path(__file__).resolve().parent

Checked = dict[str, TermKeys | None]  # a checked term's source: its prefilter keys


class RegexChecks:
    """The regex terms one load has checked: from the cache file, or checked in full."""

    def __init__(self, file: Path | None) -> None:
        self._file = file
        self._kept = _read(file) if file is not None else {}  # as the file holds them
        self._used: Checked = {}

    @classmethod
    def for_paths(cls, paths: Sequence[Path]) -> RegexChecks:
        """The checks kept for loading `paths`."""
        return cls(_cache_file("\n".join(map(str, paths))))

    def check(self, source: str) -> tuple[str, TermKeys | None]:
        """The term's source once checked, and its prefilter keys; TermError where refused."""
        keys = self._kept[source] if source in self._kept else regex_keys(compile_regex(source))
        self._used[source] = keys
        return source, keys

    def save(self) -> None:
        """Keep the terms this load used, when they are not those the file holds (new
        terms were checked, or terms no longer used are dropped)."""
        if self._file is None or self._used.keys() == self._kept.keys():
            return
        value = {source: _encode(keys) for source, keys in self._used.items()}
        with contextlib.suppress(OSError):
            _write(self._file, json.dumps({"key": _code_digest(), "value": value}))


@cache  # the code and the versions do not change while a process runs
def _code_digest() -> str:
    """A digest of what checking a term depends on: this package's code (all of it, to be
    safe) and the versions of Python (its `re`) and of the regex package."""
    digest = hashlib.sha256(f"{sys.version}\0{regex.__version__}\0".encode())
    for path in sorted(_PACKAGE.glob("*.py")):
        data = path.read_bytes()
        digest.update(f"\0{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _cache_file(named_by: str) -> Path | None:
    """As allywatch/cache_file.py's `cache_file("regex-checks", named_by)`."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:
            return None
    named = hashlib.sha256(named_by.encode()).hexdigest()[:24]
    return Path(base) / "allywatch" / f"regex-checks-{named}.json"


def _read(file: Path) -> Checked:
    """The checked terms `file` holds; none where it is missing, damaged or of other code."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        if data["key"] != _code_digest():
            return {}
        return {source: _decode(keys) for source, keys in data["value"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _write(file: Path, text: str) -> None:
    """Write `text` over `file` in one step, so that a reader never sees half of it."""
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(name, file)
    finally:
        Path(name).unlink(missing_ok=True)


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
