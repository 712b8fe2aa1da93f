"""Fetching 200 slow feeds: concurrency against the ideal, and what a 304 round costs.

A separate server process (so that its work is not counted as ours) serves the
200 RSS files built by bench_parse.py from the evaluation corpus (100 real
items each), spread over 8 loopback addresses (127.0.0.1-8, so the per-host
limit does not hide the global one). Every answer, 200 or 304, comes after
250 ms.

  1. one cycle at the default settings: fetch all (wall time against the ideal
     ceil(200 / concurrency) x 0.25 s), then parse every body;
  2. the same feeds one by one (concurrency 1);
  3. a second cycle sending the stored ETag / Last-Modified: every feed answers
     304, nothing is parsed. Its cost (CPU time of this process, wall time) is
     compared with cycle 1, once with the 304s also delayed 250 ms and once with
     a server answering them at once.

    .venv/bin/python bench/bench_fetch.py [--corpus PATH] [--skip-serial]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_parse import build_feeds, load_items  # noqa: E402
from feedserver import FeedServer, Reply, Seen  # noqa: E402
from outside_data import NOISE_CORPUS  # noqa: E402

from allywatch.watchers.fetch import FetchRequest, fetch_all_sync  # noqa: E402
from allywatch.watchers.fetch_settings import FetchSettings  # noqa: E402
from allywatch.watchers.parse import parse_feed  # noqa: E402

HOSTS = [f"127.0.0.{i}" for i in range(1, 9)]
DELAY = 0.25


def serve(folder: Path) -> None:
    """Server process: serve every file of `folder`; print the URLs; stop when stdin closes.

    Each file is served twice: under /slow/ every answer waits DELAY; under
    /fast/ a matching conditional request is answered 304 at once, as a server
    answering from its cache would.
    """
    servers = [FeedServer(host).__enter__() for host in HOSTS]
    urls = []
    for n, path in enumerate(sorted(folder.glob("*.xml"))):
        server = servers[n % len(servers)]
        reply = Reply(
            body=path.read_bytes(),
            delay=DELAY,
            etag=f'"{path.stem}-v1"',
            last_modified="Mon, 02 Jan 2023 10:00:00 GMT",
            headers={"Content-Type": "application/rss+xml; charset=utf-8"},
        )
        urls.append(server.route(f"/slow/{path.name}", reply))
        server.route(f"/fast/{path.name}", _cheap_304(reply))
    print(json.dumps(urls), flush=True)
    sys.stdin.read()
    for server in servers:
        server.stop()


def _cheap_304(reply: Reply) -> Callable[[Seen], Reply]:
    def answer(seen: Seen) -> Reply:
        if seen.headers.get("if-none-match") == reply.etag:
            return Reply(status=304, etag=reply.etag)
        return reply

    return answer


def timed_fetch(requests: list[FetchRequest], settings: FetchSettings) -> tuple[list, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    results = fetch_all_sync(requests, settings)
    return results, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=NOISE_CORPUS)
    parser.add_argument("--skip-serial", action="store_true", help="skip the one-by-one run")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    documents = build_feeds(load_items(args.corpus))
    with tempfile.TemporaryDirectory() as folder:
        for n, body in enumerate(documents):
            (Path(folder) / f"feed{n:03d}.xml").write_bytes(body)
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", folder],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            urls = json.loads(server.stdout.readline())
            run(urls, skip_serial=args.skip_serial)
        finally:
            server.stdin.close()
            server.wait(timeout=30)


def run(urls: list[str], skip_serial: bool) -> None:
    settings = FetchSettings()
    requests = [FetchRequest(f"feed {n}", url) for n, url in enumerate(urls)]
    ideal = math.ceil(len(urls) / settings.concurrency) * DELAY
    print(
        f"{len(urls)} feeds on {len(HOSTS)} loopback hosts, each answering after {DELAY * 1000:.0f}"
        f" ms; concurrency {settings.concurrency}, per host {settings.per_host}"
    )

    results, fetch_wall, fetch_cpu = timed_fetch(requests, settings)
    assert all(r.status == "ok" for r in results), [r.error for r in results if r.error]
    megabytes = sum(len(r.body or b"") for r in results) / 1e6
    wall, cpu = time.perf_counter(), time.process_time()
    now = datetime.now(UTC)
    articles = sum(
        len(parse_feed(r.body or b"", r.headers, r.name, r.final_location, now)) for r in results
    )
    parse_wall, parse_cpu = time.perf_counter() - wall, time.process_time() - cpu
    cycle_wall, cycle_cpu = fetch_wall + parse_wall, fetch_cpu + parse_cpu
    print(
        f"cycle 1 fetch: {fetch_wall:.2f} s wall ({megabytes:.1f} MB), ideal {ideal:.2f} s,"
        f" ratio {fetch_wall / ideal:.2f}x; CPU {fetch_cpu:.2f} s"
    )
    print(f"cycle 1 parse: {parse_wall:.2f} s wall, {articles} articles; CPU {parse_cpu:.2f} s")

    if not skip_serial:
        serial = FetchSettings(concurrency=1, per_host=1)
        _, serial_wall, _ = timed_fetch(requests, serial)
        print(
            f"one by one fetch: {serial_wall:.2f} s wall"
            f" ({serial_wall / fetch_wall:.1f}x the concurrent fetch)"
        )

    conditional = [
        FetchRequest(r.name, r.final_location, etag=r.etag, last_modified=r.last_modified)
        for r in results
    ]
    again, again_wall, again_cpu = timed_fetch(conditional, settings)
    assert all(r.status == "not-modified" for r in again)
    print(
        f"cycle 2 (all 304 after {DELAY * 1000:.0f} ms, nothing to parse): {again_wall:.2f} s"
        f" wall, CPU {again_cpu:.2f} s"
    )
    cached = [
        FetchRequest(r.name, r.location.replace("/slow/", "/fast/"), r.etag, r.last_modified)
        for r in conditional
    ]
    fast, fast_wall, fast_cpu = timed_fetch(cached, settings)
    assert all(r.status == "not-modified" for r in fast)
    print(f"cycle 2 (all 304 at once): {fast_wall:.2f} s wall, CPU {fast_cpu:.2f} s")
    print(
        f"cycle 2 / cycle 1 (fetch + parse): CPU {again_cpu / cycle_cpu:.1%};"
        f" wall {again_wall / cycle_wall:.1%} with delayed 304s (latency-bound),"
        f" {fast_wall / cycle_wall:.1%} with immediate 304s"
    )


if __name__ == "__main__":
    main()
