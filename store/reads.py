"""What the read commands print, read with plain SQL: sources, states, their newest
evidence, alerts, the first run, subscribers.

`status`, `feeds` and `alerts` start in a fraction of the time importing SQLAlchemy
takes, so each query here is SQL text with named `:param` placeholders, run by one of
two readers: `SqliteReader` over the standard library's sqlite3, for an SQLite file
already at the newest schema revision (`open_sqlite`), and `AlchemyReader` over a
SQLAlchemy Connection or Session, for every other database (PostgreSQL) and for callers
holding a session already (the cycle, the report page, digests). Every function takes
either reader, or a Session or Connection (read through `AlchemyReader`): each query
is written once.

The drivers hand values back differently: SQLite keeps times as naive UTC text (as
store.types.UTCDateTime stores them), JSON as text and booleans as integers, PostgreSQL
as naive datetimes, parsed JSON and booleans. `when`, `_json` and `_flag` turn both
into what the ORM gave: aware UTC datetimes, Python values, bools; `_expanded` binds
parameters as the ORM would store them.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from allywatch.language.records import Observation, Polarity
from allywatch.store.engine import BUSY_TIMEOUT_MS, is_locked
from allywatch.store.migrate import VERSION_TABLE, head_revision

if TYPE_CHECKING:
    from typing import TypeAlias

    from sqlalchemy import Connection, CursorResult
    from sqlalchemy.orm import Session

# How SQLAlchemy's SQLite dialect writes a DateTime (naive UTC, see store/types.py);
# text comparisons with stored times hold only in this very form.
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


class Reader:
    """Runs one of the queries below: SQL text with named `:param` placeholders."""

    sqlite: bool

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """The rows of `sql`; a list or tuple parameter stands for `IN (...)`'s list."""
        return self._execute(*_expanded(sql, params or {}, sqlite=self.sqlite))

    def changed(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        """Run an INSERT, UPDATE or DELETE (in a write transaction); how many rows it changed."""
        return self._change(*_expanded(sql, params or {}, sqlite=self.sqlite))

    def _execute(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _change(self, sql: str, params: dict[str, Any]) -> int:
        raise NotImplementedError


class SqliteReader(Reader):
    """An sqlite3 connection inside one transaction: a read-only one (see `open_sqlite`),
    or a write transaction (`sqlite_writing`)."""

    sqlite = True

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def _execute(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return self._connection.execute(sql, params).fetchall()

    def _change(self, sql: str, params: dict[str, Any]) -> int:
        return self._connection.execute(sql, params).rowcount

    def close(self) -> None:
        """End the read transaction and the connection."""
        self._connection.close()


class AlchemyReader(Reader):
    """The queries run as `text()` on a SQLAlchemy Connection or Session (in its
    transaction; a Session flushes pending changes first, as for its own queries)."""

    def __init__(self, bind: Connection | Session) -> None:
        from sqlalchemy import Connection

        self._bind = bind
        dialect = bind.dialect if isinstance(bind, Connection) else bind.get_bind().dialect
        self.sqlite = dialect.name == "sqlite"

    def _execute(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        from sqlalchemy import text

        return [tuple(row) for row in self._bind.execute(text(sql), params)]

    def _change(self, sql: str, params: dict[str, Any]) -> int:
        from sqlalchemy import text

        result: CursorResult[Any] = self._bind.execute(text(sql), params)  # type: ignore[assignment]
        return result.rowcount


if TYPE_CHECKING:
    Database: TypeAlias = Reader | Session | Connection


def open_sqlite(url: str) -> SqliteReader | None:
    """A reader of the SQLite file `url` names, when it exists and its schema is at the
    newest revision; else None, and the caller opens it the usual way
    (store.migrate.open_database), which creates, upgrades, or says what is wrong.

    Only "locked" is raised here: waiting for the lock a second time would say nothing
    more. Any other failure (not a database, damaged) is left for open_database to
    meet and report as it always has.
    """
    path = sqlite_path(url)
    if path is None or not path.is_file():
        return None
    # A plain connection, not a mode=ro URI: a read-only connection cannot recover or
    # set up a WAL database's shared memory file. query_only keeps it from writing.
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA query_only = 1")
        connection.execute("BEGIN")  # every read of the command sees one snapshot
        revisions = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    except sqlite3.Error as exc:
        connection.close()
        if is_locked(exc):
            raise
        return None
    if revisions != [(head_revision(),)]:
        connection.close()
        return None
    return SqliteReader(connection)


def current_sqlite_file(url: str) -> Path | None:
    """The SQLite file `url` names when it exists and is at the newest schema revision
    (as `open_sqlite` finds it), to be written with `sqlite_writing`; else None."""
    reader = open_sqlite(url)
    if reader is None:
        return None
    reader.close()
    return sqlite_path(url)


@contextmanager
def sqlite_writing(path: Path, *, busy_timeout: float | None = None) -> Iterator[SqliteReader]:
    """A write transaction on the SQLite file `path` (one `current_sqlite_file` gave),
    with sqlite3 alone: begun as store.engine.writing begins one (BEGIN IMMEDIATE,
    waiting `busy_timeout` seconds for another writer, else "database is locked"),
    committed when the block ends, rolled back on any exception."""
    busy_ms = BUSY_TIMEOUT_MS if busy_timeout is None else max(0, round(busy_timeout * 1000))
    connection = sqlite3.connect(path, timeout=busy_ms / 1000, isolation_level=None)
    try:
        connection.execute(f"PRAGMA busy_timeout = {busy_ms}")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield SqliteReader(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    finally:
        connection.close()


def sqlite_path(url: str) -> Path | None:
    """The file of a plain `sqlite:///path` URL; None for any other URL (another
    database, memory, a `file:` URI, query parameters or escapes to decode)."""
    if not url.startswith("sqlite:///"):
        return None
    name = url.removeprefix("sqlite:///")
    if not name or name == ":memory:" or name.startswith("file:") or any(c in name for c in "?%#"):
        return None
    return Path(name)


# --- values -----------------------------------------------------------------------


def _expanded(sql: str, params: Mapping[str, Any], *, sqlite: bool) -> tuple[str, dict[str, Any]]:
    """`sql` and its parameters as the driver takes them: a sequence becomes one
    placeholder per item (`(NULL)` when empty: it matches nothing), a datetime naive UTC
    (written as SQLite's dialect writes it, on SQLite)."""
    bound: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, list | tuple):
            names = [f"{name}_{i}" for i in range(len(value))]
            listed = ", ".join(f":{n}" for n in names) or "NULL"
            sql = re.sub(rf":{name}(?!\w)", f"({listed})", sql)
            bound.update((n, _bound(item, sqlite)) for n, item in zip(names, value, strict=True))
        else:
            bound[name] = _bound(value, sqlite)
    return sql, bound


def _bound(value: Any, sqlite: bool) -> Any:
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: allywatch stores aware UTC times")
    naive = value.astimezone(UTC).replace(tzinfo=None)
    return naive.strftime(_SQLITE_TIME) if sqlite else naive


def when(value: Any) -> datetime | None:
    """A stored time as the ORM's UTCDateTime gives it: aware UTC."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _json(value: Any) -> Any:
    """A JSON column's value (SQLite keeps the text, PostgreSQL's driver parses it)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _flag(value: Any) -> bool:
    return bool(value)


def _same(value: Any) -> Any:
    return value


def _converted(row: tuple[Any, ...], values: tuple[Callable[[Any], Any], ...]) -> list[Any]:
    """A row's values, each turned into what the ORM gave by its column's function."""
    return [value(column) for value, column in zip(values, row, strict=True)]


def as_reader(db: Database) -> Reader:
    return db if isinstance(db, Reader) else AlchemyReader(db)


# --- sources ----------------------------------------------------------------------


class SourceRecord(NamedTuple):
    """A stored source and its fetch state (the columns of store.models.Source)."""

    id: int
    name: str
    location: str
    configured_location: str
    etag: str | None
    last_modified: str | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    error_kind: str | None
    error: str | None
    consecutive_failures: int
    failing_since: datetime | None
    next_poll_at: datetime | None
    articles_seen: int
    claimed_by: str | None
    claimed_until: datetime | None


_SOURCE_COLUMNS = ", ".join(SourceRecord._fields)
_SOURCE_VALUES = (_same,) * 6 + (when, when) + (_same,) * 3 + (when, when, _same, _same, when)


def list_sources(db: Database, names: Sequence[str] | None = None) -> list[SourceRecord]:
    """The stored sources (only those named, if `names` is given), by name."""
    where = "" if names is None else " WHERE name IN :names"
    params = {} if names is None else {"names": list(names)}
    rows = as_reader(db).rows(f"SELECT {_SOURCE_COLUMNS} FROM sources{where} ORDER BY name", params)
    return [SourceRecord._make(_converted(row, _SOURCE_VALUES)) for row in rows]


def next_due_source(db: Database, names: Sequence[str]) -> SourceRecord | None:
    """Of the named sources, the one to be polled next (None when there are none): one
    never polled first, else the soonest due."""
    rows = as_reader(db).rows(
        f"SELECT {_SOURCE_COLUMNS} FROM sources WHERE name IN :names"
        " ORDER BY next_poll_at IS NOT NULL, next_poll_at, id LIMIT 1",
        {"names": list(names)},
    )
    return SourceRecord._make(_converted(rows[0], _SOURCE_VALUES)) if rows else None


# --- states and their evidence ----------------------------------------------------


class StateRecord(NamedTuple):
    """A signal's (or an entity's) stored state: since when, and the occurrence of a
    recurring event it is tied to (alerts.occurrence.Occurrence.to_json, or None)."""

    signal: str
    entity: str
    state: str
    since: datetime | None
    occurrence: dict[str, Any] | None


def signal_states(db: Database) -> list[StateRecord]:
    """Every stored state, by signal and entity."""
    rows = as_reader(db).rows(
        "SELECT signal, entity, state, since, occurrence FROM signal_states ORDER BY signal, entity"
    )
    return [StateRecord(s, e, state, when(since), _json(o)) for s, e, state, since, o in rows]


def state_details(db: Database) -> dict[tuple[str, str], dict[str, Any] | None]:
    """Every stored state's evaluation detail (store.models.SignalState.detail), by
    (signal, entity): what alerts.evaluate decides from whether to replay a signal."""
    rows = as_reader(db).rows("SELECT signal, entity, detail FROM signal_states")
    return {(signal, entity): _json(detail) for signal, entity, detail in rows}


def observation_marks(db: Database) -> dict[str, list[int]]:
    """Per signal: how many observations are stored, and the newest one's id.

    A signal whose mark is unchanged has had no observation added or removed.
    """
    rows = as_reader(db).rows("SELECT signal, COUNT(id), MAX(id) FROM observations GROUP BY signal")
    return {signal: [count, newest] for signal, count, newest in rows}


def changed_since(db: Database, since: datetime) -> set[tuple[str, str]]:
    """(signal, entity) of every state with a transition dated, or recorded, at or after
    `since`."""
    rows = as_reader(db).rows(
        "SELECT DISTINCT signal, entity FROM transitions"
        " WHERE at >= :since OR recorded_at >= :since",
        {"since": since},
    )
    return {(signal, entity) for signal, entity in rows}


def latest_evidence(db: Database, signal: str, entity: str) -> Observation | None:
    """The newest observation of a signal's entity (without the terms matched)."""
    rows = as_reader(db).rows(
        "SELECT o.state, o.polarity, o.hedged, o.published_at, o.outlet, o.story,"
        " a.link, a.title"
        " FROM observations o JOIN articles a ON a.id = o.article_id"
        " WHERE o.signal = :signal AND o.entity = :entity"
        " ORDER BY o.published_at DESC, o.id DESC LIMIT 1",
        {"signal": signal, "entity": entity},
    )
    if not rows:
        return None
    state, polarity, hedged, published, outlet, story, link, title = rows[0]
    moment = when(published)
    assert moment is not None  # an observation has its article's time
    kind: Polarity = polarity
    return Observation(
        signal, entity or None, state, kind, _flag(hedged), (), moment, outlet, story, link, title
    )


# --- alerts and runs --------------------------------------------------------------


class AlertRecord(NamedTuple):
    """A stored alert (the columns of store.models.Alert)."""

    id: int
    key: str
    kind: str
    signal: str | None
    entity: str
    from_state: str | None
    to_state: str | None
    severity: str
    at: datetime
    message: str
    evidence: list[Any]
    transition_id: int | None
    created_at: datetime
    acked_at: datetime | None
    announced: bool


_ALERT_COLUMNS = ", ".join(AlertRecord._fields)
_ALERT_VALUES = (_same,) * 8 + (when, _same, _json, _same, when, when, _flag)


def list_alerts(
    db: Database,
    *,
    unacked: bool = False,
    limit: int | None = None,
    signal: str | None = None,
    since: datetime | None = None,
) -> list[AlertRecord]:
    """Alerts, newest first: only unacknowledged ones, only one signal's, only those
    whose change happened or was raised at or after `since`, as asked."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if unacked:
        conditions.append("acked_at IS NULL")
    if signal is not None:
        conditions.append("signal = :signal")
        params["signal"] = signal
    if since is not None:
        conditions.append("(at >= :since OR created_at >= :since)")
        params["since"] = since
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    bounded = ""
    if limit:
        bounded, params["limit"] = " LIMIT :limit", limit
    rows = as_reader(db).rows(
        f"SELECT {_ALERT_COLUMNS} FROM alerts{where} ORDER BY at DESC, id DESC{bounded}", params
    )
    return [AlertRecord._make(_converted(row, _ALERT_VALUES)) for row in rows]


def first_run_started(db: Database) -> datetime | None:
    """When allywatch first ran on this database."""
    return when(as_reader(db).rows("SELECT MIN(started_at) FROM runs")[0][0])


# --- subscribers ------------------------------------------------------------------


class SubscriberRecord(NamedTuple):
    """A subscriber and where its digest stands (the columns of store.models.Subscriber,
    which says what they mean)."""

    id: int
    email: str
    signals: list[str] | None
    cadence: str
    send_time: str
    timezone: str
    weekday: int
    all_quiet: bool
    created_at: datetime
    active: bool
    unsubscribed_at: datetime | None
    last_digest_at: datetime | None
    last_sent_at: datetime | None
    failures: int
    last_error: str | None
    last_error_at: datetime | None
    next_attempt_at: datetime | None
    claim_token: str | None
    claimed_until: datetime | None


_SUBSCRIBER_COLUMNS = ", ".join(SubscriberRecord._fields)
_SUBSCRIBER_VALUES = (
    (_same, _same, _json)
    + (_same,) * 4
    + (_flag, when, _flag, when, when, when, _same, _same, when, when, _same, when)
)


def list_subscribers(db: Database, *, active_only: bool = False) -> list[SubscriberRecord]:
    """The subscribers (only the active ones, if asked), by address."""
    where = " WHERE active" if active_only else ""
    rows = as_reader(db).rows(
        f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers{where} ORDER BY email"
    )
    return [SubscriberRecord._make(_converted(row, _SUBSCRIBER_VALUES)) for row in rows]


class Subscribed(Protocol):
    """What says which alerts a subscriber gets: a SubscriberRecord or the ORM's row."""

    @property
    def id(self) -> int: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def signals(self) -> list[str] | None: ...


def pending_alert_ids(db: Database, subscriber: Subscribed, *, feed_alerts: bool) -> list[int]:
    """The ids of the announced alerts on the subscriber's signals, raised since it
    subscribed, not yet delivered to it; oldest first. Alerts without a signal (feed
    problems) are not digest material; `feed_alerts` includes them (the operator's
    channel gets them)."""
    conditions = [
        "a.announced",
        "a.created_at >= :created_at",
        "NOT EXISTS (SELECT 1 FROM deliveries d"
        " WHERE d.subscriber_id = :subscriber AND d.alert_id = a.id)",
    ]
    params: dict[str, Any] = {"created_at": subscriber.created_at, "subscriber": subscriber.id}
    if not feed_alerts:
        conditions.append("a.signal IS NOT NULL")
    if subscriber.signals is not None:
        conditions.append("a.signal IN :signals")
        params["signals"] = list(subscriber.signals)
    rows = as_reader(db).rows(
        f"SELECT a.id FROM alerts a WHERE {' AND '.join(conditions)} ORDER BY a.at, a.id", params
    )
    return [alert_id for (alert_id,) in rows]
