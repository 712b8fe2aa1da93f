"""The queries the rest of allywatch needs. Nothing outside `store` writes SQL.

Every function takes a Session and leaves committing to the caller's
transaction (see store.engine.writing), so a step's writes land together or
not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from allywatch.store.models import Alert, Article, Observation, Run, SignalState, Source, Transition

# --- sources -----------------------------------------------------------------


def sync_sources(session: Session, configured: Iterable[tuple[str, str]]) -> list[Source]:
    """Make the sources table agree with the config: (name, location) pairs.

    A source whose configured location changed starts again from that location
    (its conditional-GET validators are dropped). Sources no longer configured
    keep their rows and articles; they are simply not returned.
    """
    existing = {s.name: s for s in session.scalars(select(Source))}
    out = []
    for name, location in configured:
        source = existing.get(name)
        if source is None:
            source = Source(
                name=name,
                location=location,
                configured_location=location,
                consecutive_failures=0,
                articles_seen=0,
            )
            session.add(source)
        elif source.configured_location != location:
            source.configured_location = source.location = location
            source.etag = source.last_modified = None
            source.next_poll_at = None
        out.append(source)
    session.flush()
    return out


def list_sources(session: Session, names: Sequence[str] | None = None) -> list[Source]:
    query = select(Source).order_by(Source.name)
    if names is not None:
        query = query.where(Source.name.in_(names))
    return list(session.scalars(query))


def record_fetch_success(
    session: Session,
    source: Source,
    *,
    now: datetime,
    location: str,
    etag: str | None,
    last_modified: str | None,
    next_poll_at: datetime,
    new_articles: int,
) -> None:
    source.location = location
    source.etag, source.last_modified = etag, last_modified
    source.last_success_at = now
    source.consecutive_failures = 0
    source.failing_since = None
    source.next_poll_at = next_poll_at
    source.articles_seen = (source.articles_seen or 0) + new_articles


def record_fetch_failure(
    session: Session,
    source: Source,
    *,
    now: datetime,
    kind: str,
    message: str,
    next_poll_at: datetime,
) -> None:
    source.last_error_at = now
    source.error_kind, source.error = kind, message[:2000]
    source.consecutive_failures = (source.consecutive_failures or 0) + 1
    source.failing_since = source.failing_since or now
    source.next_poll_at = next_poll_at


# --- articles and observations ---------------------------------------------


def known_article_keys(
    session: Session, uids: Sequence[str], links: Sequence[str]
) -> tuple[set[str], set[str]]:
    """Which of these uids and links are stored already."""
    uid_hits: set[str] = set()
    link_hits: set[str] = set()
    for chunk in _chunks(list(uids)):
        uid_hits.update(session.scalars(select(Article.uid).where(Article.uid.in_(chunk))))
    for chunk in _chunks(list(links)):
        link_hits.update(session.scalars(select(Article.link).where(Article.link.in_(chunk))))
    return uid_hits, link_hits


def add_article(session: Session, **fields: Any) -> Article:
    article = Article(**fields)
    session.add(article)
    session.flush()
    return article


def recent_articles(
    session: Session, since: datetime | None, *, after_id: int = 0
) -> list[tuple[int, str, str, str, str]]:
    """(id, uid, title, summary, story) of articles stored after the article `after_id`
    (and first seen since `since`, if given), in the order they were stored."""
    query = select(Article.id, Article.uid, Article.title, Article.summary, Article.story).where(
        Article.id > after_id
    )
    if since is not None:
        query = query.where(Article.first_seen_at >= since)
    rows = session.execute(query.order_by(Article.id))
    return [tuple(row) for row in rows]  # type: ignore[misc]


def last_article_id(session: Session) -> int:
    """The id of the article stored last (0 when there is none)."""
    return session.scalar(select(func.max(Article.id))) or 0


def add_observations(session: Session, article: Article, observations: Iterable[dict]) -> int:
    rows = [_observation_row(article.id, _article_columns(article), obs) for obs in observations]
    if rows:
        session.execute(insert(Observation), rows)
    return len(rows)


def add_articles(session: Session, batch: Sequence[tuple[dict[str, Any], Sequence[dict]]]) -> int:
    """Store (article columns, its observations) pairs in order, with one batched insert
    of the articles and one of the observations (instead of a round trip per row).

    Returns the id of the last article stored (0 for an empty batch).
    """
    if not batch:
        return 0
    # Core statements on the session's connection: the ORM's bulk path adds nothing here
    # but cost (these rows are never loaded as objects in this session).
    connection = session.connection()
    articles, observations_table = Article.__table__, Observation.__table__
    ids = (
        connection.execute(
            insert(articles).returning(articles.c.id, sort_by_parameter_order=True),
            [columns for columns, _ in batch],
        )
        .scalars()
        .all()
    )
    rows = [
        _observation_row(article_id, columns, obs)
        for article_id, (columns, observations) in zip(ids, batch, strict=True)
        for obs in observations
    ]
    if rows:
        connection.execute(insert(observations_table), rows)
    return ids[-1]


def _article_columns(article: Article) -> dict[str, Any]:
    return {
        "published_at": article.published_at,
        "outlet": article.outlet,
        "story": article.story,
    }


def _observation_row(article_id: int, article: dict[str, Any], obs: dict) -> dict[str, Any]:
    """An observation's columns; when, where and which story come from its article."""
    return {
        "article_id": article_id,
        "signal": obs["signal"],
        "entity": obs["entity"] or "",
        "state": obs["state"],
        "polarity": obs["polarity"],
        "hedged": obs["hedged"],
        "evidence": obs["evidence"],
        "published_at": article["published_at"],
        "outlet": article["outlet"],
        "story": article["story"],
    }


def count_rows(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# --- state, transitions, alerts --------------------------------------------


def signal_states(session: Session) -> list[SignalState]:
    return list(
        session.scalars(select(SignalState).order_by(SignalState.signal, SignalState.entity))
    )


def set_signal_state(
    session: Session,
    signal: str,
    entity: str,
    state: str,
    since: datetime | None,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    row = session.get(SignalState, (signal, entity))
    if row is None:
        session.add(
            SignalState(
                signal=signal,
                entity=entity,
                state=state,
                since=since,
                updated_at=now,
                detail=detail,
            )
        )
    elif (row.state, row.since, row.detail) != (state, since, detail):
        row.state, row.since, row.updated_at, row.detail = state, since, now, detail


def transitions_for(session: Session, signal: str, entity: str | None = None) -> list[Transition]:
    query = select(Transition).where(Transition.signal == signal)
    if entity is not None:
        query = query.where(Transition.entity == entity)
    return list(session.scalars(query.order_by(Transition.at.desc(), Transition.id.desc())))


def add_transition(session: Session, **fields: Any) -> Transition:
    transition = Transition(**fields)
    session.add(transition)
    session.flush()
    return transition


def add_alert(session: Session, **fields: Any) -> Alert | None:
    """Store an alert unless one with the same key exists; returns the new one or None."""
    if session.scalar(select(Alert.id).where(Alert.key == fields["key"])) is not None:
        return None
    alert = Alert(**fields)
    session.add(alert)
    session.flush()
    return alert


def list_alerts(
    session: Session, *, unacked: bool = False, limit: int | None = None
) -> list[Alert]:
    query = select(Alert).order_by(Alert.at.desc(), Alert.id.desc())
    if unacked:
        query = query.where(Alert.acked_at.is_(None))
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def ack_alert(session: Session, alert_id: int, now: datetime) -> Alert | None:
    alert = session.get(Alert, alert_id)
    if alert is not None and alert.acked_at is None:
        alert.acked_at = now
    return alert


# --- runs ---------------------------------------------------------------------


def start_run(session: Session, now: datetime) -> Run:
    run = Run(started_at=now, status="running")
    session.add(run)
    session.flush()
    return run


def finish_run(session: Session, run_id: int, now: datetime, status: str, summary: dict) -> None:
    run = session.get(Run, run_id)
    if run is not None:
        run.finished_at, run.status, run.summary = now, status, summary


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def latest_evidence(
    session: Session, signal: str, entity: str
) -> tuple[Observation, Article] | None:
    """The newest observation (with its article) for a signal's entity."""
    row = session.execute(
        select(Observation, Article)
        .join(Article, Article.id == Observation.article_id)
        .where(Observation.signal == signal, Observation.entity == entity)
        .order_by(Observation.published_at.desc(), Observation.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


# --- the rules engine's reads -------------------------------------------------


def evidence_rows(session: Session, signal: str) -> list[Any]:
    """A signal's observations as plain rows (what replaying needs, nothing more), oldest first.

    Each row has entity, state, polarity, hedged, published_at, outlet, story, link, title.
    """
    return list(
        session.execute(
            select(
                Observation.entity,
                Observation.state,
                Observation.polarity,
                Observation.hedged,
                Observation.published_at,
                Observation.outlet,
                Observation.story,
                Article.link,
                Article.title,
            )
            .join(Article, Article.id == Observation.article_id)
            .where(Observation.signal == signal)
            .order_by(Observation.published_at, Observation.id)
        )
    )


def observation_marks(session: Session) -> dict[str, list[int]]:
    """Per signal: how many observations are stored, and the newest one's id.

    A signal whose mark is unchanged has had no observation added or removed.
    """
    rows = session.execute(
        select(Observation.signal, func.count(Observation.id), func.max(Observation.id)).group_by(
            Observation.signal
        )
    )
    return {signal: [count, newest] for signal, count, newest in rows}


def last_transitions(session: Session, signal: str) -> dict[str, Transition]:
    """The latest recorded transition of each of a signal's entities ("" for none)."""
    latest: dict[str, Transition] = {}
    for transition in session.scalars(
        select(Transition).where(Transition.signal == signal).order_by(Transition.at, Transition.id)
    ):
        latest[transition.entity] = transition
    return latest


def first_run_started(session: Session) -> datetime | None:
    """When allywatch first ran on this database."""
    return session.scalar(select(func.min(Run.started_at)))


def signal_state(session: Session, signal: str, entity: str) -> SignalState | None:
    return session.get(SignalState, (signal, entity))


def observations_between(
    session: Session,
    signal: str,
    entity: str,
    states: Sequence[str],
    polarity: str,
    start: datetime | None,
    end: datetime,
    limit: int,
) -> list[tuple[Observation, Article]]:
    """An entity's observations of some states, for or against, published in (start, end],
    newest first."""
    query = (
        select(Observation, Article)
        .join(Article, Article.id == Observation.article_id)
        .where(
            Observation.signal == signal,
            Observation.entity == entity,
            Observation.state.in_(states),
            Observation.polarity == polarity,
            Observation.published_at <= end,
        )
    )
    if start is not None:
        query = query.where(Observation.published_at > start)
    query = query.order_by(Observation.published_at.desc(), Observation.id.desc()).limit(limit)
    return [(obs, article) for obs, article in session.execute(query)]
