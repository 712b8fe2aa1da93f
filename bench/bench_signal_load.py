"""How long loading the built-in signal pack takes, as every command start pays it.

    python bench/bench_signal_load.py [--rounds R]

Times `load_signals` on the built-in pack three ways, each round starting with empty
caches (`re`'s and the regex package's compiled expressions, compiled and checked
terms, parsed regex terms), as a fresh process would:

- eager, pure-Python YAML: PyYAML's own parser, and every term list compiled at
  load (how the pack used to load);
- eager, libyaml: the C parser, every term list still compiled at load;
- lazy, libyaml (what `load_signals` does): the C parser, term lists compiled
  when a matcher first needs them.

Prints the median of each and the ratio of the first to the last.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
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


def forget() -> None:
    """Empty every cache loading fills, as in a process that has loaded nothing yet."""
    re.purge()
    regex.purge()
    for cached in (compile_plain, compile_regex, regex_keys, parse_regex):
        cached.cache_clear()


def timed(load: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        forget()
        start = time.perf_counter()
        load()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    pack = builtin_dir("signals")
    paths = [pack]
    fast_loader = lang_yaml._Loader
    uses_c = issubclass(fast_loader, getattr(yaml, "CSafeLoader", ()))
    print(f"YAML parser of load_signals: {'libyaml' if uses_c else 'pure Python'}")
    lists = compile_all(load_signals(paths, builtin=pack))

    def eager() -> None:
        compile_all(load_signals(paths, builtin=pack))

    lang_yaml._Loader = lang_yaml.PurePythonLoader
    try:
        before = timed(eager, args.rounds)
    finally:
        lang_yaml._Loader = fast_loader
    eager_c = timed(eager, args.rounds)
    after = timed(lambda: load_signals(paths, builtin=pack), args.rounds)
    print(f"term lists in the pack: {lists}")
    print(f"eager, pure-Python YAML: {before * 1000:7.1f} ms")
    print(f"eager, libyaml:          {eager_c * 1000:7.1f} ms")
    print(f"lazy, libyaml:           {after * 1000:7.1f} ms")
    print(f"speed-up: {before / after:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
