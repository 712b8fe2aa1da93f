"""`allywatch serve` as a real process: polls on schedule, one per database, stops cleanly."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from feedserver import FeedServer, Reply
from procs import allywatch, start_allywatch
from smtpserver import SmtpServer
from sqlalchemy import select

from allywatch.cycle_plan import CycleReport
from allywatch.runlock import CYCLE, RunLock
from allywatch.serve import Server, kv
from allywatch.store.engine import open_engine, reading
from allywatch.store.models import ArticleRow, Run
from allywatch.workspace import Workspace

RSS = "application/rss+xml; charset=utf-8"


def feed(
    *links: str, title: str = "Report", published: str = "Mon, 06 Jan 2025 10:00:00 GMT"
) -> Reply:
    items = "".join(
        f"<item><title>{title} {link}</title><link>https://news.example.com/{link}</link>"
        f"<pubDate>{published}</pubDate></item>"
        for link in links
    )
    body = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )
    return Reply(body=body.encode(), headers={"Content-Type": RSS})


class Serving:
    """A running `allywatch serve` whose log lines are collected as they come."""

    def __init__(self, config: Path, *args: str) -> None:
        self.process = start_allywatch(config, "serve", *args)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, text: str, count: int = 1, timeout: float = 30) -> None:
        """Until `count` log lines contain `text`."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: sum(text in line for line in self.lines) >= count, timeout
            )
        assert found, f"no {count} x {text!r} in:\n" + "\n".join(self.lines)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def events(self) -> list[str]:
        return [line.split("event=")[1].split()[0] for line in self.lines if "event=" in line]


def write_config(
    folder: Path,
    sources: dict[str, tuple[str, str]],
    *extra: str,
    database: str = "sqlite:///watch.db",
) -> Path:
    """sources: name -> (url, interval); `extra`: more lines."""
    lines = [f"database: '{database}'", *extra, "sources:" if sources else "sources: []"]
    lines += [f"  - {{name: {n}, url: '{u}', interval: {i}}}" for n, (u, i) in sources.items()]
    config = folder / "allywatch.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def runs(database: str) -> list[str]:
    with reading(open_engine(database)) as session:
        return list(session.scalars(select(Run.status).order_by(Run.id)))


def article_links(database: str) -> set[str]:
    with reading(open_engine(database)) as session:
        return set(session.scalars(select(ArticleRow.link)))


@pytest.fixture
def serving() -> Iterator[list[Serving]]:
    started: list[Serving] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


@pytest.mark.slow
def test_serve_polls_each_source_at_its_own_interval_and_stops_on_sigterm(
    tmp_path: Path, feed_server: FeedServer, serving: list[Serving], database_url: str
) -> None:
    fast = feed_server.route("/fast.xml", feed("f1"))
    slow = feed_server.route("/slow.xml", feed("s1"))
    config = write_config(
        tmp_path, {"fast": (fast, "2s"), "slow": (slow, "1h")}, database=database_url
    )
    server = Serving(config, "--tick", "1s")
    serving.append(server)
    server.wait_for("event=cycle_done", count=5)
    assert server.stop() == 0

    assert len(feed_server.requests_to("/slow.xml")) == 1
    assert len(feed_server.requests_to("/fast.xml")) >= 2
    assert article_links(database_url) == {
        "https://news.example.com/f1",
        "https://news.example.com/s1",
    }
    assert set(runs(database_url)) <= {"ok"}
    # On a fresh database the schema's creation is logged first (as event=log lines).
    events = [event for event in server.events() if event != "log"]
    assert events[0] == "started" and events[-2:] == ["stopping", "stopped"]
    assert all(line.startswith("time=") and " level=" in line for line in server.lines)
    first_done = next(line for line in server.lines if "event=cycle_done" in line)
    assert "polled=2" in first_done and "new_articles=2" in first_done
    # The lease is given back: a cron run can start at once.
    assert allywatch(config, "run", "--wait", "0").returncode == 0


@pytest.mark.slow
def test_a_second_serve_on_the_same_database_refuses_to_start(
    tmp_path: Path, feed_server: FeedServer, serving: list[Serving], database_url: str
) -> None:
    if database_url.startswith("postgresql"):
        pytest.skip("on PostgreSQL serves are workers side by side (tests/test_workers.py)")
    config = write_config(
        tmp_path, {"a": (feed_server.route("/a.xml", feed("a1")), "1h")}, database=database_url
    )
    first = Serving(config, "--tick", "1s")
    serving.append(first)
    first.wait_for("event=cycle_done")
    second = allywatch(config, "serve", timeout=60)
    assert second.returncode == 1
    assert "another `allywatch serve` is running on this database" in second.stderr
    assert f"pid {first.process.pid}" in second.stderr
    assert first.process.poll() is None
    assert first.stop(signal.SIGINT) == 0
    # Once the first has stopped, a new one starts.
    third = Serving(config, "--tick", "1s")
    serving.append(third)
    third.wait_for("event=cycle_done")
    assert third.stop() == 0


@pytest.mark.slow
def test_sigterm_lets_the_cycle_in_progress_finish(
    tmp_path: Path, feed_server: FeedServer, serving: list[Serving], database_url: str
) -> None:
    slow = Reply(**{**feed("late").__dict__, "delay": 3.0})
    config = write_config(
        tmp_path,
        {
            "quick": (feed_server.route("/quick.xml", feed("q1")), "1h"),
            "late": (feed_server.route("/late.xml", slow), "1h"),
        },
        database=database_url,
    )
    server = Serving(config, "--tick", "1s")
    serving.append(server)
    deadline = time.monotonic() + 30
    while not feed_server.requests_to("/late.xml"):
        assert time.monotonic() < deadline, "\n".join(server.lines)
        time.sleep(0.05)
    assert server.stop() == 0
    events = server.events()
    assert events.index("stopping") < events.index("cycle_done") < events.index("stopped")
    assert article_links(database_url) == {
        "https://news.example.com/q1",
        "https://news.example.com/late",
    }
    assert runs(database_url) == ["ok"]


@pytest.mark.slow
def test_serve_skips_its_tick_while_a_cron_run_holds_the_database(
    tmp_path: Path, feed_server: FeedServer, serving: list[Serving], database_url: str
) -> None:
    if database_url.startswith("postgresql"):
        pytest.skip("on PostgreSQL serves are workers side by side (tests/test_workers.py)")
    config = write_config(
        tmp_path, {"a": (feed_server.route("/a.xml", feed("a1")), "1h")}, database=database_url
    )
    assert allywatch(config, "run").returncode == 0
    lock = RunLock(open_engine(database_url), CYCLE).acquire()
    server = Serving(config, "--tick", "1s")
    serving.append(server)
    server.wait_for("event=cycle_skipped", count=2)
    assert runs(database_url) == ["ok"]
    lock.release()
    server.wait_for("event=cycle_done")
    assert server.stop() == 0


def test_a_tick_below_one_second_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, {})
    result = allywatch(config, "serve", "--tick", "0.5s")
    assert result.returncode == 2
    assert "--tick" in result.stderr and "at least 1s" in result.stderr
    assert not (tmp_path / "watch.db").exists()


def test_bad_tick_spelling_is_refused(tmp_path: Path) -> None:
    result = allywatch(write_config(tmp_path, {}), "serve", "--tick", "soon")
    assert result.returncode == 2
    assert "expected a duration" in result.stderr


@pytest.mark.slow
def test_serve_stops_cleanly_between_ticks(
    tmp_path: Path, serving: list[Serving], database_url: str
) -> None:
    server = Serving(write_config(tmp_path, {}, database=database_url), "--tick", "1h")
    serving.append(server)
    server.wait_for("event=cycle_done")
    started = time.monotonic()
    assert server.stop(signal.SIGINT) == 0
    assert time.monotonic() - started < 10
    assert runs(database_url) == ["ok"]


@pytest.mark.slow
def test_serve_raises_an_alert_after_the_poll_that_brings_it_and_mails_it_once(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer, serving: list[Serving]
) -> None:
    feed_server.route("/wire.xml", feed())
    config = write_config(
        tmp_path,
        {"wire": (feed_server.url("/wire.xml"), "2s")},
        f"smtp: {{host: 127.0.0.1, port: {smtp_server.port}}}",
        "secret: a-test-secret-of-enough-length",
    )
    added = allywatch(config, "subscribers", "add", "analyst@example.org", "--cadence", "immediate")
    assert added.returncode == 0, added.stderr
    server = Serving(config, "--tick", "1s")
    serving.append(server)
    server.wait_for("event=cycle_done")
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True)
    feed_server.route(
        "/wire.xml",
        feed(
            "su35",
            title="Iran finalises deal to buy Su-35 fighter jets from Russia",
            published=soon,
        ),
    )
    server.wait_for("event=digest_sent")
    server.wait_for("event=cycle_done", count=sum("cycle_done" in x for x in server.lines) + 2)
    assert server.stop() == 0

    alerts = [line for line in server.lines if "event=alert " in line]
    assert len(alerts) == 1 and "signal=su35-iran" in alerts[0] and "announced=True" in alerts[0]
    assert [str(m["To"]) for m in smtp_server.messages] == ["analyst@example.org"]
    assert "Su-35" in smtp_server.messages[0].get_body(("plain",)).get_content()


def test_a_failing_cycle_is_logged_and_the_next_tick_goes_ahead(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    workspace = Workspace.open(write_config(tmp_path, {}, "signals: []"))
    calls = []

    def cycle(_workspace: Workspace) -> CycleReport:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk full")
        return CycleReport()

    server = Server(workspace, tick=timedelta(seconds=1), cycle=cycle)
    with caplog.at_level(logging.INFO, logger="allywatch.serve"):
        server.tick_once()
        server.tick_once()
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "event=cycle_failed" and "disk full" in caplog.records[0].exc_text
    assert messages[1].startswith("event=cycle_done seconds=")
    assert len(calls) == 2


def test_log_values_stay_on_one_line_and_parse_back() -> None:
    line = kv("alert", message='Iran: "deal" = done\nnext', signal="su35-iran", entity="")
    assert "\n" not in line
    assert line.startswith("event=alert message=") and 'signal=su35-iran entity=""' in line
    assert json.loads(line.split("message=")[1].split(" signal=")[0]) == 'Iran: "deal" = done\nnext'


def test_a_stop_during_start_up_is_not_lost(tmp_path: Path) -> None:
    workspace = Workspace.open(write_config(tmp_path, {}, "signals: []"))
    server = Server(workspace, tick=timedelta(hours=1), cycle=lambda _w: CycleReport())
    server.stop("before start")
    # A safety net, so that a lost stop fails the test instead of hanging it.
    net = threading.Timer(30, lambda: server.scheduler.shutdown(wait=False))
    net.start()
    started = time.monotonic()
    try:
        server.run()
    finally:
        net.cancel()
    assert time.monotonic() - started < 10
    # The serve lease is given back.
    with RunLock(workspace.engine, "serve").acquire():
        pass


def test_a_stop_during_a_cycle_lets_it_finish_and_runs_no_other(tmp_path: Path) -> None:
    workspace = Workspace.open(write_config(tmp_path, {}, "signals: []"))
    finished: list[int] = []

    def cycle(_workspace: Workspace) -> CycleReport:
        server.stop("test")
        time.sleep(0.5)
        finished.append(1)
        return CycleReport()

    server = Server(workspace, tick=timedelta(seconds=1), cycle=cycle)
    server.run()
    assert finished == [1]


def test_a_tick_arriving_while_the_cycle_still_runs_is_logged_as_such(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    workspace = Workspace.open(write_config(tmp_path, {}, "signals: []"))

    def slow_cycle(_workspace: Workspace) -> CycleReport:
        time.sleep(2.5)  # more than two 1 s ticks
        server.stop("test")
        return CycleReport()

    server = Server(workspace, tick=timedelta(seconds=1), cycle=slow_cycle)
    with caplog.at_level(logging.INFO):
        server.run()
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("event=tick_still_running scheduled=20") for m in messages), messages
    assert not any("Error notifying listener" in m for m in messages)
