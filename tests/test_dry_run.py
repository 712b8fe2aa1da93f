"""`allywatch run --dry-run`: a whole cycle on a throw-away copy of the database.

It prints the articles a run would store and the alerts it would raise, and leaves
the database as it was, row for row and byte for byte (fetch state included), sends
nothing, and a real run afterwards does everything as if it had never happened.
The copy is an SQLite snapshot: on PostgreSQL the dry run is refused.
"""

from __future__ import annotations

import gc
import re
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from digestkit import subscribe_at
from feedserver import FeedServer
from newsworld import NewsWorld
from smtpserver import SmtpServer
from sqlalchemy import select

from allywatch.cli import main
from allywatch.config import load_config
from allywatch.store.engine import open_engine
from allywatch.store.models import Base
from allywatch.workspace import Workspace

BACKLOG = "2025-01-15T00:00:00"
SPRING = "2025-04-10T00:00:00"

Dump = dict[str, list[tuple[object, ...]]]


def cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def run_at(config: Path, world: NewsWorld, moment: str, *args: str) -> Result:
    world.clock = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    return cli(config, "run", "--clock", moment, *args)


def dump(url: str) -> Dump:
    """Every row of every table, in id order."""
    engine = open_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: [
                    tuple(row)
                    for row in connection.execute(select(table).order_by(*table.primary_key))
                ]
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def file_bytes(path: Path) -> dict[str, bytes]:
    """The database file and its WAL and shared-memory files, where they exist."""
    files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    return {str(f): f.read_bytes() for f in files if f.exists()}


@pytest.fixture
def sqlite_url(database_url: str) -> str:
    if not database_url.startswith("sqlite"):
        pytest.skip("run --dry-run copies an SQLite file; PostgreSQL is refused (tested below)")
    return database_url


@pytest.fixture
def newsroom(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer, sqlite_url: str
) -> tuple[Path, NewsWorld]:
    """The sample news over HTTP, a backlog run done, and a subscriber sent every alert
    at once by email."""
    world = NewsWorld.from_examples(feed_server)
    config = world.config(
        tmp_path, database=sqlite_url, smtp_port=smtp_server.port, announce_within="365d"
    )
    first = run_at(config, world, BACKLOG)
    assert first.exit_code == 0, first.output
    workspace = Workspace(load_config(config))
    subscribe_at(
        workspace, "analyst@example.org", datetime(2025, 1, 15, tzinfo=UTC), cadence="immediate"
    )
    workspace.engine.dispose()
    return config, world


def test_dry_run_shows_what_a_run_would_do_and_changes_nothing(
    newsroom: tuple[Path, NewsWorld], sqlite_url: str, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    config, world = newsroom
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    gc.collect()  # the earlier runs' connections closed: their WAL is checkpointed
    rows = dump(sqlite_url)
    files = file_bytes(path)

    dry = run_at(config, world, SPRING, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing was stored or sent;" in dry.stdout
    assert "would be stored" in dry.stdout
    assert re.search(r"^  \S.*: \d+ new articles?$", dry.stdout, re.M), dry.stdout
    assert "Armenia freezes its participation in the CSTO" in dry.stdout
    would = [
        line.removeprefix("WOULD ").removesuffix(" (would be announced)")
        for line in dry.stdout.splitlines()
        if line.startswith("WOULD ALERT") and line.endswith("(would be announced)")
    ]
    assert any("csto-summit-attendance / Armenia: attending -> suspended" in a for a in would)

    assert file_bytes(path) == files
    assert dump(sqlite_url) == rows
    assert smtp_server.messages == []
    assert not list(tmp_path.glob("**/allywatch-dry-run-*"))

    # A second dry run sees the same news: nothing of the first was kept.
    again = run_at(config, world, SPRING, "--dry-run")
    assert again.stdout == dry.stdout
    assert dump(sqlite_url) == rows

    real = run_at(config, world, SPRING)
    assert real.exit_code == 0, real.output
    announced = [line for line in real.stdout.splitlines() if line.startswith("ALERT")]
    assert announced == would
    assert [m["To"] for m in smtp_server.messages] == ["analyst@example.org"]
    later = dump(sqlite_url)
    assert len(later["articles"]) > len(rows["articles"])
    assert len(later["alerts"]) > len(rows["alerts"])


def test_dry_run_verbose_summary_matches_the_real_run(
    newsroom: tuple[Path, NewsWorld], sqlite_url: str
) -> None:
    config, world = newsroom
    dry = run_at(config, world, SPRING, "--dry-run", "-v")
    real = run_at(config, world, SPRING, "-v")
    assert dry.exit_code == real.exit_code == 0, dry.output + real.output
    summary = next(line for line in real.stdout.splitlines() if line.startswith("polled "))
    assert summary in dry.stdout.splitlines()


def test_dry_run_on_no_database_creates_none(tmp_path: Path, feed_server: FeedServer) -> None:
    world = NewsWorld.from_examples(feed_server)
    config = world.config(tmp_path)
    dry = run_at(config, world, SPRING, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would be stored" in dry.stdout
    assert "would be recorded, not announced" in dry.stdout  # the first run's baseline
    assert not (tmp_path / "watch.db").exists()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_dry_run_exits_3_on_a_failing_source_and_keeps_its_fetch_state(
    tmp_path: Path, sqlite_url: str
) -> None:
    config = tmp_path / "allywatch.yaml"
    config.write_text(
        f"database: '{sqlite_url}'\nsources:\n"
        f"  - {{name: gone, url: 'http://127.0.0.1:{closed_port()}/feed.xml'}}\n",
        encoding="utf-8",
    )
    first = cli(config, "run", "--clock", BACKLOG)
    assert first.exit_code == 3, first.output
    rows = dump(sqlite_url)
    dry = cli(config, "run", "--dry-run", "--now", "--clock", SPRING)
    assert dry.exit_code == 3, dry.output
    assert "source 'gone' failed" in dry.stderr
    assert dump(sqlite_url) == rows


def test_dry_run_refuses_postgresql(tmp_path: Path, postgres_url: str) -> None:
    config = tmp_path / "allywatch.yaml"
    config.write_text(f"database: '{postgres_url}'\nsources: []\n", encoding="utf-8")
    assert cli(config, "run").exit_code == 0
    rows = dump(postgres_url)
    refused = cli(config, "run", "--dry-run")
    assert refused.exit_code == 1
    assert "run --dry-run works on an SQLite database file only" in refused.output
    assert dump(postgres_url) == rows
