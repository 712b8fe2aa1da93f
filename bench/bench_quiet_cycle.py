"""The CPU of a quiet `allywatch run --now`, in a fresh process as cron starts it, here
and in another checkout, in the same rounds.

    python bench/bench_quiet_cycle.py [--rounds R] [--baseline DIR ...]

The feeds are bench_peers.py's (100 RSS feeds of 50 items of the evaluation corpus,
served from 127.0.0.1 by bench_peers.py in a process of its own, every answer after
100 ms). Each checkout gets a workspace of its own (a new SQLite file, the built-in
signals, the 100 feeds) and one cold run; then every round runs a quiet `run --now`
(every feed answers 304) of each checkout in turn. Prints the CPU (user + system) of
each run, min / median of R rounds, and each checkout's ratio to this one's (of
medians, of minimums). DIR is a `git archive REV | tar -x -C DIR` of the other tree;
each tree is imported through PYTHONPATH, this one too, and compiled to bytecode first,
as an installed package is (with PYTHONDONTWRITEBYTECODE set, an export would otherwise
compile its modules anew in every run).
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def cpu_of(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """The CPU seconds (user + system) `command` took, run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def workspace(folder: Path, urls: list[str]) -> Path:
    folder.mkdir()
    sources = "".join(f"  - {{name: feed{n:03d}, url: '{u}'}}\n" for n, u in enumerate(urls))
    config = folder / "allywatch.yaml"
    config.write_text(f"database: sqlite:///allywatch.db\nsources:\n{sources}", encoding="utf-8")
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--baseline", type=Path, action="append", default=[])
    options = parser.parse_args()
    sys.path.insert(0, str(REPO / "bench"))
    from bench_parse import load_items
    from bench_peers import FEEDS, ITEMS_PER_FEED, served_feeds
    from outside_data import NOISE_CORPUS

    items = load_items(NOISE_CORPUS)[: FEEDS * ITEMS_PER_FEED]
    trees = {"this tree": REPO, **{f"baseline {d}": d.resolve() for d in options.baseline}}
    times: dict[str, list[float]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as tmp, served_feeds(Path(tmp), items) as served:
        urls = served.urls
        runs = {}
        for index, (name, tree) in enumerate(trees.items()):
            compileall.compile_dir(tree, quiet=1)
            config = workspace(Path(tmp) / f"tree{index}", urls)
            env = {**os.environ, "PYTHONPATH": str(tree), "XDG_CACHE_HOME": f"{tmp}/cache"}
            command = [sys.executable, "-m", "allywatch", "--config", str(config)]
            command += ["run", "--now"]
            cpu_of(command, config.parent, env)  # the cold run
            runs[name] = (command, config.parent, env)
        for _ in range(options.rounds):
            for name, (command, cwd, env) in runs.items():
                times[name].append(cpu_of(command, cwd, env))
    medians = {name: statistics.median(t) for name, t in times.items()}
    minimums = {name: min(t) for name, t in times.items()}
    print(f"quiet `run --now`, CPU s, {options.rounds} rounds (interleaved)")
    for name in trees:
        ratios = medians[name] / medians["this tree"], minimums[name] / minimums["this tree"]
        print(
            f"{name:40} min {minimums[name]:.3f}  median {medians[name]:.3f}"
            f"  x this tree: {ratios[0]:.2f} ({ratios[1]:.2f})"
        )


if __name__ == "__main__":
    main()
