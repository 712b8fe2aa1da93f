"""Leases: named locks kept as rows, so they work on any database and across hosts.

A lease belongs to one holder until it expires. Its holder renews it while it
works; a holder that dies stops renewing, and its lease expires on its own. The
caller may also declare a lease stale sooner (a process on this host that no
longer exists), which is how a killed run's lock is taken over at once.

Every function takes a Session inside the caller's write transaction
(store.engine.writing), so checking and taking a lease is one atomic step.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from allywatch.store.engine import changed_rows
from allywatch.store.models import Lease


def acquire(
    session: Session,
    name: str,
    *,
    holder: str,
    pid: int,
    host: str,
    now: datetime,
    expires_at: datetime,
    stale: Callable[[Lease], bool] = lambda _lease: False,
) -> Lease:
    """Take the lease `name` if it is free, expired, stale or ours; return who holds it now.

    The caller holds the lease when the returned row's `holder` is its own.
    On PostgreSQL two holders inserting a new lease at once make one of the
    transactions fail on the primary key; the caller retries.
    """
    lease = session.scalar(select(Lease).where(Lease.name == name).with_for_update())
    if lease is None:
        lease = Lease(
            name=name, holder=holder, pid=pid, host=host, acquired_at=now, expires_at=expires_at
        )
        session.add(lease)
        session.flush()
        return lease
    if lease.holder == holder:
        lease.expires_at = expires_at
    elif lease.expires_at <= now or stale(lease):
        lease.holder, lease.pid, lease.host = holder, pid, host
        lease.acquired_at, lease.expires_at = now, expires_at
    session.flush()
    return lease


def renew(session: Session, name: str, holder: str, expires_at: datetime) -> bool:
    """Push the lease's expiry forward; False when `holder` no longer holds it."""
    statement = (
        update(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .values(expires_at=expires_at)
    )
    return changed_rows(session, statement) == 1


def release(session: Session, name: str, holder: str) -> None:
    """Give the lease up, if `holder` still holds it."""
    session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


def current(session: Session, name: str) -> Lease | None:
    """The lease row for `name`, expired or not."""
    return session.get(Lease, name)
