"""store/reads.py gives what the ORM gives, through sqlite3 and through SQLAlchemy: the
same rows, times as aware UTC datetimes, JSON parsed, booleans as bools; and its time
bounds compare with stored times as the ORM's did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from allywatch.cli import main
from allywatch.store import reads
from allywatch.store.engine import open_engine, reading, writing
from allywatch.store.models import Alert, Run, SignalState, Source, Subscriber
from allywatch.store.reads import Reader
from allywatch.store.subscribers import find_subscriber, unsubscribe

TOKYO = ZoneInfo("Asia/Tokyo")
FEEDS = Path(__file__).resolve().parent.parent / "examples" / "feeds"


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Any:
    """A database after one cycle over the sample feeds and a missing one (failing), with
    two subscribers (one unsubscribed) and an acknowledged alert."""
    sources = "".join(f"  - {{name: {f.stem}, path: '{f}'}}\n" for f in sorted(FEEDS.glob("*.xml")))
    sources += f"  - {{name: gone, path: '{tmp_path / 'missing.xml'}'}}\n"
    config = tmp_path / "allywatch.yaml"
    config.write_text(f"database: {database_url}\nsources:\n{sources}", encoding="utf-8")
    for args, status in (
        (["subscribers", "add", "a@example.org", "--signals", "su35-iran"], 0),
        (["subscribers", "add", "b@example.org", "--all-quiet"], 0),
        (["run", "--clock", "2025-09-10T08:00:00"], 3),  # a source failed
        (["ack", "1"], 0),
    ):
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        assert result.exit_code == status, result.output
    engine = open_engine(database_url)
    with writing(engine) as session:
        unsubscribed = find_subscriber(session, "b@example.org")
        assert unsubscribed is not None
        unsubscribe(session, unsubscribed.id, datetime(2025, 9, 11, tzinfo=UTC))
    yield engine
    engine.dispose()


def readers(engine: Engine) -> list[Any]:
    """Every way to read `engine`: a Session, a Connection, and sqlite3 where it is SQLite."""
    return ["session", "connection"] + (["sqlite3"] if engine.dialect.name == "sqlite" else [])


def read(engine: Engine, how: str, query: Any) -> Any:
    if how == "sqlite3":
        reader = reads.open_sqlite(engine.url.render_as_string())
        assert isinstance(reader, Reader)
        try:
            return query(reader)
        finally:
            reader.close()
    if how == "connection":
        with engine.connect() as connection:
            return query(connection)
    with reading(engine) as session:
        return query(session)


def columns(row: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in names)


def test_the_rows_are_the_orms(engine: Engine) -> None:
    with reading(engine) as session:
        alerts = session.scalars(select(Alert).order_by(Alert.at.desc(), Alert.id.desc())).all()
        sources = session.scalars(select(Source).order_by(Source.name)).all()
        subscribers = session.scalars(select(Subscriber).order_by(Subscriber.email)).all()
        states = session.scalars(
            select(SignalState).order_by(SignalState.signal, SignalState.entity)
        ).all()
        first = session.scalar(select(func.min(Run.started_at)))
        want = {
            "alerts": [columns(a, reads.AlertRecord._fields) for a in alerts],
            "sources": [columns(s, reads.SourceRecord._fields) for s in sources],
            "subscribers": [columns(s, reads.SubscriberRecord._fields) for s in subscribers],
            "states": [columns(s, reads.StateRecord._fields) for s in states],
            "first": first,
        }
    assert any(a[13] is not None for a in want["alerts"])  # acked_at
    assert any(s[10] for s in want["sources"])  # a failing source
    assert [s[9] for s in want["subscribers"]] == [True, False]  # active
    assert any(s[4] is not None for s in want["states"])  # an occurrence
    for how in readers(engine):
        got = read(
            engine,
            how,
            lambda db: {
                "alerts": [tuple(a) for a in reads.list_alerts(db)],
                "sources": [tuple(s) for s in reads.list_sources(db)],
                "subscribers": [tuple(s) for s in reads.list_subscribers(db)],
                "states": [tuple(s) for s in reads.signal_states(db)],
                "first": reads.first_run_started(db),
            },
        )
        assert got == want, how
        alert = reads.AlertRecord._make(got["alerts"][0])
        assert alert.at.tzinfo is UTC and alert.created_at.tzinfo is UTC
        assert isinstance(alert.announced, bool) and isinstance(alert.evidence, list)
        subscriber = reads.SubscriberRecord._make(got["subscribers"][0])
        assert subscriber.signals == ["su35-iran"] and subscriber.all_quiet is False


def test_the_filters_and_bounds_match_stored_times_exactly(engine: Engine) -> None:
    for how in readers(engine):

        def check(db: Any) -> None:
            every = reads.list_alerts(db)
            newest = max(every, key=lambda a: a.at)
            assert reads.list_alerts(db, unacked=True) == [a for a in every if a.acked_at is None]
            assert reads.list_alerts(db, limit=2) == every[:2]
            assert reads.list_alerts(db, signal="su35-iran") == [
                a for a in every if a.signal == "su35-iran"
            ]
            # A bound equal to a stored time includes it; a microsecond later does not.
            after = newest.created_at + timedelta(microseconds=1)
            assert newest in reads.list_alerts(db, since=newest.at)
            assert reads.list_alerts(db, since=max(newest.at, after)) == []
            assert newest in reads.list_alerts(db, since=newest.at.astimezone(TOKYO))
            assert reads.changed_since(db, newest.at) >= {(newest.signal, newest.entity)}
            names = [s.name for s in reads.list_sources(db)]
            assert [s.name for s in reads.list_sources(db, names[1:3])] == names[1:3]
            assert reads.list_sources(db, []) == []
            assert [s.email for s in reads.list_subscribers(db, active_only=True)] == [
                "a@example.org"
            ]
            latest = reads.latest_evidence(db, "su35-iran", "")
            assert latest is not None and latest.published.tzinfo is UTC
            assert latest.entity is None and isinstance(latest.hedged, bool)
            assert reads.latest_evidence(db, "su35-iran", "nobody") is None

        read(engine, how, check)


def test_only_a_current_sqlite_file_is_read_with_sqlite3(tmp_path: Path) -> None:
    assert reads.open_sqlite(f"sqlite:///{tmp_path / 'none.db'}") is None  # created elsewhere
    assert reads.open_sqlite("postgresql://ally@127.0.0.1/ally") is None
    assert reads.open_sqlite("sqlite://") is None
    (tmp_path / "text.db").write_text("not a database\n", encoding="utf-8")
    assert reads.open_sqlite(f"sqlite:///{tmp_path / 'text.db'}") is None  # open_database says
    assert reads.sqlite_path(f"sqlite:///{tmp_path}/a.db?timeout=3") is None
    assert reads.sqlite_path(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
