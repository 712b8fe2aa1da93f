"""The signals' outlines (alerts/outline.py), kept between runs while nothing loading
the signals reads has changed.

The cache file (in $XDG_CACHE_HOME, else ~/.cache, under allywatch/) is keyed by a
digest of everything loading reads: the signal and vocabulary files, the loader's code
and its size limit, and the code making outlines. It is written only after a full load,
with every check, succeeded; so a valid cache also says the files are fine, and any
change to one of them has them loaded in full again (a broken file is reported exactly
as before). A cache that cannot be read or written is just not used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from allywatch.alerts import outline
from allywatch.alerts.outline import SignalOutline
from allywatch.files import replace_file
from allywatch.language.yaml_lines import MAX_BYTES_ENV
from allywatch.resources import builtin_dir

if TYPE_CHECKING:
    from allywatch.language.model import Signal

# The signal loader's code: a change to it may change what loading gives.
_LANGUAGE = Path(__file__).resolve().parent / "language"
_YAML = (".yaml", ".yml")


def cached_outlines(
    paths: Sequence[Path], load: Callable[[], Sequence[Signal]]
) -> list[SignalOutline]:
    """The outlines of the signals loaded from `paths`, in their order: from the cache
    when nothing loading reads has changed since it was written, else from `load()`."""
    cache = _cache_file(paths)
    key = _loading_digest(paths)
    cached = _read(cache, key) if cache is not None else None
    if cached is not None:
        return cached
    outlines = [SignalOutline.of(signal) for signal in load()]
    if cache is not None:
        _write(cache, key, outlines)
    return outlines


def _cache_file(paths: Sequence[Path]) -> Path | None:
    """The cache file for a config's `signals:` list (one per list, so that workspaces
    with different signals do not overwrite each other's); None without a home."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:
            return None
    named = hashlib.sha256("\n".join(map(str, paths)).encode()).hexdigest()[:24]
    return Path(base) / "allywatch" / f"signal-outlines-{named}.json"


def _loading_digest(paths: Sequence[Path]) -> str:
    """A digest of what loading `paths` reads: every YAML file in each folder named and
    in its vocab/, beside each file named (its labels file is), in the built-in
    vocabulary, the loader's code and size limit, and the outlines' code. Equal digests,
    equal outlines."""
    folders = [builtin_dir("signals") / "vocab"]
    for path in paths:
        folders += [path, path / "vocab"] if path.is_dir() else [path.parent]
    digest = hashlib.sha256(os.environ.get(MAX_BYTES_ENV, "").encode())
    for path in paths:
        digest.update(f"\0named {path}".encode())
    code = [*_files(_LANGUAGE, (".py",)), Path(outline.__file__)]
    for file in [f for folder in folders for f in _files(folder, _YAML)] + code:
        digest.update(f"\0{file}\0".encode())
        try:
            digest.update(file.read_bytes())
        except OSError as exc:
            digest.update(f"unreadable: {exc}".encode())
    return digest.hexdigest()


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in suffixes and p.is_file())


def _read(cache: Path, key: str) -> list[SignalOutline] | None:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data["key"] != key:
            return None
        return [SignalOutline.from_json(s) for s in data["signals"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(cache: Path, key: str, outlines: list[SignalOutline]) -> None:
    """Write the cache in one step (a reader never sees half of it); not at all where
    it cannot be written."""
    with contextlib.suppress(OSError):
        cache.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"key": key, "signals": [o.to_json() for o in outlines]})
        replace_file(cache, text)
