"""Schema migrations (Alembic), run by allywatch itself when it opens a database.

Several processes may open a fresh database at the same moment (cron runs that
overlap, a `serve` starting beside a `run`): the upgrade runs inside one
transaction that first takes the database's write lock (BEGIN IMMEDIATE on
SQLite, an advisory lock on PostgreSQL), and checks the revision again once it
holds it, so exactly one of them migrates and the others find the work done.

Alembic itself is imported only when there is something to upgrade: every
command opens the database, and most find it current.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_ADVISORY_LOCK_KEY = 0x616C6C79  # "ally"


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
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is there already."""
    head = head_revision()
    if current_revision(engine) == head:
        return
    from alembic import command

    bind = engine.execution_options(sqlite_begin="IMMEDIATE")
    with bind.connect() as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        if _revision(connection) == head:
            return
        command.upgrade(alembic_config(connection=connection), "head")
