"""Several workers on one database, sharing the cycle's work.

Three worker processes run every cycle at the same moment on one PostgreSQL
database: each source must be fetched once per due time, and the database must
end up as one worker alone leaves it, with every alert raised and mailed once.
A worker killed half-way keeps its sources only until its claims run out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer, Reply
from newsworld import OUTLETS, RSS, NewsWorld, moment_arg
from procs import allywatch, start_allywatch
from smtpserver import SmtpServer
from sqlalchemy import make_url, select

from allywatch.cycle import claim_lease
from allywatch.store.engine import open_engine, reading
from allywatch.store.models import Alert, Delivery, Source, Subscriber, Transition
from allywatch.watchers.fetch_settings import FetchSettings

WORKERS = 3
QUIET_FEEDS = 30
CYCLE_STEP = timedelta(hours=12)
FEED_DELAY = 0.05  # seconds per answer, so that workers' fetches overlap

# A worker: runs one cycle for each moment read from stdin, answers with a JSON line.
WORKER = """
import json, sys
from datetime import datetime
from pathlib import Path
from allywatch.cycle import run_cycle
from allywatch.workspace import Workspace
workspace = Workspace.open(Path(sys.argv[1]))
print("ready", flush=True)
for line in sys.stdin:
    report = run_cycle(workspace, datetime.fromisoformat(line.strip()))
    print(json.dumps({
        "polled": report.polled,
        "failed": report.failed,
        "alerts": [alert.key for alert in report.alerts],
        "sent": [digest.message_id for digest in report.digests.sent],
    }), flush=True)
"""


def quiet_feed(index: int) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>quiet {index}</title><link>https://quiet{index}.example.com/</link>"
        f"<item><title>Local council {index} debates parking fees</title>"
        f"<link>https://quiet{index}.example.com/parking</link>"
        "<pubDate>Mon, 05 Jan 2026 08:00:00 GMT</pubDate></item></channel></rss>"
    ).encode()


def write_config(folder: Path, url: str, world: NewsWorld, smtp: SmtpServer) -> Path:
    """Three outlets with news and QUIET_FEEDS slow ones without, hourly; mail to `smtp`."""
    folder.mkdir(parents=True)
    sources = [f"  - {{name: {o}, url: '{world.server.url(f'/{o}.xml')}'}}" for o in OUTLETS]
    sources += [
        f"  - {{name: quiet{i:02d}, url: '{world.server.url(f'/quiet{i:02d}.xml')}'}}"
        for i in range(QUIET_FEEDS)
    ]
    lines = [
        f"database: '{url}'",
        "poll_interval: 1h",
        "fetch: {concurrency: 2, deadline: 20}",
        f"smtp: {{host: 127.0.0.1, port: {smtp.port}, from: 'allywatch <w@example.org>'}}",
        "secret: a-test-secret-of-enough-length",
        "sources:",
        *sources,
    ]
    path = folder / "allywatch.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def paths() -> list[str]:
    return [f"/{o}.xml" for o in OUTLETS] + [f"/quiet{i:02d}.xml" for i in range(QUIET_FEEDS)]


def requests_per_feed(server: FeedServer) -> Counter[str]:
    return Counter({path: len(server.requests_to(path)) for path in paths()})


def subscribe(config: Path) -> None:
    for args in (
        ["ana@example.org", "--cadence", "immediate"],
        ["ben@example.org", "--cadence", "daily", "--time", "08:00"],
    ):
        result = allywatch(config, "subscribers", "add", *args)
        assert result.returncode == 0, result.stderr


def play(config: Path, world: NewsWorld, moments: list[datetime], workers: int) -> list[list]:
    """Start `workers` processes; at each moment all of them run a cycle at once.

    Returns, per moment, each worker's report.
    """
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    try:
        for process in processes:
            assert process.stdout.readline().strip() == "ready", process.stderr.read()
        played = []
        for moment in moments:
            world.clock = moment
            for process in processes:
                process.stdin.write(moment.isoformat() + "\n")
                process.stdin.flush()
            reports = []
            for process in processes:
                line = process.stdout.readline()
                assert line, f"a worker died: {process.stderr.read()}"
                reports.append(json.loads(line))
            played.append(reports)
        return played
    finally:
        for process in processes:
            process.stdin.close()
            process.wait(timeout=60)


def outcome(url: str) -> dict[str, Any]:
    """What the cycles decided, without row ids: comparable across databases."""
    engine = open_engine(url)
    try:
        with reading(engine) as s:
            key = dict(s.execute(select(Alert.id, Alert.key)).all())
            email = dict(s.execute(select(Subscriber.id, Subscriber.email)).all())
            return {
                "transitions": sorted(
                    (t.signal, t.entity, t.from_state, t.to_state, t.at)
                    for t in s.scalars(select(Transition))
                ),
                "alerts": sorted(
                    (a.key, a.to_state or "", a.at, a.announced) for a in s.scalars(select(Alert))
                ),
                "deliveries": sorted(
                    (email[d.subscriber_id], key[d.alert_id]) for d in s.scalars(select(Delivery))
                ),
                "message_ids": {d.message_id for d in s.scalars(select(Delivery))},
            }
    finally:
        engine.dispose()


@pytest.fixture
def world(feed_server: FeedServer) -> NewsWorld:
    world = NewsWorld(feed_server)
    for i in range(QUIET_FEEDS):
        feed_server.route(
            f"/quiet{i:02d}.xml",
            Reply(body=quiet_feed(i), headers={"Content-Type": RSS}, delay=FEED_DELAY),
        )
    return world


def test_three_workers_fetch_each_source_once_and_alert_once(
    world: NewsWorld, smtp_server: SmtpServer, postgres_url: str, tmp_path: Path
) -> None:
    moments = [world.start + k * CYCLE_STEP for k in range(9)]  # four days, twice a day

    # The reference: one worker alone, on SQLite.
    alone = write_config(
        tmp_path / "alone", f"sqlite:///{tmp_path / 'alone.db'}", world, smtp_server
    )
    subscribe(alone)
    play(alone, world, moments, workers=1)
    expected = outcome(f"sqlite:///{tmp_path / 'alone.db'}")
    assert expected["alerts"] and expected["deliveries"]

    fetched_before = requests_per_feed(world.server)
    mailed_before = len(smtp_server.messages)
    shared = write_config(tmp_path / "shared", postgres_url, world, smtp_server)
    subscribe(shared)
    played = play(shared, world, moments, workers=WORKERS)

    reports = [report for cycle in played for report in cycle]
    assert all(report["failed"] == [] for report in reports)
    # Every source once per due time (every cycle: they come 8 hours apart, sources are hourly).
    fetched = requests_per_feed(world.server) - fetched_before
    assert fetched == Counter({path: len(moments) for path in paths()})
    assert [sum(r["polled"] for r in cycle) for cycle in played] == [len(paths())] * len(moments)
    # ...and the workers did share them.
    assert all(sum(cycle[w]["polled"] for cycle in played) > 0 for w in range(WORKERS))

    # The same decisions as one worker alone; each alert raised by one worker, mailed once.
    got = outcome(postgres_url)
    assert got["transitions"] == expected["transitions"]
    assert got["alerts"] == expected["alerts"]
    assert got["deliveries"] == expected["deliveries"]
    raised = [key for r in reports for key in r["alerts"]]
    assert sorted(raised) == sorted(key for key, *_ in got["alerts"])
    sent = [message_id for r in reports for message_id in r["sent"]]
    mailed = [m["Message-ID"] for m in smtp_server.messages[mailed_before:]]
    assert sorted(sent) == sorted(mailed)
    assert len(set(mailed)) == len(mailed)
    assert set(mailed) >= got["message_ids"]


SLOW = 60.0  # seconds: the feed that keeps the doomed worker busy until it is killed


@pytest.mark.slow
def test_a_killed_workers_sources_wait_until_its_claims_run_out(
    world: NewsWorld, smtp_server: SmtpServer, database_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "w", database_url, world, smtp_server)
    world.server.route(
        "/quiet00.xml", Reply(body=quiet_feed(0), headers={"Content-Type": RSS}, delay=SLOW)
    )
    start = world.start
    world.clock = start
    doomed = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from allywatch.cli import main; main(prog_name='allywatch')",
            "--config",
            str(config),
            "run",
            "--clock",
            moment_arg(start),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        claimed = wait_for_claim(database_url, "quiet00", doomed)
    finally:
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait()
    # The doomed worker's claims covered the sources it had not finished.
    assert "quiet00" in claimed
    world.server.route("/quiet00.xml", Reply(body=quiet_feed(0), headers={"Content-Type": RSS}))
    before = len(world.server.requests_to("/quiet00.xml"))

    # At most: on SQLite the worker claims every source at once.
    lease = claim_lease(FetchSettings(concurrency=2, deadline=20), len(paths()))
    soon = start + timedelta(minutes=1)
    result = allywatch(config, "run", "--clock", moment_arg(soon), "--wait", "30s")
    assert result.returncode == 0, result.stderr
    assert len(world.server.requests_to("/quiet00.xml")) == before
    assert claims_of(database_url)["quiet00"] is not None

    later = start + lease + timedelta(seconds=1)
    result = allywatch(config, "run", "--clock", moment_arg(later), "--wait", "30s")
    assert result.returncode == 0, result.stderr
    assert len(world.server.requests_to("/quiet00.xml")) == before + 1
    assert set(claims_of(database_url).values()) == {None}


def claims_of(url: str) -> dict[str, str | None]:
    """Each source's claimant; nothing while the run has not created its database yet
    (opening a missing SQLite file would create an empty one, which allywatch refuses)."""
    database = make_url(url).database
    if url.startswith("sqlite") and database and not Path(database).exists():
        return {}
    engine = open_engine(url)
    try:
        with reading(engine) as session:
            return {s.name: s.claimed_by for s in session.scalars(select(Source))}
    except Exception:  # the tables may not exist yet
        return {}
    finally:
        engine.dispose()


def wait_for_claim(url: str, name: str, process: subprocess.Popen) -> set[str]:
    """Wait until `process` holds a claim on source `name`; the names it holds then."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        holders = claims_of(url)
        if holders.get(name):
            return {source for source, worker in holders.items() if worker}
        time.sleep(0.1)
    raise AssertionError(f"no claim on {name} within 60 s")


def test_two_serves_on_postgresql_both_run(postgres_url: str, tmp_path: Path) -> None:
    """On PostgreSQL a second `serve` is another worker, not a conflict: both start."""
    config = tmp_path / "allywatch.yaml"
    config.write_text(f"database: {postgres_url}\nsources: []\n", encoding="utf-8")
    workers = [start_allywatch(config, "serve", "--tick", "1s") for _ in range(2)]
    try:
        time.sleep(6)
        assert [w.poll() for w in workers] == [None, None]
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        assert [w.wait(timeout=60) for w in workers] == [0, 0]
