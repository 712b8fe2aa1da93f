"""Schema migrations (Alembic), run by allywatch itself when it opens a database.

Several processes may open a fresh database at the same moment (cron runs that
overlap, a `serve` starting beside a `run`): the upgrade runs inside one
transaction that first takes the database's write lock (BEGIN IMMEDIATE on
SQLite, an advisory lock on PostgreSQL), and checks the revision again once it
holds it, so exactly one of them migrates and the others find the work done.

Alembic itself is imported only when an existing schema is older than the
newest revision: every command opens the database, and most find it current; a
new database is given the models' schema whole. SQLAlchemy is imported only by the
functions that use it, so `head_revision` can be asked without it (store/reads.py
reads an SQLite file at the newest revision with sqlite3 alone).

`open_database` creates a schema only where no database exists: a new SQLite
file is built whole beside its path and linked into place, so no process ever
opens a file holding half a schema, and a file that exists without allywatch's
schema (emptied to 0 bytes, another program's) is refused, not given an empty
schema that would hide what happened to the data.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from allywatch.store.engine import open_engine

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_ADVISORY_LOCK_KEY = 0x616C6C79  # "ally"
VERSION_TABLE = "alembic_version"


class NotAllywatchDatabase(Exception):
    """A database file that exists but does not hold allywatch's schema; the message says
    what it holds instead."""


def open_database(url: str) -> Engine:
    """An engine for `url`, its schema current: created where no database file exists,
    upgraded where it is older; raises NotAllywatchDatabase for an SQLite file that
    exists without allywatch's schema."""
    path = _sqlite_path(url)
    if path is not None:
        if not path.exists():
            _create_whole(path)
        _check_schema(path)
    engine = open_engine(url)
    upgrade(engine)
    return engine


def _sqlite_path(url: str) -> Path | None:
    from sqlalchemy import make_url

    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    return None if name.startswith("file:") else Path(name)


def _create_whole(path: Path) -> None:
    """Build the schema in a new file beside `path`, then link it to `path` unless a
    process creating it at the same time got there first (then theirs is kept)."""
    building = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.new")
    engine = open_engine(f"sqlite:///{building}")
    try:
        upgrade(engine)
        engine.dispose()  # the last connection closed: the WAL is checkpointed and removed
        try:
            os.link(building, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: build in place, as it comes
            if not path.exists():
                os.replace(building, path)
    finally:
        engine.dispose()
        for leftover in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
            leftover.unlink(missing_ok=True)


def _check_schema(path: Path) -> None:
    """Refuse a database file without allywatch's schema, saying what it holds."""
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True)) as db:
            tables = [
                name
                for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
    except sqlite3.DatabaseError as exc:
        if "not a database" not in str(exc):
            raise
        held = f"is not an SQLite database ({exc})"
    else:
        if VERSION_TABLE in tables:
            return
        if tables:
            shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
            held = f"holds another program's tables ({shown})"
        else:
            size = path.stat().st_size
            held = "is empty (0 bytes)" if size == 0 else f"holds no tables ({size} bytes)"
    raise NotAllywatchDatabase(
        f"the file exists but {held}; allywatch creates a database only where no file"
        " exists (restore this one from a backup, or move it away to start afresh)"
    )


def alembic_config(
    engine: Engine | None = None, connection: Connection | None = None
) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision: revision ids are the numbered prefixes of the version files."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("*.py"))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return _revision(connection)


def _revision(connection: Connection) -> str | None:
    from sqlalchemy import inspect, text

    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is there already.

    A database with no schema yet is given the models' schema whole and stamped with
    the newest revision (tests/test_migrations.py checks that this is the schema the
    migrations build), which spares a first run importing Alembic and replaying every
    migration. Older schemas are upgraded by Alembic.
    """
    from sqlalchemy import inspect, text

    head = head_revision()
    if current_revision(engine) == head:
        return
    bind = engine.execution_options(sqlite_begin="IMMEDIATE")
    with bind.connect() as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        revision = _revision(connection)
        if revision == head:
            return
        if revision is None and set(inspect(connection).get_table_names()) <= {VERSION_TABLE}:
            _create_current(connection, head)
            return
        migrate(connection)


def migrate(connection: Connection, revision: str = "head") -> None:
    """Run the Alembic migrations up to `revision` in the caller's transaction."""
    from alembic import command

    command.upgrade(alembic_config(connection=connection), revision)


def _create_current(connection: Connection, head: str) -> None:
    """The models' schema and Alembic's version table (as Alembic itself makes it) at `head`."""
    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table

    from allywatch.store.models import Base

    Base.metadata.create_all(connection)
    version = Table(
        VERSION_TABLE,
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    version.create(connection, checkfirst=True)
    connection.execute(version.insert().values(version_num=head))
