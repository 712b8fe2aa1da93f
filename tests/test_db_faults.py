"""Database faults end in one clear line and a telling exit status."""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from feedserver import FeedServer, Reply
from procs import allywatch
from sqlalchemy import Engine, event

from allywatch.cli import main
from allywatch.store import migrate
from allywatch.store.engine import open_engine
from allywatch.store.migrate import upgrade


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "allywatch.yaml"
    path.write_text(
        f"database: 'sqlite:///{tmp_path}/watch.db'\nsources: []\n"
        "secret: a-test-secret-of-enough-length\n",
        encoding="utf-8",
    )
    engine = open_engine(f"sqlite:///{tmp_path}/watch.db")
    upgrade(engine)
    with engine.connect() as connection:  # pages enough to damage one in the middle
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def test_db_check_passes_a_sound_database(config: Path) -> None:
    result = cli(config, "db", "check")
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("watch.db: ok")


def test_db_check_reports_a_damaged_page_in_one_line(config: Path) -> None:
    damage_table(config.parent / "watch.db", "articles")

    result = cli(config, "db", "check")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "watch.db: damaged:" in lines[0]
    assert "Traceback" not in result.output


def damage_table(database: Path, table: str) -> None:
    """Overwrite the root page of `table` with garbage (a checkpointed database)."""
    with closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (page,) = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
    data = bytearray(database.read_bytes())
    data[(page - 1) * PAGE : page * PAGE] = b"\xa5" * PAGE
    database.write_bytes(bytes(data))


PAGE = 4096
EVERY_COMMAND = [
    ["status"],
    ["history", "su35-iran"],
    ["alerts"],
    ["run"],
    ["feeds"],
    ["explain", "su35-iran"],
    ["digest", "preview"],
    ["subscribers", "list"],
]


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=" ".join)
def test_every_command_says_in_one_line_that_the_database_is_damaged(
    config: Path, command: list[str]
) -> None:
    damage_table(config.parent / "watch.db", "alembic_version")  # every command reads it
    result = cli(config, *command)
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        f"allywatch: database sqlite:///{config.parent}/watch.db is damaged"
        " (database disk image is malformed); `allywatch db check` tells more"
    ]


@pytest.mark.parametrize(
    ("table", "command"),
    [("alerts", ["alerts"]), ("locks", ["run"]), ("runs", ["run"])],
)
def test_damage_met_half_way_through_a_command_is_one_line_too(
    config: Path, table: str, command: list[str]
) -> None:
    damage_table(config.parent / "watch.db", table)
    result = cli(config, *command)
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "is damaged (database disk image is malformed)" in result.output


def test_a_run_gives_up_on_a_database_another_program_keeps_locked(config: Path) -> None:
    with closing(sqlite3.connect(config.parent / "watch.db", isolation_level=None)) as holder:
        holder.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        refused = allywatch(config, "run", "--wait", "2s", timeout=60)
        took = time.monotonic() - started
    assert refused.returncode == 75, refused.stderr  # EX_TEMPFAIL: a cron wrapper retries
    assert refused.stdout == ""
    # Where the system shows file locks (Linux), the line names who holds this one.
    who = ""
    if Path("/proc/locks").exists():
        who = f" (pid {os.getpid()} ({Path(f'/proc/{os.getpid()}/comm').read_text().strip()}))"
    assert refused.stderr.splitlines() == [
        f"allywatch: the database is locked by another program{who}; gave up after waiting 2s"
    ]
    assert took < 15  # the wait and the start of a Python process; before, 61 s
    assert allywatch(config, "run", "--wait", "0").returncode == 0  # let go: runs at once


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "the file exists but is empty (0 bytes)"),
        (None, "holds another program's tables (notes)"),
        (b"just some text\n", "the file exists but is not an SQLite database"),
    ],
    ids=["emptied", "foreign", "not-sqlite"],
)
def test_an_existing_file_without_the_schema_is_refused_and_left_alone(
    config: Path, content: bytes | None, says: str
) -> None:
    database = config.parent / "watch.db"
    for path in config.parent.glob("watch.db*"):
        path.unlink()
    if content is None:
        with closing(sqlite3.connect(database)) as other:
            other.execute("CREATE TABLE notes (text)")
            other.commit()
    else:
        database.write_bytes(content)
    before = database.read_bytes()

    result = cli(config, "run")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"allywatch: database sqlite:///{database}: cannot open: ")
    assert says in lines[0]
    assert "creates a database only where no file exists" in lines[0]
    assert database.read_bytes() == before


def test_a_truncated_database_is_an_error_not_a_fresh_schema(config: Path) -> None:
    database = config.parent / "watch.db"
    database.write_bytes(database.read_bytes()[: 3 * PAGE])
    result = cli(config, "run")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "damaged" in result.output


def test_a_run_creates_the_database_where_no_file_exists(tmp_path: Path) -> None:
    config = tmp_path / "allywatch.yaml"
    config.write_text(f"database: 'sqlite:///{tmp_path}/new.db'\nsources: []\n")
    result = cli(config, "run")
    assert result.exit_code == 0, result.output
    assert not list(tmp_path.glob(".new.db*"))  # built beside it, then moved into place
    assert cli(config, "db", "check").exit_code == 0


def test_a_full_disk_stores_nothing_half_and_frees_the_sources_at_once(
    config: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = "".join(
        f"<item><title>Report {n}</title><link>https://news.example.com/{n}</link>"
        f"<description>{'A long account of the day. ' * 40}</description></item>"
        for n in range(60)
    )
    feed = f'<rss version="2.0"><channel><title>News</title>{items}</channel></rss>'
    feed_server.route("/feed.xml", Reply(body=feed.encode()))
    with config.open("a", encoding="utf-8") as text:
        text.write(f"sources: [{{name: news, url: '{feed_server.url('/feed.xml')}'}}]\n")
    config.write_text(config.read_text().replace("sources: []\n", ""), encoding="utf-8")

    def no_room_to_grow(url: str) -> Engine:
        """The database as on a full disk: it cannot grow by a single page."""
        engine = open_engine(url)

        @event.listens_for(engine, "connect")
        def _full(dbapi_connection: Any, _record: Any) -> None:
            (pages,) = dbapi_connection.execute("PRAGMA page_count").fetchone()
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

        return engine

    with monkeypatch.context() as patched:
        patched.setattr(migrate, "open_engine", no_room_to_grow)
        full = cli(config, "run")

    assert full.exit_code == 1
    assert full.output.strip().splitlines() == [
        f"allywatch: database sqlite:///{config.parent}/watch.db is full"
        " (database or disk is full); what the failing step was writing was not stored"
    ]
    engine = open_engine(f"sqlite:///{config.parent}/watch.db")
    with engine.connect() as connection:
        articles = connection.exec_driver_sql("SELECT count(*) FROM articles").scalar()
        claimed = connection.exec_driver_sql(
            "SELECT count(*) FROM sources WHERE claimed_by IS NOT NULL"
        ).scalar()
    engine.dispose()
    assert (articles, claimed) == (0, 0)  # rolled back whole; the source is free again

    again = cli(config, "run")  # room again: the next run takes everything in
    assert again.exit_code == 0, again.output
    engine = open_engine(f"sqlite:///{config.parent}/watch.db")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM articles").scalar() == 60
    engine.dispose()
