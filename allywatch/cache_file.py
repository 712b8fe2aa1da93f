"""A JSON file kept between runs under $XDG_CACHE_HOME/allywatch (else ~/.cache/allywatch),
valid while its key, a digest of everything that made its contents, is unchanged.

The signal outlines (signal_cache.py) and the config's read view (config_view.py) are
kept this way. A cache file that cannot be read, is damaged or carries another key is
not used; one that cannot be written is not written. Either way the caller does the
full work instead, so a cache never changes what a command does, only how soon.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# The size limit of every YAML file loaded, signal files and configs alike: the name
# language/yaml_lines.py gives as MAX_BYTES_ENV, repeated here because that module
# cannot be imported without PyYAML (tests/test_config_view.py checks they agree).
YAML_LIMIT_ENV = "ALLYWATCH_MAX_YAML_BYTES"


def cache_file(kind: str, named_by: str) -> Path | None:
    """The cache file of this `kind` for `named_by` (one file per config, per signal
    list, ..., so that workspaces do not overwrite each other's); None without a home."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:
            return None
    named = hashlib.sha256(named_by.encode()).hexdigest()[:24]
    return Path(base) / "allywatch" / f"{kind}-{named}.json"


class Key:
    """A digest of what made a cache file's contents: texts and whole files, each
    under its name, so that equal keys mean equal inputs."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()

    def text(self, name: str, value: str) -> None:
        self._digest.update(f"\0{name}\0{len(value)}\0{value}".encode())

    def file(self, path: Path) -> None:
        """The file's name and bytes (or why it could not be read)."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            data = f"unreadable: {exc}".encode()
        self._digest.update(f"\0{path}\0{len(data)}\0".encode())
        self._digest.update(data)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def read_cache(cache: Path | None, key: str, decode: Callable[[Any], T]) -> T | None:
    """What `cache` holds, through `decode`, when it was written under `key`; None when
    there is no such file, or it carries another key, or it cannot be read or decoded."""
    if cache is None:
        return None
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data["key"] != key:
            return None
        return decode(data["value"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_cache(cache: Path | None, key: str, value: Any) -> None:
    """Write `value` (plain JSON data) under `key` in one step, so that a reader never
    sees half of it; not at all where it cannot be written."""
    if cache is None:
        return
    # Only here: its temporary files take modules no reading needs.
    from allywatch.files import replace_file

    with contextlib.suppress(OSError):
        cache.parent.mkdir(parents=True, exist_ok=True)
        replace_file(cache, json.dumps({"key": key, "value": value}))
