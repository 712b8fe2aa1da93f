"""What loading the signals gives, kept between runs in cache files (allywatch/cache_file.py):
the signals' outlines, and the checks of their `{regex: ...}` terms.

The outlines (alerts/outline.py, `cached_outlines`) are kept while nothing loading the
signals reads has changed.

Their cache file (in $XDG_CACHE_HOME, else ~/.cache, under allywatch/) is keyed by a
digest of everything loading reads: the signal and vocabulary files, the loader's code
and its size limit, and the code making outlines. It is written only after a full load,
with every check, succeeded; so a valid cache also says the files are fine, and any
change to one of them has them loaded in full again (a broken file is reported exactly
as before).

The checks of the regex terms (language/regex_checks.py, `load_signals_keeping_checks`)
are most of the time a full load takes. They depend on each term's source alone, given
the version language/ gives (`checks_version`: its code, Python's and the regex
package's versions), so they are kept under that version, one file per list of signal
paths, and recalled by the next load; a term not among them is checked in full, and a
refused term is never kept, so its problem is reported every time. The file is written
only after a load without problems, and only when the terms it used are not those the
file held; it then holds just those terms.

A cache that cannot be read, is damaged or carries another key is just not used, and
one that cannot be written is not written (allywatch/cache_file.py): the caches change
how soon a command ends, never what it does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from allywatch.alerts import outline
from allywatch.alerts.outline import SignalOutline
from allywatch.cache_file import YAML_LIMIT_ENV, Key, cache_file, read_cache, write_cache
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
    # One file per config's `signals:` list, so that workspaces with different signals
    # do not overwrite each other's.
    cache = cache_file("signal-outlines", "\n".join(map(str, paths)))
    key = _loading_digest(paths)
    cached = read_cache(cache, key, _decode)
    if cached is not None:
        return cached
    outlines = [SignalOutline.of(signal) for signal in load()]
    write_cache(cache, key, [o.to_json() for o in outlines])
    return outlines


def load_signals_keeping_checks(paths: Sequence[Path], *, builtin: Path) -> list[Signal]:
    """`load_signals(paths, builtin=builtin)` (raising SignalFileError as it does),
    recalling the checks of `{regex: ...}` terms an earlier load of `paths` kept, and
    keeping this load's for the next one."""
    # Only here: the loader takes YAML and the regex package, which readers of
    # outlines never need.
    from allywatch.language.loader import load_signals
    from allywatch.language.regex_checks import RegexChecks, checks_version

    cache = cache_file("regex-checks", "\n".join(map(str, paths)))
    key = checks_version()
    kept = read_cache(cache, key, RegexChecks.from_json)
    checks = kept if kept is not None else RegexChecks()
    signals = load_signals(paths, builtin=builtin, checks=checks)
    if checks.changed:
        write_cache(cache, key, checks.to_json())
    return signals


def _decode(value: Any) -> list[SignalOutline]:
    return [SignalOutline.from_json(s) for s in value]


def _loading_digest(paths: Sequence[Path]) -> str:
    """A digest of what loading `paths` reads: every YAML file in each folder named and
    in its vocab/, beside each file named (its labels file is), in the built-in
    vocabulary, the loader's code and size limit, and the outlines' code. Equal digests,
    equal outlines."""
    folders = [builtin_dir("signals") / "vocab"]
    for path in paths:
        folders += [path, path / "vocab"] if path.is_dir() else [path.parent]
    key = Key()
    key.text(YAML_LIMIT_ENV, os.environ.get(YAML_LIMIT_ENV, ""))
    for path in paths:
        key.text("named", str(path))
    code = [*_files(_LANGUAGE, (".py",)), Path(outline.__file__)]
    for file in [f for folder in folders for f in _files(folder, _YAML)] + code:
        key.file(file)
    return key.hexdigest()


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in suffixes and p.is_file())
