"""Leases: named locks kept as rows, so they work on any database and across hosts.

A lease belongs to one holder until it expires. Its holder renews it while it
works; a holder that dies stops renewing, and its lease expires on its own. The
caller may also declare a lease stale sooner (a process on this host that no
longer exists), which is how a killed run's lock is taken over at once.

Every function runs SQL text (store/reads.py) inside the caller's write transaction,
a Session's (store.engine.writing) or an sqlite3 one's (reads.sqlite_writing), so
checking and taking a lease is one atomic step, and a quiet cycle can take its turn
without SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from allywatch.store.reads import as_reader, when

if TYPE_CHECKING:
    from allywatch.store.reads import Database


class LeaseRecord(NamedTuple):
    """A lease row (the columns of store.models.Lease)."""

    name: str
    holder: str
    pid: int
    host: str
    acquired_at: datetime
    expires_at: datetime


def acquire(
    db: Database,
    name: str,
    *,
    holder: str,
    pid: int,
    host: str,
    now: datetime,
    expires_at: datetime,
    stale: Callable[[LeaseRecord], bool] = lambda _lease: False,
) -> LeaseRecord:
    """Take the lease `name` if it is free, expired, stale or ours; return who holds it now.

    The caller holds the lease when the returned row's `holder` is its own.
    On PostgreSQL two holders inserting a new lease at once make one of the
    transactions fail on the primary key; the caller retries.
    """
    reader = as_reader(db)
    lease = current(reader, name, lock=True)
    taken = LeaseRecord(name, holder, pid, host, now, expires_at)
    if lease is None:
        reader.changed(
            "INSERT INTO locks (name, holder, pid, host, acquired_at, expires_at)"
            " VALUES (:name, :holder, :pid, :host, :acquired_at, :expires_at)",
            taken._asdict(),
        )
        return taken
    if lease.holder == holder:
        renew(reader, name, holder, expires_at)
        return lease._replace(expires_at=expires_at)
    if lease.expires_at <= now or stale(lease):
        reader.changed(
            "UPDATE locks SET holder = :holder, pid = :pid, host = :host,"
            " acquired_at = :acquired_at, expires_at = :expires_at WHERE name = :name",
            taken._asdict(),
        )
        return taken
    return lease


def renew(db: Database, name: str, holder: str, expires_at: datetime) -> bool:
    """Push the lease's expiry forward; False when `holder` no longer holds it."""
    changed = as_reader(db).changed(
        "UPDATE locks SET expires_at = :expires_at WHERE name = :name AND holder = :holder",
        {"name": name, "holder": holder, "expires_at": expires_at},
    )
    return changed == 1


def release(db: Database, name: str, holder: str) -> None:
    """Give the lease up, if `holder` still holds it."""
    as_reader(db).changed(
        "DELETE FROM locks WHERE name = :name AND holder = :holder",
        {"name": name, "holder": holder},
    )


def current(db: Database, name: str, *, lock: bool = False) -> LeaseRecord | None:
    """The lease row for `name`, expired or not (with `lock`, locked until the
    transaction ends, on PostgreSQL; SQLite's write transaction locks everything)."""
    reader = as_reader(db)
    for_update = "" if reader.sqlite else " FOR UPDATE"
    rows = reader.rows(
        "SELECT name, holder, pid, host, acquired_at, expires_at FROM locks"
        f" WHERE name = :name{for_update if lock else ''}",
        {"name": name},
    )
    if not rows:
        return None
    lease_name, holder, pid, host, acquired_at, expires_at = rows[0]
    return LeaseRecord(lease_name, holder, pid, host, _time(acquired_at), _time(expires_at))


def _time(value: object) -> datetime:
    moment = when(value)
    assert moment is not None  # the columns are NOT NULL
    return moment
