"""How soon `allywatch serve` stores a new item and announces the alert it raises.

Each trial runs its own `allywatch serve --tick T` with its own temporary folder
(config and SQLite database) and its own feed, served on 127.0.0.1 by this
script's one feed server (a thread per request), polled every T
(`poll_interval`). Once serve has done its first cycle (the baseline, on the
empty feed), the feed gains, at a random moment within the next T, one article
that moves `su35-iran` to `delivery-reported`. The lag runs from that moment
until serve logs the announced alert (which it logs after the article is stored
and evaluated).

The promise is lag <= poll interval + 10 s: a source is polled at the first tick
after its interval ends, and ticks carry up to T/10 of jitter (at least 1 s).
The figure to compare with the promise is the lag beyond the interval (lag - T),
printed as min / median / max of the trials.

Why the trials run at the same time: at T = 1 minute, 20 trials one after the
other would take an hour. A trial's lag depends on where the article lands in
its serve's poll phase (and on the tick's jitter), not on the other serves, as
long as the machine has CPU to spare: each serve is idle but for one short cycle
per tick. So the serves are started a few seconds apart (`--stagger`), which
spreads both their start-up (a second or so of CPU each) and their ticks over
the interval, and the script reports what would show a saturated machine: the
load average at start and end (and the highest seen), and each serve's CPU time.
`--concurrent` caps how many serves run at once (default: all trials).

Every wait has a deadline; a trial that misses one is reported with its reason
and the last lines serve logged, and the others go on.

    .venv/bin/python bench/bench_freshness.py [--trials 20] [--interval 60]
        [--concurrent N] [--stagger 3]
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
BASELINE_DEADLINE = 120.0  # seconds from starting serve to its first cycle_done
ALERT_SLACK = 60.0  # seconds beyond the interval to wait for the alert
STOP_DEADLINE = 30.0  # seconds for serve to stop after SIGTERM, then SIGKILL
TAIL = 5  # log lines shown for a failed trial


class Feed:
    """One trial's feed: empty until `publish`, then carrying the trial's article."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.published = False

    def __call__(self, seen: Seen) -> Reply:
        if not self.published:
            return Reply(body=EMPTY, etag='"empty"')
        body = EMPTY.replace(b"</channel>", ITEM.format(n=self.n).encode() + b"</channel>")
        return Reply(body=body, etag=f'"trial-{self.n}"')


class TrialFailed(Exception):
    pass


@dataclass
class Result:
    n: int
    lag: float | None = None  # seconds from publishing to the announced alert
    error: str | None = None
    cpu: float | None = None  # serve's CPU seconds (user + system), start to stop
    baseline_cycle: str | None = None  # the seconds serve's first cycle took, as it logged


class Log:
    """A serve's stderr, line by line with arrival times, read on a thread of its own."""

    def __init__(self, serve: subprocess.Popen[str]) -> None:
        self.serve = serve
        self.lines: queue.Queue[tuple[float, str | None]] = queue.Queue()
        self.tail: deque[str] = deque(maxlen=TAIL)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.serve.stderr is not None
        for line in self.serve.stderr:
            self.lines.put((time.monotonic(), line))
        self.lines.put((time.monotonic(), None))  # serve closed stderr: it has exited

    def wait_for(self, needle: str, timeout: float) -> tuple[float, str]:
        """When the first log line holding `needle` came, and the line."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                when, line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise TrialFailed(f"no {needle!r} logged within {timeout:g}s") from None
            if line is None:
                code = self.serve.wait(timeout=STOP_DEADLINE)
                raise TrialFailed(f"serve exited (code {code}) before logging {needle!r}")
            self.tail.append(line.rstrip())
            if "event=cycle_failed" in line:
                raise TrialFailed("serve's cycle failed")
            if needle in line:
                return when, line


class StartGate:
    """Lets serves start at least `stagger` seconds apart."""

    def __init__(self, stagger: float) -> None:
        self.stagger = stagger
        self._lock = threading.Lock()
        self._next = time.monotonic()

    def wait(self) -> None:
        with self._lock:
            at = max(self._next, time.monotonic())
            self._next = at + self.stagger
        time.sleep(max(0.0, at - time.monotonic()))


def cpu_seconds(pid: int) -> float | None:
    """A live process's CPU time (user + system, its waited-for children included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command's closing parenthesis: fields 3.. of proc(5); utime is the 14th.
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def trial(n: int, server: FeedServer, gate: StartGate, interval: float, folder: Path) -> Result:
    """One trial: its own folder, database, feed and serve."""
    result = Result(n)
    feed = Feed(n)
    url = server.route(f"/trial{n}.xml", feed)
    home = folder / f"trial{n}"
    home.mkdir()
    config = home / "allywatch.yaml"
    config.write_text(
        f"database: sqlite:///trial{n}.db\npoll_interval: {interval:g}s\n"
        f"sources:\n  - {{name: wire, url: '{url}'}}\n"
    )
    program = str(Path(sys.executable).with_name("allywatch"))
    gate.wait()
    serve = subprocess.Popen(
        [program, "--config", str(config), "serve", "--tick", f"{interval:g}s"],
        cwd=home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = Log(serve)
    try:
        _, line = log.wait_for("event=cycle_done", BASELINE_DEADLINE)
        result.baseline_cycle = _field(line, "seconds")
        time.sleep(random.uniform(0, interval))
        feed.published = True
        published = time.monotonic()
        announced, _ = log.wait_for("announced=True", interval + ALERT_SLACK)
        result.lag = announced - published
    except TrialFailed as failed:
        tail = "\n    ".join(log.tail) or "(nothing)"
        result.error = f"{failed}; serve's last lines:\n    {tail}"
    finally:
        result.cpu = cpu_seconds(serve.pid)
        serve.terminate()
        try:
            serve.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait(timeout=STOP_DEADLINE)
            result.error = (result.error or "") + f" (serve ignored SIGTERM for {STOP_DEADLINE:g}s)"
    return result


def _field(line: str, key: str) -> str | None:
    for part in line.split():
        if part.startswith(f"{key}="):
            return part[len(key) + 1 :]
    return None


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def _load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds (tick and poll)")
    parser.add_argument(
        "--concurrent", type=int, default=None, help="serves at once (default: all trials)"
    )
    parser.add_argument(
        "--stagger", type=float, default=3.0, help="seconds at least between serve starts"
    )
    args = parser.parse_args()
    concurrent = args.concurrent or args.trials
    print(
        f"{args.trials} trials, poll interval and tick {args.interval:g} s,"
        f" {concurrent} serves at once, started {args.stagger:g} s apart;"
        f" {os.cpu_count()} CPUs, load average {_load()} at start",
        flush=True,
    )
    started = time.monotonic()
    gate = StartGate(args.stagger)
    results: list[Result] = []
    peak_load = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory() as tmp,
        FeedServer() as server,
        ThreadPoolExecutor(max_workers=concurrent) as pool,
    ):
        futures = [
            pool.submit(trial, n, server, gate, args.interval, Path(tmp))
            for n in range(1, args.trials + 1)
        ]
        for future in futures:
            while True:  # sample the load while waiting; trial() has deadlines of its own
                try:
                    result = future.result(timeout=5)
                    break
                except TimeoutError:
                    peak_load = max(peak_load, os.getloadavg()[0])
            results.append(result)
            if result.lag is not None:
                print(
                    f"trial {result.n}: alert {result.lag:.2f} s after the article appeared"
                    f" (baseline cycle {result.baseline_cycle} s, serve CPU {result.cpu:.2f} s)",
                    flush=True,
                )
            else:
                print(f"trial {result.n}: FAILED: {result.error}", flush=True)
    wall = time.monotonic() - started
    peak_load = max(peak_load, os.getloadavg()[0])
    report(args, results, wall)
    print(
        f"load average {_load()} at end (1-minute load at most {peak_load:.2f} while running);"
        f" {wall:.0f} s in all; this script's own CPU"
        f" {sum(resource.getrusage(resource.RUSAGE_SELF)[:2]):.2f} s"
    )
    if any(r.lag is None for r in results):
        raise SystemExit(1)


def report(args: argparse.Namespace, results: list[Result], wall: float) -> None:
    lags = [r.lag for r in results if r.lag is not None]
    failed = [r for r in results if r.lag is None]
    print()
    if failed:
        print(f"{len(failed)} of {len(results)} trials failed: {[r.n for r in failed]}")
    if lags:
        beyond = [lag - args.interval for lag in lags]
        within = sum(b <= MAX_WAIT for b in beyond)
        print(
            "| trials | lag (min / median / max) | lag beyond the interval (min / median / max)"
            " | within interval + 10 s |\n| ---: | ---: | ---: | ---: |\n"
            f"| {len(lags)} | {_spread(lags)} s | {_spread(beyond)} s | {within} / {len(lags)} |"
        )
    cpus = [r.cpu for r in results if r.cpu is not None]
    if cpus:
        print(
            f"CPU per serve (start to stop) min / median / max {_spread(cpus)} s;"
            f" all serves {sum(cpus):.1f} s of the {wall * (os.cpu_count() or 1):.0f} CPU-seconds"
            f" the machine had in the {wall:.0f} s"
        )


if __name__ == "__main__":
    main()
