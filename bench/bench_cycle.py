"""A whole cycle over local feed files with 20,000 entries, against feedparser alone.

Builds the 200 RSS files of bench_parse.py (the 20,000 real items of the
evaluation corpus) in a temporary folder, points a config at them as local file
sources, and runs one `allywatch run` cycle in a fresh process on a new SQLite
file: read from disk, parse, normalise, de-duplicate, group stories, match
every built-in signal, store, evaluate. It prints the cycle's CPU time next to
feedparser.parse (default options) on the same bytes, and the cycle's peak
memory (VmHWM), then a second cycle's cost (every file unchanged: not-modified).

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
from bench_parse import CORPUS, HEADERS, build_feeds, load_items  # noqa: E402

CHILD = """
import json, resource, sys, time
from pathlib import Path
from allywatch.cycle import run_cycle
from allywatch.workspace import Workspace
workspace = Workspace.open(Path(sys.argv[1]))
workspace.signals, workspace.engine
start = time.process_time(), time.perf_counter()
report = run_cycle(workspace)
cpu, wall = time.process_time() - start[0], time.perf_counter() - start[1]
status = Path("/proc/self/status").read_text()
peak = next(l for l in status.splitlines() if l.startswith("VmHWM")).split()[1]
print(json.dumps({"cpu": cpu, "wall": wall, "peak_mb": int(peak) / 1024,
                  "articles": report.new_articles, "observations": report.observations,
                  "failed": len(report.failed)}))
"""


def run_cycle_child(config: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(config)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    documents = build_feeds(load_items(args.corpus))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sources = []
        for n, document in enumerate(documents):
            (folder / f"feed{n:03d}.xml").write_bytes(document)
            sources.append(f"  - {{name: feed{n:03d}, path: feed{n:03d}.xml}}")
        config = folder / "allywatch.yaml"
        config.write_text(
            "database: sqlite:///bench.db\npoll_interval: 1s\nsources:\n" + "\n".join(sources),
            encoding="utf-8",
        )
        start = time.process_time()
        entries = sum(len(feedparser.parse(d, response_headers=HEADERS).entries) for d in documents)
        alone = time.process_time() - start
        first = run_cycle_child(config)
        time.sleep(1.1)
        second = run_cycle_child(config)
    print(f"feeds: {len(documents)}, entries: {entries}")
    print(f"feedparser.parse alone (default options): {alone:.2f} s CPU")
    print(
        f"cycle 1: {first['cpu']:.2f} s CPU ({first['wall']:.2f} s wall),"
        f" {first['articles']} articles stored, {first['observations']} observations,"
        f" {first['failed']} sources failed"
    )
    print(f"cycle 1 / feedparser alone: {first['cpu'] / alone:.2f}x")
    print(f"cycle 1 peak memory (VmHWM): {first['peak_mb']:.0f} MB")
    print(
        f"cycle 2 (all files unchanged): {second['cpu']:.2f} s CPU,"
        f" {second['cpu'] / first['cpu']:.1%} of cycle 1, {second['articles']} articles stored"
    )


if __name__ == "__main__":
    main()
