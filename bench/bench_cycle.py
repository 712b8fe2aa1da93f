"""A whole cycle over local feed files with 20,000 entries, against feedparser alone.

Builds the 200 RSS files of bench_parse.py (the 20,000 real items of the
evaluation corpus) in a temporary folder, points a config at them as local file
sources, and runs one `allywatch run` cycle in a fresh process on a new SQLite
file: read from disk, parse, normalise, de-duplicate, group stories, match
every built-in signal, store, evaluate. It prints the cycle's wall time and CPU
time (its own and its parse workers') next to feedparser.parse (default
options, one process) on the same bytes, and the cycle's peak memory (VmHWM):
once with the default parse workers and once parsing inline; then a second
cycle's cost (every file unchanged: not-modified).

    .venv/bin/python bench/bench_cycle.py [--corpus PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_parse import HEADERS, build_feeds, load_items  # noqa: E402
from outside_data import NOISE_CORPUS  # noqa: E402

from allywatch.watchers.parse_pool import default_workers  # noqa: E402

CHILD = """
import json, os, sys, time
from pathlib import Path
from allywatch.cycle import run_cycle
from allywatch.workspace import Workspace

def children_cpu():
    # CPU of this process's children (the parse workers' fork server) and of the
    # children they reaped (the workers): utime, stime, cutime, cstime.
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            total += sum(int(f) for f in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")

workspace = Workspace.open(Path(sys.argv[1]))
workspace.signals, workspace.engine
start = time.process_time(), time.perf_counter()
report = run_cycle(workspace)
cpu, wall = time.process_time() - start[0], time.perf_counter() - start[1]
status = Path("/proc/self/status").read_text()
peak = next(l for l in status.splitlines() if l.startswith("VmHWM")).split()[1]
print(json.dumps({"cpu": cpu, "workers_cpu": children_cpu(), "wall": wall,
                  "peak_mb": int(peak) / 1024, "articles": report.new_articles,
                  "observations": report.observations, "failed": len(report.failed)}))
"""


def run_cycle_child(config: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(config)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_config(folder: Path, name: str, sources: list[str], workers: int | None) -> Path:
    config = folder / f"{name}.yaml"
    setting = f"parse_workers: {workers}\n" if workers is not None else ""
    config.write_text(
        f"database: sqlite:///{name}.db\npoll_interval: 1s\n{setting}sources:\n"
        + "\n".join(sources),
        encoding="utf-8",
    )
    return config


def describe(label: str, run: dict, alone: float) -> None:
    total = run["cpu"] + run["workers_cpu"]
    print(
        f"{label}: {run['wall']:.2f} s wall ({run['wall'] / alone:.2f}x feedparser alone),"
        f" CPU {run['cpu']:.2f} s in the cycle + {run['workers_cpu']:.2f} s in parse workers"
        f" = {total:.2f} s ({total / alone:.2f}x); {run['articles']} articles stored,"
        f" {run['observations']} observations, {run['failed']} sources failed,"
        f" peak memory {run['peak_mb']:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=NOISE_CORPUS)
    parser.add_argument(
        "--rounds", type=int, default=2, help="interleaved rounds; the best of each is shown"
    )
    args = parser.parse_args()
    documents = build_feeds(load_items(args.corpus))
    settings = {"default": None, "one": 1, "inline": 0}
    best: dict[str, dict] = {}
    alone = alone_wall = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sources = []
        for n, document in enumerate(documents):
            (folder / f"feed{n:03d}.xml").write_bytes(document)
            sources.append(f"  - {{name: feed{n:03d}, path: feed{n:03d}.xml}}")
        for round_ in range(args.rounds):
            start = time.process_time(), time.perf_counter()
            parsed = [feedparser.parse(d, response_headers=HEADERS) for d in documents]
            alone = min(alone, time.process_time() - start[0])
            alone_wall = min(alone_wall, time.perf_counter() - start[1])
            entries = sum(len(p.entries) for p in parsed)
            del parsed
            for name, workers in settings.items():
                run = run_cycle_child(write_config(folder, f"{name}{round_}", sources, workers))
                if name not in best or run["wall"] < best[name]["wall"]:
                    best[name] = run
        time.sleep(1.1)
        second = run_cycle_child(write_config(folder, "default0", sources, None))
    print(f"feeds: {len(documents)}, entries: {entries}, best of {args.rounds} rounds")
    print(f"feedparser.parse alone (default options): {alone:.2f} s CPU, {alone_wall:.2f} s wall")
    describe(f"cycle 1, parse workers (default: {default_workers()})", best["default"], alone)
    describe("cycle 1, one parse worker (parse_workers: 1)", best["one"], alone)
    describe("cycle 1, parsing inline (parse_workers: 0)", best["inline"], alone)
    print(
        f"cycle 2 (all files unchanged): {second['wall']:.2f} s wall,"
        f" {second['cpu'] + second['workers_cpu']:.2f} s CPU,"
        f" {second['wall'] / best['default']['wall']:.1%} of cycle 1's wall time,"
        f" {second['articles']} articles stored"
    )


if __name__ == "__main__":
    main()
