"""allywatch next to its peers on the same local feeds: rss2email and a bare httpx+feedparser loop.

Serves 100 RSS feeds of 50 real items each (5,000 items of the evaluation
corpus /work/shared/eval/noise2022.jsonl.gz, see outside_data.py; without it
the benchmark says so and exits 0) from one server on 127.0.0.1, in a process
of its own, answering every request (200 or 304) after 100 ms. Each tool then
runs two cycles as cron would run it, in a fresh process each time:

  cold   its first run on a new state (every feed answers 200 with 50 items),
  quiet  its next run (every feed answers 304 to the conditional request).

The tools: `allywatch run` (a new SQLite file, the built-in signals, each
`--variant` a config addition of its own); `r2e run --no-send` (rss2email 3.14,
installed with pip into a venv of the benchmark's own, `--peer-venv`, made on
first use); and a bare loop (httpx.AsyncClient, 16 concurrent requests with
ETag/Last-Modified, feedparser.parse with its defaults, seen ids kept in a
JSON file), which is about the least a feed poller can do.

For each run: wall time; CPU time of the whole process tree (this process
makes itself the subreaper of what it starts, so workers and fork servers that
outlive their parent are reaped and counted too); peak memory as the sum of
each process's peak resident set (VmHWM, sampled every 20 ms: wait4's
ru_maxrss would count the copy of this process forked before exec). The tools
take turns in every round; the tables give the min and median of `--rounds`
rounds, and ratios of medians taken in this one run. The machine these run on
is shared and noisy: compare ratios, not seconds.

    .venv/bin/python bench/bench_peers.py [--rounds 3] [--variant 'NAME=YAML' ...] [--baseline DIR]

--baseline DIR (repeatable) also runs `allywatch run` with PYTHONPATH set to DIR,
an exported older commit, in the same rounds, named after DIR's last part: a
change's effect as a ratio within one run. Each DIR is compiled to bytecode first, as
an installed package is: an export has none, and with PYTHONDONTWRITEBYTECODE set
every run would compile its modules anew, a cost no installed tool pays.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import ctypes
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.request import urlopen

FEEDS = 100
ITEMS_PER_FEED = 50
LATENCY = 0.1
BARE_CONCURRENCY = 16
SAMPLE_EVERY = 0.02
PR_SET_CHILD_SUBREAPER = 36
RSS2EMAIL = "rss2email==3.14"


@dataclass
class Run:
    wall: float
    cpu: float
    peak_mb: float
    processes: int
    answers: dict[str, int] = field(default_factory=dict)


@dataclass
class Tool:
    """How to prepare a tool's state in a folder, and the command line of one cycle there."""

    name: str
    setup: Callable[[Path], None]
    command: Callable[[Path], list[str]]
    env: dict[str, str] | None = None  # None: this process's


# --- the feed server (a process of its own, so its work is not counted) -------------


def serve(folder: Path, latency: float) -> None:
    """Serve every file of `folder` after `latency`; print the URLs; stop when stdin closes.

    GET /answers gives (and resets) how many 200 and 304 answers went out.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.feedserver import FeedServer, Reply, Seen

    answers = {"200": 0, "304": 0}
    lock = threading.Lock()

    def counted(reply: Reply) -> Callable[[Seen], Reply]:
        def answer(seen: Seen) -> Reply:
            fresh = seen.headers.get("if-none-match") == reply.etag or (
                seen.headers.get("if-modified-since") == reply.last_modified
            )
            with lock:
                answers["304" if fresh else "200"] += 1
            return reply

        return answer

    def report(seen: Seen) -> Reply:
        with lock:
            body = json.dumps(answers).encode()
            answers.update({"200": 0, "304": 0})
        return Reply(body=body)

    with FeedServer() as server:
        urls = []
        for path in sorted(folder.glob("*.xml")):
            reply = Reply(
                body=path.read_bytes(),
                delay=latency,
                etag=f'"{path.stem}-v1"',
                last_modified="Mon, 02 Jan 2023 10:00:00 GMT",
                headers={"Content-Type": "application/rss+xml; charset=utf-8"},
            )
            urls.append(server.route(f"/{path.name}", counted(reply)))
        server.route("/answers", report)
        print(json.dumps({"urls": urls, "answers": server.url("/answers")}), flush=True)
        sys.stdin.read()


# --- the bare loop --------------------------------------------------------------------


def bare_cycle(urls_file: Path, state_file: Path) -> None:
    """One cycle of the least a poller can do: conditional GETs, feedparser, seen ids."""
    import feedparser
    import httpx

    urls = json.loads(urls_file.read_text())
    state = json.loads(state_file.read_text()) if state_file.exists() else {}

    async def cycle() -> dict:
        slots = asyncio.Semaphore(BARE_CONCURRENCY)
        async with httpx.AsyncClient(timeout=60) as client:

            async def one(url: str) -> tuple[str, dict]:
                known = state.get(url, {})
                headers = {}
                if known.get("etag"):
                    headers["If-None-Match"] = known["etag"]
                if known.get("modified"):
                    headers["If-Modified-Since"] = known["modified"]
                async with slots:
                    response = await client.get(url, headers=headers)
                if response.status_code == 304:
                    return url, known
                feed = feedparser.parse(response.content, response_headers=dict(response.headers))
                seen = set(known.get("seen", []))
                seen.update(entry.get("id") or entry.get("link") for entry in feed.entries)
                return url, {
                    "etag": response.headers.get("etag"),
                    "modified": response.headers.get("last-modified"),
                    "seen": sorted(seen),
                }

            return dict(await asyncio.gather(*(one(url) for url in urls)))

    state_file.write_text(json.dumps(asyncio.run(cycle())))


# --- measuring a process tree ----------------------------------------------------------


def _ppids() -> dict[int, int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return parents


def _hwm_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), None)
    return int(line.split()[1]) if line else 0


class TreeSampler(threading.Thread):
    """Each process's peak memory in the tree below `root` and in what this process adopts."""

    def __init__(self, root: int, ignore: set[int]) -> None:
        super().__init__(daemon=True)
        self.root, self.ignore = root, ignore
        self.hwm: dict[int, int] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(SAMPLE_EVERY)

    def sample(self) -> None:
        parents = _ppids()
        me = os.getpid()
        tree = {self.root} | {p for p, pp in parents.items() if pp == me} - self.ignore
        grew = True
        while grew:
            more = {p for p, pp in parents.items() if pp in tree} - tree
            tree |= more
            grew = bool(more)
        for pid in tree - {me}:
            self.hwm[pid] = max(self.hwm.get(pid, 0), _hwm_kb(pid))


def measure(
    command: list[str], cwd: Path, server_pid: int, env: dict[str, str] | None = None
) -> Run:
    """Run `command` to its end (and every process it leaves behind); its tree's cost."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(cwd / "out.log", "ab") as log:
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    sampler = TreeSampler(child.pid, {server_pid})
    sampler.start()
    _, status = os.waitpid(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    # Orphans (a fork server, its workers) were adopted by this process: reap them too.
    while orphans := [
        pid for pid, parent in _ppids().items() if parent == os.getpid() and pid != server_pid
    ]:
        sampler.sample()
        for pid in orphans:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    sampler.done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if child.returncode != 0:
        tail = (cwd / "out.log").read_text(errors="replace")[-2000:]
        raise SystemExit(f"{' '.join(command)} exited {child.returncode}:\n{tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu, sum(sampler.hwm.values()) / 1024, len(sampler.hwm))


# --- the tools ------------------------------------------------------------------------


def allywatch_tool(name: str, urls: list[str], extra: str = "", tree: Path | None = None) -> Tool:
    """allywatch as installed, or the code of another `tree` (an exported older commit)."""
    program = str(Path(sys.executable).with_name("allywatch"))
    env = None if tree is None else {**os.environ, "PYTHONPATH": str(tree.resolve())}

    def setup(folder: Path) -> None:
        sources = "".join(f"  - {{name: feed{n:03d}, url: '{u}'}}\n" for n, u in enumerate(urls))
        (folder / "allywatch.yaml").write_text(
            f"database: sqlite:///allywatch.db\npoll_interval: 1s\n{extra}\nsources:\n{sources}"
        )

    return Tool(name, setup, lambda folder: [program, "--config", "allywatch.yaml", "run"], env)


def rss2email_tool(venv: Path, urls: list[str]) -> Tool:
    program = str(venv / "bin" / "r2e")

    def setup(folder: Path) -> None:
        subprocess.run(
            [program, "-c", "r2e.cfg", "-d", "r2e.json", "new", "bench@example.org"],
            cwd=folder,
            check=True,
            capture_output=True,
        )
        sections = "".join(f"\n[feed.feed{n:03d}]\nurl = {u}\n" for n, u in enumerate(urls))
        with open(folder / "r2e.cfg", "a") as config:
            config.write(sections)
        feeds = [
            {"name": f"feed{n:03d}", "etag": None, "modified": None, "seen": {}}
            for n in range(len(urls))
        ]
        (folder / "r2e.json").write_text(json.dumps({"version": 2, "feeds": feeds}))

    return Tool(
        "rss2email",
        setup,
        lambda folder: [program, "-c", "r2e.cfg", "-d", "r2e.json", "run", "--no-send"],
    )


def bare_tool(urls: list[str]) -> Tool:
    def setup(folder: Path) -> None:
        (folder / "urls.json").write_text(json.dumps(urls))

    return Tool(
        "httpx+feedparser",
        setup,
        lambda folder: [sys.executable, __file__, "--bare", "urls.json", "state.json"],
    )


def peer_venv(path: Path) -> Path | None:
    """A venv with rss2email, made on first use; None (and why) when pip cannot install it."""
    if (path / "bin" / "r2e").exists():
        return path
    print(f"installing {RSS2EMAIL} into {path} ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run(
            [str(path / "bin" / "pip"), "install", "-q", RSS2EMAIL], check=True, capture_output=True
        )
    except subprocess.CalledProcessError as exc:
        print(f"rss2email left out: cannot install it ({exc})")
        shutil.rmtree(path, ignore_errors=True)
        return None
    return path


# --- the report -----------------------------------------------------------------------


def _answers(url: str) -> dict[str, int]:
    with urlopen(url) as response:
        return json.loads(response.read())


def table(results: dict[str, dict[str, list[Run]]], cycle: str, against: list[str]) -> None:
    """One markdown table: each tool's min / median, and ratios of medians to `against`."""
    medians = {
        tool: {k: statistics.median(getattr(r, k) for r in runs[cycle]) for k in ("wall", "cpu")}
        for tool, runs in results.items()
    }
    head = "| tool | wall (min / median) | CPU, whole tree (min / median) | peak memory, summed |"
    against = [peer for peer in against if peer in medians]
    head += "".join(f" CPU vs {peer} |" for peer in against)
    print(f"\n{cycle} cycle:\n\n{head}")
    print("| --- | ---: | ---: | ---: |" + " ---: |" * len(against))
    for tool, runs in results.items():
        cells = []
        for key, unit in (("wall", "s"), ("cpu", "s")):
            values = [getattr(r, key) for r in runs[cycle]]
            cells.append(f"{min(values):.2f} / {medians[tool][key]:.2f} {unit}")
        peaks = [r.peak_mb for r in runs[cycle]]
        processes = max(r.processes for r in runs[cycle])
        cells.append(f"{min(peaks):.0f} / {statistics.median(peaks):.0f} MB ({processes} proc.)")
        cells += [f"{medians[tool]['cpu'] / medians[peer]['cpu']:.2f}x" for peer in against]
        print(f"| {tool} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=LATENCY)
    parser.add_argument(
        "--peer-venv", type=Path, default=Path(tempfile.gettempdir()) / "allywatch-bench-peers"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=YAML",
        help="also run allywatch with this config addition: 'per_host 10=fetch: {per_host: 10}'",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        action="append",
        default=[],
        help="also run allywatch from this tree (`git archive REV | tar -x -C DIR`); repeatable",
    )
    parser.add_argument("--json", type=Path, help="also write every run here")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bare", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.latency)
    if args.bare:
        return bare_cycle(*args.bare)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_parse import load_items
    from outside_data import NOISE_CORPUS

    items = load_items(args.corpus or NOISE_CORPUS)[: FEEDS * ITEMS_PER_FEED]
    baselines = [f"allywatch, {tree.name}" for tree in args.baseline]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit("cannot become a subreaper: the CPU of orphaned workers would be lost")
    venv = peer_venv(args.peer_venv)
    with (
        tempfile.TemporaryDirectory() as tmp,
        served_feeds(Path(tmp), items, args.latency) as served,
    ):
        urls = served.urls
        tools = [allywatch_tool("allywatch", urls)]
        for name, tree in zip(baselines, args.baseline, strict=True):
            compileall.compile_dir(tree, quiet=1)
            tools.append(allywatch_tool(name, urls, tree=tree))
        for variant in args.variant:
            name, _, extra = variant.partition("=")
            tools.append(allywatch_tool(f"allywatch, {name}", urls, extra))
        if venv is not None:
            tools.append(rss2email_tool(venv, urls))
        tools.append(bare_tool(urls))
        results = run_rounds(tools, Path(tmp), args.rounds, served.pid, served.answers)
    print(
        f"\n{FEEDS} feeds x {ITEMS_PER_FEED} items on 127.0.0.1, every answer after"
        f" {args.latency * 1000:.0f} ms; min / median of {args.rounds} rounds,"
        f" ratios of medians; load average {os.getloadavg()[0]:.1f} at the end"
    )
    against = ["rss2email", "httpx+feedparser", *baselines]
    for cycle in ("cold", "quiet"):
        table(results, cycle, against)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    tool: {cycle: [vars(r) for r in runs] for cycle, runs in cycles.items()}
                    for tool, cycles in results.items()
                },
                indent=1,
            )
        )


@dataclass
class ServedFeeds:
    """The feed server's process and what it serves: the feeds' URLs, and the URL at
    which it counts its answers by status."""

    pid: int
    urls: list[str]
    answers: str


@contextlib.contextmanager
def served_feeds(folder: Path, items: list[Any], latency: float = LATENCY) -> Iterator[ServedFeeds]:
    """The benchmark's FEEDS feeds of `items`, written under `folder` and served by a
    process of their own (`--serve`)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_parse import build_feeds

    feeds = folder / "feeds"
    feeds.mkdir()
    for n, document in enumerate(build_feeds(items, FEEDS)):
        (feeds / f"feed{n:03d}.xml").write_bytes(document)
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(feeds), "--latency", str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        served = json.loads(server.stdout.readline())
        yield ServedFeeds(server.pid, served["urls"], served["answers"])
    finally:
        server.stdin.close()
        server.wait(timeout=30)


def run_rounds(
    tools: list[Tool], tmp: Path, rounds: int, server_pid: int, answers_url: str
) -> dict[str, dict[str, list[Run]]]:
    results: dict[str, dict[str, list[Run]]] = {t.name: {"cold": [], "quiet": []} for t in tools}
    for round_ in range(rounds):
        for tool in tools:
            folder = tmp / f"{round_}-{tool.name.replace(' ', '_')}"
            folder.mkdir()
            tool.setup(folder)
            _answers(answers_url)
            for cycle in ("cold", "quiet"):
                if cycle == "quiet":
                    time.sleep(1.2)  # allywatch's poll_interval (1s) has passed
                run = measure(tool.command(folder), folder, server_pid, tool.env)
                run.answers = _answers(answers_url)
                results[tool.name][cycle].append(run)
                print(
                    f"round {round_ + 1} {tool.name} {cycle}: {run.wall:.2f} s wall,"
                    f" {run.cpu:.2f} s CPU, {run.peak_mb:.0f} MB in {run.processes}"
                    f" processes, answers {run.answers}",
                    flush=True,
                )
            shutil.rmtree(folder)
    return results


if __name__ == "__main__":
    main()
