"""Opening the database: engine settings per dialect, and write transactions.

On SQLite the engine runs in WAL mode with a busy timeout, and `writing()`
begins its transaction with BEGIN IMMEDIATE: two overlapping runs then queue
for the write lock at the start of a transaction instead of failing half-way
with "database is locked" when a read transaction tries to upgrade. How long a
transaction waits for the lock is the busy timeout, BUSY_TIMEOUT_MS unless the
caller bounds it (`writing(engine, busy_timeout=...)`, as `run --wait` does).

SQLAlchemy is imported by the functions that use it: the read commands import this
module for its settings and may read an SQLite file without SQLAlchemy (store/reads.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import CursorResult, Engine, Executable
    from sqlalchemy.orm import Session

BUSY_TIMEOUT_MS = 60_000
IDLE_IN_TRANSACTION = "10min"


def open_engine(url: str) -> Engine:
    """An engine for `url`, with the SQLite settings applied where it is SQLite.

    A PostgreSQL URL that names no driver (postgresql://...) uses psycopg 3. Its
    sessions end a transaction left idle for IDLE_IN_TRANSACTION, so a worker frozen
    half-way (stopped, or cut off with its connection still open) cannot hold its
    locks for ever; a URL that sets `options` itself keeps its own.
    """
    from sqlalchemy import create_engine, event, make_url

    if not url.startswith("sqlite"):
        parsed = make_url(url)
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        connect_args = {}
        if parsed.drivername.startswith("postgresql") and "options" not in parsed.query:
            connect_args["options"] = (
                f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION}"
            )
        return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if url not in ("sqlite://", "sqlite:///:memory:"):
            _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        busy_ms = options.get("sqlite_busy_ms", BUSY_TIMEOUT_MS)
        if connection.info.get("busy_ms", BUSY_TIMEOUT_MS) != busy_ms:
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(busy_ms)}")
            connection.info["busy_ms"] = busy_ms
        connection.exec_driver_sql(f"BEGIN {options.get('sqlite_begin', 'DEFERRED')}")

    return engine


def _switch_to_wal(cursor: Any) -> None:
    """Put the database in WAL mode, waiting out a writer that holds its lock.

    Switching a file from the rollback journal to WAL takes its write lock, and SQLite
    answers "database is locked" at once, without the busy timeout, when another
    connection holds that lock (it would otherwise risk a deadlock): two processes
    opening a new file at the same moment meet exactly this. The switch is retried
    until the busy timeout has passed; once the other has switched the file, it is a
    no-op.
    """
    import sqlite3

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


@contextmanager
def writing(engine: Engine, *, busy_timeout: float | None = None) -> Iterator[Session]:
    """A session whose transaction holds the write lock from its first statement.

    Commits on success, rolls back on any exception: nothing is half-written.
    On SQLite, `busy_timeout` (seconds) bounds the wait for another writer to
    let go of the lock; past it, "database is locked" (see is_locked).
    """
    from sqlalchemy.orm import Session

    bind = engine
    if _is_sqlite(engine):
        options: dict[str, Any] = {"sqlite_begin": "IMMEDIATE"}
        if busy_timeout is not None:
            options["sqlite_busy_ms"] = max(0, round(busy_timeout * 1000))
        bind = engine.execution_options(**options)
    with Session(bind, expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A read-only session (a plain deferred transaction, rolled back at the end)."""
    from sqlalchemy.orm import Session

    with Session(engine, expire_on_commit=False) as session:
        yield session


def integrity_problems(engine: Engine) -> list[str]:
    """What the database's own check finds wrong with its file (SQLite's integrity
    check: damaged pages, broken indexes); empty when it is sound. PostgreSQL keeps
    its own pages checked, so there only being able to read is checked."""
    with engine.connect() as connection:
        if not _is_sqlite(engine):
            connection.exec_driver_sql("SELECT 1")
            return []
        rows = connection.exec_driver_sql("PRAGMA integrity_check").scalars().all()
    lines = [line for row in rows for line in str(row).splitlines()]
    return [] if lines == ["ok"] else [line for line in lines if not line.startswith("***")]


def is_locked(exc: BaseException) -> bool:
    """Whether a database error says another connection holds the lock it waited for."""
    reason = str(getattr(exc, "orig", None) or exc).lower()
    return "database is locked" in reason or "database table is locked" in reason


def shown_url(url: str) -> str:
    """A database URL as it may be printed: without its password."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def sqlite_file(engine: Engine) -> Path | None:
    """The database file of an SQLite engine; None for any other, or one in memory."""
    name = engine.url.database
    if not _is_sqlite(engine) or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def _is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def changed_rows(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE and return how many rows it changed."""
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    return result.rowcount
