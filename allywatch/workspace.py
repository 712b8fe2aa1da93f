"""What a command works on: the config, its signals, and the migrated database.

Loading the signals compiles every term list of every signal, which takes longer than
anything else `status` or `history` do; they need only each signal's id, entities
and initial state. Those outlines are kept in a cache file (in $XDG_CACHE_HOME, else
~/.cache, under allywatch/) keyed by a digest of everything loading reads: the signal
and vocabulary files, the loader's code and its size limit. Any change to one of them
and the signals are loaded in full again, with every check (so a broken file is
reported exactly as before). A cache that cannot be read or written is just not used.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from allywatch.config import Config, load_config
from allywatch.errors import ConfigError, driver_reason
from allywatch.language.yaml_lines import MAX_BYTES_ENV
from allywatch.resources import builtin_dir
from allywatch.store.engine import shown_url
from allywatch.store.migrate import open_database

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from allywatch.language.model import Signal

# The signal loader's code: a change to it may change what loading gives.
_LANGUAGE = Path(__file__).resolve().parent / "language"
_YAML = (".yaml", ".yml")


@dataclass(frozen=True)
class SignalOutline:
    """A signal as the commands that only list its states see it."""

    id: str
    initial: str
    entities: tuple[str, ...]


@dataclass
class Workspace:
    config: Config

    @classmethod
    def open(cls, config_path: Path | None) -> Workspace:
        return cls(load_config(config_path))

    @cached_property
    def signals(self) -> list[Signal]:
        from allywatch.language.loader import SignalFileError, load_signals

        try:
            return load_signals(self.config.signal_paths, builtin=builtin_dir("signals"))
        except SignalFileError as exc:
            raise ConfigError("invalid signal files:\n  " + "\n  ".join(exc.errors)) from exc

    @cached_property
    def outlines(self) -> list[SignalOutline]:
        """Every signal's outline, in the order `signals` has them: from the cache when
        nothing loading reads has changed since it was written, else from `signals`."""
        paths = self.config.signal_paths
        cache = _outline_cache(paths)
        key = _loading_digest(paths)
        cached = _read_outlines(cache, key) if cache is not None else None
        if cached is not None:
            return cached
        outlines = [SignalOutline(s.id, s.initial, s.entities) for s in self.signals]
        if cache is not None:
            _write_outlines(cache, key, outlines)
        return outlines

    @cached_property
    def engine(self) -> Engine:
        """The database, upgraded to the current schema on first use; created only where
        no database file exists. The database driver's own errors (damaged, locked) go
        up to the command line, which says what they mean in one line."""
        try:
            return open_database(self.config.database)
        except Exception as exc:
            if driver_reason(exc) is not None:
                raise
            shown = shown_url(self.config.database)
            raise ConfigError(f"database {shown}: cannot open: {exc}") from exc

    def outline(self, signal_id: str) -> SignalOutline:
        for outline in self.outlines:
            if outline.id == signal_id:
                return outline
        known = ", ".join(s.id for s in self.outlines)
        raise ConfigError(f"no signal {signal_id!r} (known: {known})")

    def signal(self, signal_id: str) -> Signal:
        wanted = self.outline(signal_id).id
        return next(s for s in self.signals if s.id == wanted)


def _outline_cache(paths: Sequence[Path]) -> Path | None:
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
    vocabulary, and the loader's code and size limit. Equal digests, equal signals."""
    folders = [builtin_dir("signals") / "vocab"]
    for path in paths:
        folders += [path, path / "vocab"] if path.is_dir() else [path.parent]
    digest = hashlib.sha256(os.environ.get(MAX_BYTES_ENV, "").encode())
    for path in paths:
        digest.update(f"\0named {path}".encode())
    files = [f for folder in folders for f in _files(folder, _YAML)] + _files(_LANGUAGE, (".py",))
    for file in files:
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


def _read_outlines(cache: Path, key: str) -> list[SignalOutline] | None:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data["key"] != key:
            return None
        return [SignalOutline(s["id"], s["initial"], tuple(s["entities"])) for s in data["signals"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_outlines(cache: Path, key: str, outlines: list[SignalOutline]) -> None:
    """Write the cache in one step (a reader never sees half of it)."""
    signals = [{"id": o.id, "initial": o.initial, "entities": list(o.entities)} for o in outlines]
    written = None
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=cache.parent, suffix=".new", delete=False
        ) as out:
            written = Path(out.name)
            json.dump({"key": key, "signals": signals}, out)
        os.replace(written, cache)
    except OSError:
        if written is not None:
            written.unlink(missing_ok=True)
