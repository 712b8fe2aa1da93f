"""Sharing a cycle's work between workers on one database.

Several workers (`allywatch run` or `serve` processes, on one host or many) may
run cycles on the same database at once. Each due source is polled by exactly
one of them: a worker *claims* a batch of due sources (sets `claimed_by` and
`claimed_until`), fetches them outside any transaction, and drops each claim in
the transaction that stores the source's result. A worker that dies keeps its
claims only until `claimed_until`; then the sources are due for the others.

Claiming is the well-known queue pattern: on PostgreSQL the candidate rows are
selected FOR UPDATE SKIP LOCKED, so concurrent claimers never wait for nor take
each other's rows; on SQLite the caller's write transaction (BEGIN IMMEDIATE,
see store.engine.writing) already admits one claimer at a time.

`exclusive()` serialises whole steps that must not run side by side, such as
evaluating the rules: a transaction-scoped advisory lock on PostgreSQL, and
again the write transaction itself on SQLite.

Every function takes a Session inside the caller's write transaction.
"""

from __future__ import annotations

import os
import socket
import uuid
import zlib
from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, or_, select, text, update
from sqlalchemy.orm import Session

from allywatch.store.engine import changed_rows
from allywatch.store.models import Source

# The first key of every advisory lock allywatch takes ("ally"; store.migrate uses it alone).
_LOCK_CLASS = 0x616C6C79

# The steps that take turns across workers (names for exclusive()).
ARTICLES = "articles"  # storing a source's articles: deduplication and story grouping
EVALUATION = "evaluation"  # evaluating the rules: transitions and alerts
SOURCES = "sources"  # making the sources table agree with the config

RELEASE_BATCH = 500  # source ids in one query: well under SQLite's oldest limit of 999


def worker_name() -> str:
    """A name for this worker that no other process, here or on another host, shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def side_by_side(engine: Engine) -> bool:
    """Whether workers run cycles side by side on this database (PostgreSQL), so that
    each should claim due sources a batch at a time and leave the rest to the others.
    SQLite admits one writer at a time: there a worker claims everything that is due."""
    return engine.dialect.name == "postgresql"


def exclusive(session: Session, name: str) -> None:
    """Hold the database-wide lock `name` until the session's transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(name.encode()) - (1 << 31)  # into int4's range
        session.execute(
            text("SELECT pg_advisory_xact_lock(:cls, :key)"), {"cls": _LOCK_CLASS, "key": key}
        )


def claim_due_sources(
    session: Session,
    worker: str,
    now: datetime,
    lease: timedelta,
    *,
    margins: Mapping[int, timedelta],
    limit: int | None = None,
) -> list[Source]:
    """Claim for `worker` up to `limit` sources that are due and that nobody else holds.

    `margins` names the candidate sources (by id) and how early each may be
    polled: a source is due when it was never polled or its `next_poll_at`
    is at most `now` + its margin. Claims that ran out before `now` count as
    free. The most overdue sources come first. The claims hold until `now` +
    `lease`, or until release_source() drops them.
    """
    if not margins:
        return []
    by_margin: dict[timedelta, list[int]] = defaultdict(list)
    for source_id, margin in margins.items():
        by_margin[margin].append(source_id)
    due = or_(
        *(
            and_(
                Source.id.in_(ids),
                or_(Source.next_poll_at.is_(None), Source.next_poll_at <= now + margin),
            )
            for margin, ids in by_margin.items()
        )
    )
    free = or_(Source.claimed_until.is_(None), Source.claimed_until <= now)
    query = (
        select(Source)
        .where(due, free)
        .order_by(Source.next_poll_at.asc().nulls_first(), Source.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    sources = list(session.scalars(query))
    for source in sources:
        source.claimed_by, source.claimed_until = worker, now + lease
    session.flush()
    return sources


def release_source(session: Session, source_id: int, worker: str) -> Source | None:
    """The source, locked for this transaction, with `worker`'s claim dropped.

    None when the claim is no longer `worker`'s: it ran out and another worker
    claimed the source, so that worker's result is the one to store.
    """
    return release_sources(session, [source_id], worker).get(source_id)


def release_sources(
    session: Session, source_ids: Collection[int], worker: str
) -> dict[int, Source]:
    """`release_source` for many sources, a query per RELEASE_BATCH of them: those still
    claimed by `worker`, by id, locked for this transaction, with the claims dropped."""
    ids = list(source_ids)
    released: dict[int, Source] = {}
    for start in range(0, len(ids), RELEASE_BATCH):
        query = (
            select(Source)
            .where(Source.id.in_(ids[start : start + RELEASE_BATCH]), Source.claimed_by == worker)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        released.update((source.id, source) for source in session.scalars(query))
    for source in released.values():
        source.claimed_by = source.claimed_until = None
    return released


def release_all(session: Session, worker: str) -> int:
    """Drop every claim `worker` still holds (a cycle that ended early); returns how many."""
    statement = (
        update(Source)
        .where(Source.claimed_by == worker)
        .values(claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return changed_rows(session, statement)


def busy_workers(session: Session, worker: str, now: datetime) -> set[str]:
    """The other workers that still hold claims running past `now` and may be alive: they
    are storing a batch of this cycle, and will evaluate when they are done.

    A holder on this host whose process is gone (killed) is not busy; one on
    another host is assumed alive until its claims run out.
    """
    holders = session.scalars(
        select(Source.claimed_by)
        .where(Source.claimed_by.is_not(None), Source.claimed_by != worker)
        .where(Source.claimed_until > now)
        .distinct()
    )
    return {holder for holder in holders if holder and _may_be_alive(holder)}


def _may_be_alive(worker: str) -> bool:
    host, _, rest = worker.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True
