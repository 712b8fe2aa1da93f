"""How long loading the built-in signal pack takes, as every command start pays it.

    python bench/bench_signal_load.py [--rounds R]

Times loading the built-in pack four ways, each round starting with empty in-memory
caches (`re`'s and the regex package's compiled expressions, compiled and checked
terms, parsed regex terms), as a fresh process would:

- eager, pure-Python YAML: `load_signals` with PyYAML's own parser, and every term
  list compiled at load (how the pack used to load);
- eager, libyaml: the C parser, every term list still compiled at load;
- lazy, first load: `load_signals_keeping_checks` (allywatch/signal_cache.py, what
  the commands use), the C parser, term lists compiled when a matcher first needs
  them, every `{regex: ...}` term checked (no cache file of those checks yet: the
  load writes it);
- lazy, checks kept: the same once that file is written, the regex terms' checks
  and keys recalled from it (language/regex_checks.py).

The modes take turns round by round (the machine's load varies); prints the
minimum and the median of each and the ratio of each to the last.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import regex  # noqa: E402
import yaml  # noqa: E402

from allywatch.language import yaml_lines as lang_yaml  # noqa: E402
from allywatch.language.loader import load_signals  # noqa: E402
from allywatch.language.model import Signal  # noqa: E402
from allywatch.language.regex import regex_keys  # noqa: E402
from allywatch.language.regex_tree import parse_regex  # noqa: E402
from allywatch.language.terms import compile_plain, compile_regex  # noqa: E402
from allywatch.resources import builtin_dir  # noqa: E402
from allywatch.signal_cache import load_signals_keeping_checks  # noqa: E402


def compile_all(signals: list[Signal]) -> int:
    """Compile every term list of the signals (as an eager loader would); how many."""
    lists = {
        id(t): t
        for s in signals
        for group in (s.terms, s.entity_terms, s.cues)
        for t in group.values()
    }
    for terms in lists.values():
        assert terms.pattern is not None
    return len(lists)


def forget(cache: Path) -> None:
    """Empty every cache loading fills, as in a process that has loaded nothing yet, and
    have loading keep its regex checks in `cache` (XDG_CACHE_HOME)."""
    re.purge()
    regex.purge()
    for cached in (compile_plain, compile_regex, regex_keys, parse_regex):
        cached.cache_clear()
    os.environ["XDG_CACHE_HOME"] = str(cache)


def timed(load: Callable[[], object], cache: Path, fresh: bool) -> float:
    """Seconds one load takes; with no regex checks kept where `fresh`."""
    if fresh:
        for file in cache.glob("allywatch/regex-checks-*.json"):
            file.unlink()
    forget(cache)
    start = time.perf_counter()
    load()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    pack = builtin_dir("signals")
    paths = [pack]
    fast_loader = lang_yaml._Loader
    uses_c = issubclass(fast_loader, getattr(yaml, "CSafeLoader", ()))
    print(f"YAML parser of load_signals: {'libyaml' if uses_c else 'pure Python'}")

    def lazy() -> None:
        load_signals_keeping_checks(paths, builtin=pack)

    def eager() -> None:
        compile_all(load_signals(paths, builtin=pack))

    def eager_pure_python() -> None:
        lang_yaml._Loader = lang_yaml.PurePythonLoader
        try:
            eager()
        finally:
            lang_yaml._Loader = fast_loader

    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as kept:
        forget(Path(kept))
        lists = compile_all(load_signals_keeping_checks(paths, builtin=pack))  # writes the file
        modes = {
            "eager, pure-Python YAML": (eager_pure_python, Path(first), True),
            "eager, libyaml": (eager, Path(first), True),
            "lazy, first load": (lazy, Path(first), True),
            "lazy, checks kept": (lazy, Path(kept), False),
        }
        times: dict[str, list[float]] = {name: [] for name in modes}
        for _ in range(args.rounds):
            for name, (load, cache, fresh) in modes.items():
                times[name].append(timed(load, cache, fresh))
    print(f"term lists in the pack: {lists}; {args.rounds} rounds, interleaved")
    last = min(times["lazy, checks kept"]), statistics.median(times["lazy, checks kept"])
    for name, seconds in times.items():
        low, median = min(seconds), statistics.median(seconds)
        print(
            f"{name:24} min {low * 1000:7.1f} ms  median {median * 1000:7.1f} ms"
            f"  x kept: {low / last[0]:4.1f} ({median / last[1]:4.1f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
