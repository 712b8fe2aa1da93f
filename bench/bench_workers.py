"""How the cycle time for 1,000 feeds scales from one worker to three, on PostgreSQL.

A local HTTP server serves 1,000 RSS feeds, each answer after a small delay
(--delay, default 0.5 s: a remote server's latency). For 1, 2 and 3 workers on
a fresh PostgreSQL database each, every worker (a separate process, running
the cycle as `allywatch run` and each `serve` tick do) starts the same cycle at
the same moment; the figure is the wall time until the last of them is done.

- first cycle: every feed new, 5 items each (5,000 articles stored and matched);
- next cycle: an hour later, every feed due again with one new item. This is
  the steady state; it runs twice (hourly) and the better is kept, as the
  machine may be shared.

For reference, one worker on SQLite (the default) runs the same cycles.
Workers share the waiting on remote servers; parsing, matching and storing
take CPU, so with a short delay (--delay 0.1) on a machine with few cores the
cycle is CPU-bound and workers beyond the number of cores gain little.
Fetching allows 16 requests at a time per worker, per host as well (the 1,000
feeds stand for many hosts, though they are all 127.0.0.1 here).

    ALLYWATCH_TEST_DATABASE_URL=postgresql://user:pass@127.0.0.1/db \\
        .venv/bin/python bench/bench_workers.py [--feeds N] [--delay SECONDS]

The URL names a server and a database to connect to; the benchmark creates and
drops its own databases there. Without it, the benchmark says so and stops.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from databases import TEST_DATABASE_ENV, postgres_database, server_url  # noqa: E402
from feedserver import FeedServer, Reply, Seen  # noqa: E402

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
FIRST_ITEMS = 5
NEXT_CYCLES = 2

WORKER = """
import json, sys, time
from datetime import datetime
from pathlib import Path
from allywatch.cycle import run_cycle
from allywatch.workspace import Workspace
workspace = Workspace.open(Path(sys.argv[1]))
workspace.signals, workspace.engine  # load and migrate before the clock starts
print("ready", flush=True)
for line in sys.stdin:
    started = time.monotonic()
    report = run_cycle(workspace, datetime.fromisoformat(line.strip()))
    print(json.dumps({"polled": report.polled, "new": report.new_articles,
                      "failed": len(report.failed), "seconds": time.monotonic() - started}),
          flush=True)
"""

HEADLINES = [
    "Parliament debates the budget for {n}",
    "Storm closes roads around district {n}",
    "Local team wins derby number {n}",
    "Central bank keeps rates steady, report {n}",
    "Museum {n} opens a new wing",
    "Iran and Russia discuss trade, meeting {n}",
    "CSTO ministers meet in session {n}",
]


class Feeds:
    """`count` feeds; feed i shows `items` items, the newest last published at `clock`."""

    def __init__(self, server: FeedServer, count: int, delay: float) -> None:
        self.server, self.count, self.delay = server, count, delay
        self.items = FIRST_ITEMS
        for index in range(count):
            server.route(f"/feed{index:04d}.xml", self._respond(index))

    def urls(self) -> list[str]:
        return [self.server.url(f"/feed{index:04d}.xml") for index in range(self.count)]

    def _respond(self, index: int):
        def respond(_seen: Seen) -> Reply:
            items = "".join(
                f"<item><title>{HEADLINES[(index + k) % len(HEADLINES)].format(n=index * 100 + k)}"
                f"</title><description>Item {k} of feed {index}, with a few words of summary."
                f"</description><link>https://feed{index}.example.com/{k}</link>"
                f"<pubDate>{format_datetime(START + timedelta(minutes=k), usegmt=True)}</pubDate>"
                "</item>"
                for k in range(self.items)
            )
            body = (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>feed {index}</title><link>https://feed{index}.example.com/</link>"
                f"{items}</channel></rss>"
            )
            return Reply(
                body=body.encode(),
                headers={"Content-Type": "application/rss+xml; charset=utf-8"},
                delay=self.delay,
            )

        return respond


def write_config(folder: Path, database: str, feeds: Feeds) -> Path:
    lines = [
        f"database: '{database}'",
        "poll_interval: 1h",
        "fetch: {concurrency: 16, per_host: 16}",
        "sources:",
        *(f"  - {{name: feed{i:04d}, url: '{url}'}}" for i, url in enumerate(feeds.urls())),
    ]
    path = folder / "allywatch.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cycles(config: Path, feeds: Feeds, workers: int) -> list[tuple[float, list[dict]]]:
    """The cycles with `workers` processes: (wall seconds, each worker's report) per cycle."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(workers)
    ]
    try:
        for process in processes:
            if process.stdout.readline().strip() != "ready":
                raise SystemExit("a worker failed to start")
        out = []
        for hour in range(1 + NEXT_CYCLES):
            feeds.items = FIRST_ITEMS + hour
            moment = START + timedelta(hours=hour)
            started = time.monotonic()
            for process in processes:
                process.stdin.write(moment.isoformat() + "\n")
                process.stdin.flush()
            reports = [json.loads(process.stdout.readline()) for process in processes]
            out.append((time.monotonic() - started, reports))
        return out
    finally:
        for process in processes:
            process.stdin.close()
            process.wait(timeout=120)


def run(label: str, database: str, feeds: Feeds, workers: int) -> tuple[float, float]:
    """(first cycle, best next cycle) in seconds; prints them."""
    with tempfile.TemporaryDirectory() as folder:
        config = write_config(Path(folder), database, feeds)
        played = cycles(config, feeds, workers)
    times = []
    for seconds, reports in played:
        polled = sum(r["polled"] for r in reports)
        failed = sum(r["failed"] for r in reports)
        if polled != feeds.count or failed:
            raise SystemExit(f"{label}: polled {polled} of {feeds.count} feeds, {failed} failed")
        times.append(seconds)
    first, best = times[0], min(times[1:])
    shares = "/".join(str(r["polled"]) for r in played[times.index(best)][1])
    print(f"{label:<24} {first:>10.2f} {best:>10.2f}   feeds per worker {shares}")
    return first, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per answer")
    parser.add_argument("--workers", type=int, default=3, help="the most workers to try")
    args = parser.parse_args()
    server = server_url()
    if server is None:
        print(f"bench_workers: skipped, needs PostgreSQL: set {TEST_DATABASE_ENV}")
        return
    with FeedServer() as http:
        feeds = Feeds(http, args.feeds, args.delay)
        print(f"{args.feeds} feeds, {args.delay:g} s per answer; cycle wall time in seconds")
        print(f"{'':<24} {'first':>10} {'next':>10}")
        with tempfile.TemporaryDirectory() as folder:
            run("SQLite, 1 worker", f"sqlite:///{Path(folder) / 'bench.db'}", feeds, 1)
        results = {}
        for workers in range(1, args.workers + 1):
            with postgres_database(server) as database:
                label = f"PostgreSQL, {workers} worker{'s' if workers > 1 else ''}"
                results[workers] = run(label, database, feeds, workers)
    base = results[1]
    for workers, times in results.items():
        if workers > 1:
            print(
                f"speed-up with {workers} workers: first cycle {base[0] / times[0]:.2f}x,"
                f" next cycle {base[1] / times[1]:.2f}x"
            )


if __name__ == "__main__":
    main()
