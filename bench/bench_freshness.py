"""How soon `allywatch serve` stores a new item and announces the alert it raises.

Each trial starts `allywatch serve --tick T` on a new SQLite file, with one
local feed (127.0.0.1) polled every T (`poll_interval`). Once serve has done its
first cycle (the baseline, on an empty feed), the feed gains, at a random
moment within the next T, one article that moves `su35-iran` to
`delivery-reported`. The lag runs from that moment until serve logs the
announced alert (which it logs after the article is stored and evaluated).

The promise is lag <= poll interval + 10 s: a source is polled at the first tick
after its interval ends, and ticks carry up to T/10 of jitter (at least 1 s).
A short T keeps the run short; the figure to compare with the promise is the
lag beyond the interval (lag - T), printed as min / median / max of the trials.

    .venv/bin/python bench/bench_freshness.py [--trials 20] [--interval 5]
"""

from __future__ import annotations

import argparse
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.feedserver import FeedServer, Reply, Seen  # noqa: E402

EMPTY = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title></channel></rss>'
ITEM = (
    "<item><title>Iran takes delivery of first Su-35 jets, state TV says</title>"
    "<link>https://wire.example.org/{n}</link><guid>wire-{n}</guid>"
    "<description>Iran has received its first Su-35 fighter jets from Russia, state"
    " television reported.</description></item>"
)
MAX_WAIT = 10.0  # seconds beyond the interval, the promise


class Feed:
    """The one feed: empty until `publish`, then carrying the trial's article."""

    def __init__(self) -> None:
        self.trial: int | None = None

    def __call__(self, seen: Seen) -> Reply:
        if self.trial is None:
            return Reply(body=EMPTY, etag='"empty"')
        body = EMPTY.replace(b"</channel>", ITEM.format(n=self.trial).encode() + b"</channel>")
        return Reply(body=body, etag=f'"trial-{self.trial}"')


def trial(server: FeedServer, feed: Feed, n: int, interval: float, folder: Path) -> float:
    """One trial's lag in seconds, from publishing to the announced alert."""
    feed.trial = None
    config = folder / f"trial{n}.yaml"
    config.write_text(
        f"database: sqlite:///trial{n}.db\npoll_interval: {interval:g}s\n"
        f"sources:\n  - {{name: wire, url: '{server.url('/feed.xml')}'}}\n"
    )
    program = str(Path(sys.executable).with_name("allywatch"))
    serve = subprocess.Popen(
        [program, "--config", str(config), "serve", "--tick", f"{interval:g}s"],
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[tuple[float, str]] = queue.Queue()

    def read() -> None:
        for line in serve.stderr:
            lines.put((time.monotonic(), line))

    threading.Thread(target=read, daemon=True).start()
    try:
        wait_for(lines, "event=cycle_done", 120)
        time.sleep(random.uniform(0, interval))
        feed.trial = n
        published = time.monotonic()
        announced = wait_for(lines, "announced=True", interval + 60)
        return announced - published
    finally:
        serve.terminate()
        serve.wait(timeout=60)


def wait_for(lines: queue.Queue[tuple[float, str]], needle: str, timeout: float) -> float:
    """When the first log line holding `needle` came."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            when, line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise SystemExit(f"serve logged no {needle!r} within {timeout:g}s") from None
        if "event=cycle_failed" in line:
            raise SystemExit(f"serve's cycle failed: {line}")
        if needle in line:
            return when


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds (tick and poll)")
    args = parser.parse_args()
    feed = Feed()
    lags = []
    with tempfile.TemporaryDirectory() as tmp, FeedServer() as server:
        server.route("/feed.xml", feed)
        for n in range(args.trials):
            lag = trial(server, feed, n, args.interval, Path(tmp))
            lags.append(lag)
            print(f"trial {n + 1}: alert {lag:.2f} s after the article appeared", flush=True)
    beyond = [lag - args.interval for lag in lags]
    print(
        f"\n{args.trials} trials, poll interval and tick {args.interval:g} s: lag"
        f" min {min(lags):.2f} / median {statistics.median(lags):.2f} / max {max(lags):.2f} s;"
        f" beyond the interval min {min(beyond):.2f} / median {statistics.median(beyond):.2f}"
        f" / max {max(beyond):.2f} s (promise: at most {MAX_WAIT:g} s);"
        f" {sum(b <= MAX_WAIT for b in beyond)}/{args.trials} trials within it"
    )


if __name__ == "__main__":
    main()
