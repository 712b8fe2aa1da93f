"""The Alembic migrations, on SQLite and (with ALLYWATCH_TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from allywatch.store.engine import open_engine
from allywatch.store.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    migrate,
    upgrade,
)
from allywatch.store.models import Base

UPGRADE = "import sys; from store.engine import open_engine; from store.migrate import upgrade\n"
UPGRADE += "upgrade(open_engine(sys.argv[1]))"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_engine(database_url)
    yield engine
    engine.dispose()


def differences(engine: Engine) -> list:
    """What Alembic would still have to change for the schema to match store/models.py."""
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def test_the_migrations_build_exactly_the_models_schema(engine: Engine) -> None:
    with engine.begin() as connection:
        migrate(connection)
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    assert differences(engine) == []


def test_a_new_database_gets_the_schema_the_migrations_build(engine: Engine) -> None:
    upgrade(engine)  # a new database: the models' schema, stamped at the newest revision
    assert current_revision(engine) == head_revision()
    built = schema(engine)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), "base")
        migrate(connection)
    assert schema(engine) == built
    assert differences(engine) == []


def test_downgrade_and_upgrade_again(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert differences(engine) == []


def test_an_older_schema_is_upgraded_by_the_migrations(engine: Engine) -> None:
    with engine.begin() as connection:
        migrate(connection, "0001")
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert differences(engine) == []


def schema(engine: Engine) -> dict[str, object]:
    """Every table's columns, keys, indexes and constraints, as the database reports them."""
    inspector = inspect(engine)
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            "primary key": inspector.get_pk_constraint(table),
            "foreign keys": sorted(map(repr, inspector.get_foreign_keys(table))),
            "indexes": sorted(map(repr, inspector.get_indexes(table))),
            "unique": sorted(map(repr, inspector.get_unique_constraints(table))),
            "checks": sorted(map(repr, inspector.get_check_constraints(table))),
        }
        for table in sorted(inspector.get_table_names())
    }


@pytest.mark.slow
def test_processes_upgrading_a_new_database_at_once_all_succeed(database_url: str) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADE, database_url], stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=120)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, errors
    engine = open_engine(database_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_a_new_file_opened_while_another_connection_writes_waits_for_it(
    tmp_path: Path,
) -> None:
    """Switching a rollback-journal file to WAL while another connection holds its
    write lock is refused at once by SQLite, busy timeout or not (this is how one of
    several processes opening a new database at the same moment used to fail): the
    engine waits for the lock instead."""
    path = tmp_path / "watch.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("CREATE TABLE other (x)")
    holding, released = threading.Event(), threading.Event()

    def write_for_a_while() -> None:
        with closing(sqlite3.connect(path, isolation_level=None, timeout=30)) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO other VALUES (1)")
            holding.set()
            time.sleep(0.5)
            db.execute("COMMIT")
            released.set()

    writer = threading.Thread(target=write_for_a_while)
    writer.start()
    assert holding.wait(10)
    engine = open_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        assert released.is_set()
        assert mode == "wal"
    finally:
        engine.dispose()
        writer.join()
