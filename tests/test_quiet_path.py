"""The quiet way of a cycle (allywatch/quiet_cycle.py): a cron run in which every feed
answers 304 is recorded with sqlite3 alone, leaving exactly the rows the full cycle
leaves; anything that may need more than polling goes the full way, and what was
fetched is not fetched again."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from feedserver import FeedServer, Reply

from allywatch.alerts.addresses import operator_address
from allywatch.cli import main
from allywatch.cycle import run_cycle
from allywatch.cycle_plan import CycleReport
from allywatch.quiet_cycle import cycle, quiet_cycle
from allywatch.runlock import CYCLE, RunLock
from allywatch.store.engine import writing
from allywatch.store.reads import current_sqlite_file
from allywatch.store.subscribers import add_subscriber
from allywatch.workspace import Workspace

FEEDS = Path(__file__).resolve().parent.parent / "examples" / "feeds"
T0 = datetime(2025, 9, 10, 8, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
ARTICLE = (
    "<item><title>Iran confirms delivery of first Su-35 fighter jets from Russia</title>"
    "<link>https://example.org/su35-arrive</link><guid>su35-arrive</guid>"
    "<pubDate>Wed, 10 Sep 2025 08:30:00 +0000</pubDate></item>"
)


class Watch:
    """A workspace over three sample feeds served over HTTP and one local file."""

    def __init__(self, folder: Path, server: FeedServer, extra: str = "") -> None:
        self.folder, self.server = folder, server
        folder.mkdir(exist_ok=True)
        samples = sorted(FEEDS.glob("*.xml"))[:3]
        self.bodies = {f.stem: f.read_bytes() for f in samples}
        for name, body in self.bodies.items():
            server.route(f"/{name}.xml", Reply(body=body, etag=f'"{name}-1"'))
        shutil.copy(samples[0], folder / "local.xml")
        sources = "".join(
            f"  - {{name: {n}, url: '{server.url(f'/{n}.xml')}'}}\n" for n in self.bodies
        )
        sources += f"  - {{name: local, path: '{folder / 'local.xml'}'}}\n"
        self.config = folder / "allywatch.yaml"
        self.write(f"database: sqlite:///{folder / 'watch.db'}\n{extra}sources:\n{sources}")

    def write(self, text: str) -> None:
        self.config.write_text(text, encoding="utf-8")

    def workspace(self) -> Workspace:
        return Workspace.for_reading(self.config)

    def copy(self, folder: Path) -> Path:
        """A config over a copy of the database, in `folder`."""
        folder.mkdir()
        with (
            sqlite3.connect(self.folder / "watch.db") as source,
            sqlite3.connect(folder / "watch.db") as copy,
        ):
            source.backup(copy)  # with what the write-ahead log holds
        config = folder / "allywatch.yaml"
        text = self.config.read_text(encoding="utf-8")
        config.write_text(text.replace(str(self.folder / "watch.db"), str(folder / "watch.db")))
        return config

    def requests(self) -> int:
        return sum(len(self.server.requests_to(f"/{name}.xml")) for name in self.bodies)


@pytest.fixture
def watch(tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> Watch:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    watch = Watch(tmp_path / "watch", feed_server)
    run_cycle(Workspace.open(watch.config), T0, send=False)  # the first run, the full way
    return watch


def tables(database: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(database) as connection:
        names = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            name: connection.execute(f"SELECT * FROM {name} ORDER BY rowid").fetchall()
            for name in names
        }


def test_a_quiet_cycle_leaves_the_rows_the_full_cycle_leaves(watch: Watch, tmp_path: Path) -> None:
    quiet, full = watch.copy(tmp_path / "quiet"), watch.copy(tmp_path / "full")
    before = watch.requests()
    report = quiet_cycle(Workspace.for_reading(quiet), T1)
    assert isinstance(report, CycleReport) and report.polled == 4
    assert watch.requests() == before + 3
    assert all(
        seen[-1].get("if-none-match") == f'"{name}-1"'
        for name in watch.bodies
        if (seen := watch.server.requests_to(f"/{name}.xml"))
    )
    full_report = run_cycle(Workspace.open(full), T1, send=False)
    assert full_report.summary() == report.summary()
    assert tables(tmp_path / "quiet" / "watch.db") == tables(tmp_path / "full" / "watch.db")


def test_sources_not_due_are_left_alone_and_the_run_is_still_recorded(watch: Watch) -> None:
    before = watch.requests()
    report = quiet_cycle(watch.workspace(), T0 + timedelta(minutes=5))
    assert isinstance(report, CycleReport) and report.polled == 0
    assert watch.requests() == before
    runs = tables(watch.folder / "watch.db")["runs"]
    assert len(runs) == 2 and runs[-1][3] == "ok"


def test_a_feed_with_news_goes_the_full_way_without_being_fetched_twice(watch: Watch) -> None:
    name, body = next(iter(watch.bodies.items()))
    news = body.replace(b"<item>", ARTICLE.encode() + b"<item>", 1)
    watch.server.route(f"/{name}.xml", Reply(body=news, etag=f'"{name}-2"'))
    workspace = watch.workspace()
    fetched = quiet_cycle(workspace, T1)
    assert not isinstance(fetched, CycleReport)
    assert sorted(r.status for r in fetched.values()) == ["not-modified"] * 3 + ["ok"]
    before = watch.requests()
    report = run_cycle(Workspace.open(watch.config), T1, send=False, fetched=dict(fetched))
    assert watch.requests() == before  # the full way took what the quiet way fetched
    assert report.polled == 4 and report.new_articles == 1
    assert "su35-arrive" in str(tables(watch.folder / "watch.db")["articles"])


def test_cycle_stores_news_found_the_quiet_way(watch: Watch) -> None:
    name, body = next(iter(watch.bodies.items()))
    news = body.replace(b"<item>", ARTICLE.encode() + b"<item>", 1)
    watch.server.route(f"/{name}.xml", Reply(body=news, etag=f'"{name}-2"'))
    before = watch.requests()
    report = cycle(watch.workspace(), T1)
    assert watch.requests() == before + 3
    assert report.new_articles == 1 and report.observations >= 1


def subscribe(watch: Watch, email: str, cadence: str, weekday: int = 0) -> None:
    """A subscriber of every signal, subscribed two days before T0."""
    workspace = Workspace.open(watch.config)
    with writing(workspace.engine) as session:
        add_subscriber(
            session,
            email=email,
            signals=None,
            cadence=cadence,
            weekday=weekday,
            created_at=T0 - timedelta(days=2),
        )
    workspace.engine.dispose()


def test_a_subscriber_with_nothing_due_leaves_the_cycle_quiet(watch: Watch) -> None:
    # T1 is a Wednesday, 09:00 UTC: a Sunday digest is not due, nor an immediate one
    # with no alert unsent.
    subscribe(watch, "weekly@example.org", "weekly", weekday=6)
    subscribe(watch, "now@example.org", "immediate")
    assert isinstance(quiet_cycle(watch.workspace(), T1), CycleReport)


@pytest.mark.parametrize(
    "change",
    [
        "failing feed",
        "digest due",
        "notify",
        "operator left",
        "tier weights",
        "new source",
        "moved source",
    ],
)
def test_what_may_need_more_than_polling_goes_the_full_way(watch: Watch, change: str) -> None:
    text = watch.config.read_text(encoding="utf-8")
    if change == "failing feed":
        name = next(iter(watch.bodies))
        watch.server.route(f"/{name}.xml", Reply(status=500))
        run_cycle(Workspace.open(watch.config), T1, send=False)
    elif change == "digest due":  # the daily 07:00 slot of T1's day
        subscribe(watch, "daily@example.org", "daily")
    elif change == "notify":
        watch.write("notify: ['json://127.0.0.1:9/hook']\n" + text)
    elif change == "operator left":  # notify: was removed; delivering switches it off
        subscribe(watch, operator_address("json://127.0.0.1:9/hook"), "immediate")
    elif change == "tier weights":  # every signal's evaluation is due again
        watch.write("tier_weights: {wire: 5}\n" + text)
    elif change == "new source":
        watch.write(text + f"  - {{name: more, path: '{watch.folder / 'local.xml'}'}}\n")
    elif change == "moved source":
        watch.write(text.replace("name: local, path: '", "name: local, path: '/moved"))
    before = watch.requests()
    assert quiet_cycle(watch.workspace(), T1 + timedelta(hours=1)) == {}
    assert watch.requests() == before  # it did not fetch


def test_the_first_run_goes_the_full_way(tmp_path: Path, feed_server: FeedServer) -> None:
    watch = Watch(tmp_path / "new", feed_server)
    assert quiet_cycle(watch.workspace(), T0) == {}
    report = cycle(watch.workspace(), T0)
    assert report.new_articles > 0
    assert quiet_cycle(watch.workspace(), T1) != {}


def test_run_takes_its_turn_the_quiet_way_too(watch: Watch) -> None:
    database = current_sqlite_file(f"sqlite:///{watch.folder / 'watch.db'}")
    assert database is not None
    runner = CliRunner()
    args = ["--config", str(watch.config), "run", "--now", "--wait", "0s"]
    with RunLock(database, CYCLE).acquire():
        busy = runner.invoke(main, args)
    assert busy.exit_code == 75
    assert "another run is running on this database" in busy.output
    done = runner.invoke(main, [*args, "--verbose"])
    assert done.exit_code == 0, done.output
    assert "polled 4 sources, 0 new articles" in done.output
