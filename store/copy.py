"""Copying a whole allywatch database into another one (SQLite to PostgreSQL, typically).

The target is brought to the current schema first and must hold no rows. Tables
are copied parent before child (the foreign keys' order), rows keep their ids,
and everything lands in one transaction on the target: a copy that fails
half-way leaves the target empty. On PostgreSQL each table's id sequence is then
set past the highest copied id, so new rows do not collide with copied ones.

The source is read in one transaction, a consistent snapshot; workers writing to
it meanwhile are not seen (stop them first, or the copy misses their last work).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, Table, func, select, text

from allywatch.store.migrate import _check_schema, _sqlite_path, upgrade
from allywatch.store.models import Base

BATCH = 1000


class TargetNotEmpty(Exception):
    """The target database holds data already; the message names the tables."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts
        listed = ", ".join(f"{name} ({rows} rows)" for name, rows in counts.items())
        super().__init__(f"the target database is not empty: {listed}")


@dataclass
class CopyReport:
    """Rows copied per table, in the order the tables were copied."""

    rows: dict[str, int] = field(default_factory=dict)


def copy_database(
    source: Engine, target: Engine, progress: Callable[[str, int], None] = lambda _t, _n: None
) -> CopyReport:
    """Copy every row of `source` into the empty `target`; raises TargetNotEmpty.

    Both databases are upgraded to the current schema first. `progress(table,
    rows)` is called once each table is copied.
    """
    upgrade(source)
    upgrade(target)
    report = CopyReport()
    with source.connect() as reader, target.begin() as writer:
        if reader.dialect.name == "postgresql":  # one snapshot for every table
            reader.execution_options(isolation_level="REPEATABLE READ")
        occupied = {table.name: rows for table in _tables() if (rows := _count(writer, table)) > 0}
        if occupied:
            raise TargetNotEmpty(occupied)
        for table in _tables():
            copied = 0
            result = reader.execution_options(stream_results=True).execute(
                select(table).order_by(*table.primary_key.columns)
            )
            for batch in result.mappings().partitions(BATCH):
                writer.execute(table.insert(), [dict(row) for row in batch])
                copied += len(batch)
            report.rows[table.name] = copied
            progress(table.name, copied)
        if writer.dialect.name == "postgresql":
            _reset_sequences(writer)
    return report


def snapshot_sqlite(url: str, target: Path) -> bool:
    """Copy the SQLite database `url` into the new file `target` (VACUUM INTO): one
    consistent snapshot, only read, so the database itself is not written to, not even
    migrated. False, and no `target`, where no database file exists yet; raises
    NotAllywatchDatabase for a file without allywatch's schema.

    The connection is an ordinary one, not `mode=ro`: a read-only connection to a WAL
    database leaves its -wal and -shm files behind where none were, and closing an
    ordinary one as the last connection removes them, as every allywatch command does.
    """
    path = _sqlite_path(url)
    if path is None:
        raise ValueError(f"not an SQLite database file: {url}")
    if not path.exists():
        return False
    _check_schema(path)
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True)) as db:
        db.execute("VACUUM INTO ?", (str(target),))
    return True


def _tables() -> list[Table]:
    """allywatch's tables, each after the tables its foreign keys point to."""
    return list(Base.metadata.sorted_tables)


def _count(connection: Connection, table: Table) -> int:
    return connection.scalar(select(func.count()).select_from(table)) or 0


def _reset_sequences(connection: Connection) -> None:
    """Point each serial id's sequence past the table's highest id (at 1 for an empty table)."""
    for table in _tables():
        column = table.autoincrement_column
        if column is None:
            continue
        connection.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:table, :column),"
                f" COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"
            ),
            {"table": table.name, "column": column.name},
        )
