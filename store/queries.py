"""The queries the rest of allywatch needs. Nothing outside `store` writes SQL.

Every function takes a Session and leaves committing to the caller's
transaction (see store.engine.writing), so a step's writes land together or
not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, case, func, insert, literal, select, update
from sqlalchemy.orm import Session

from allywatch.language.records import Article, MatchedTerm, Observation, Polarity
from allywatch.store.engine import changed_rows
from allywatch.store.models import (
    Alert,
    ArticleRow,
    ObservationRow,
    Run,
    SignalState,
    Source,
    Transition,
)
from allywatch.store.polls import configured_next_poll

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


def reschedule(sources: Iterable[Source], intervals: Mapping[str, timedelta]) -> None:
    """Move each source's next poll where its interval as configured now asks
    (polls.configured_next_poll): a changed `interval:` takes effect at once."""
    for source in sources:
        moved = configured_next_poll(source, intervals[source.name])
        if moved is not None:
            source.next_poll_at = moved


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
        uid_hits.update(session.scalars(select(ArticleRow.uid).where(ArticleRow.uid.in_(chunk))))
    for chunk in _chunks(list(links)):
        link_hits.update(session.scalars(select(ArticleRow.link).where(ArticleRow.link.in_(chunk))))
    return uid_hits, link_hits


def stored_source_uids(session: Session, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (source name, uid) pairs name a stored article of that source."""
    hits: set[tuple[str, str]] = set()
    wanted = set(pairs)
    for chunk in _chunks(sorted({uid for _, uid in wanted})):
        rows = session.execute(
            select(ArticleRow.source_name, ArticleRow.uid).where(ArticleRow.uid.in_(chunk))
        )
        hits.update(pair for pair in map(tuple, rows) if pair in wanted)
    return hits


def add_article(session: Session, **fields: Any) -> ArticleRow:
    article = ArticleRow(**fields)
    session.add(article)
    session.flush()
    return article


def recent_articles(
    session: Session, since: datetime | None, *, after_id: int = 0
) -> list[tuple[int, str, str, str, str]]:
    """(id, uid, title, summary, story) of articles stored after the article `after_id`
    (and first seen since `since`, if given), in the order they were stored."""
    query = select(
        ArticleRow.id, ArticleRow.uid, ArticleRow.title, ArticleRow.summary, ArticleRow.story
    ).where(ArticleRow.id > after_id)
    if since is not None:
        query = query.where(ArticleRow.first_seen_at >= since)
    rows = session.execute(query.order_by(ArticleRow.id))
    return [tuple(row) for row in rows]  # type: ignore[misc]


def last_article_id(session: Session) -> int:
    """The id of the article stored last (0 when there is none)."""
    return session.scalar(select(func.max(ArticleRow.id))) or 0


def articles_after(session: Session, after_id: int) -> list[tuple[str, str, str]]:
    """(source name, title, link) of the articles stored after the article `after_id`,
    in the order they were stored."""
    query = select(ArticleRow.source_name, ArticleRow.title, ArticleRow.link)
    rows = session.execute(query.where(ArticleRow.id > after_id).order_by(ArticleRow.id))
    return [(source, title, link) for source, title, link in rows]


def add_observations(
    session: Session, article: ArticleRow, observations: Iterable[Observation]
) -> int:
    rows = [_observation_row(article.id, _article_columns(article), obs) for obs in observations]
    if rows:
        session.execute(insert(ObservationRow), rows)
    return len(rows)


def add_articles(
    session: Session,
    source: Source,
    first_seen: datetime,
    batch: Sequence[tuple[Article, str, Sequence[Observation]]],
) -> int:
    """Store (article, its story key, its observations) triples from `source` in order,
    with one batched insert of the articles and one of the observations (instead of
    a round trip per row).

    Returns the id of the last article stored (0 for an empty batch).
    """
    if not batch:
        return 0
    # Core statements on the session's connection: the ORM's bulk path adds nothing here
    # but cost (these rows are never loaded as objects in this session).
    connection = session.connection()
    # A declarative class's __table__ is a Table; SQLAlchemy types it as any FromClause.
    articles = cast(Table, ArticleRow.__table__)
    observations_table = cast(Table, ObservationRow.__table__)
    columns = [
        {
            "uid": article.uid,
            "link": article.link,
            "title": article.title,
            "summary": article.summary,
            "published_at": article.published,
            "first_seen_at": first_seen,
            "source_id": source.id,
            "source_name": source.name,
            "outlet": article.outlet or source.name,  # a feed item naming no outlet is its feed's
            "story": story,
        }
        for article, story, _ in batch
    ]
    ids: Sequence[int] = (
        connection.execute(
            insert(articles).returning(articles.c.id, sort_by_parameter_order=True), columns
        )
        .scalars()
        .all()
    )
    rows = [
        _observation_row(article_id, article, obs)
        for article_id, article, (_, _, observations) in zip(ids, columns, batch, strict=True)
        for obs in observations
    ]
    if rows:
        connection.execute(insert(observations_table), rows)
    return ids[-1]


def _article_columns(article: ArticleRow) -> dict[str, Any]:
    return {
        "published_at": article.published_at,
        "outlet": article.outlet,
        "story": article.story,
    }


def _observation_row(article_id: int, article: dict[str, Any], obs: Observation) -> dict[str, Any]:
    """An observation's columns; when, where and which story come from its article."""
    return {
        "article_id": article_id,
        "signal": obs.signal,
        "entity": obs.entity or "",
        "state": obs.state,
        "polarity": obs.polarity,
        "hedged": obs.hedged,
        "evidence": [term.to_json() for term in obs.evidence],
        "published_at": article["published_at"],
        "outlet": article["outlet"],
        "story": article["story"],
    }


def count_rows(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# --- state, transitions, alerts --------------------------------------------


def signal_states(session: Session) -> list[SignalState]:
    """Every stored state, loaded into the session, where set_signal_state then finds its
    row without a query (the rules engine's; store.reads.signal_states only reads)."""
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
    occurrence: dict[str, Any] | None = None,
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
                occurrence=occurrence,
            )
        )
    elif (row.state, row.since, row.detail, row.occurrence) != (state, since, detail, occurrence):
        row.state, row.since, row.updated_at = state, since, now
        row.detail, row.occurrence = detail, occurrence


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


def ack_alert(session: Session, alert_id: int, now: datetime) -> Alert | None:
    alert = session.get(Alert, alert_id)
    if alert is not None and alert.acked_at is None:
        alert.acked_at = now
    return alert


def ack_all_alerts(session: Session, now: datetime) -> int:
    """Acknowledge every alert not yet acknowledged; how many that was."""
    return changed_rows(session, update(Alert).where(Alert.acked_at.is_(None)).values(acked_at=now))


# --- runs ---------------------------------------------------------------------


def start_run(session: Session, now: datetime) -> Run:
    run = Run(started_at=now, status="running")
    session.add(run)
    session.flush()
    return run


def finish_run(
    session: Session, run_id: int, now: datetime, status: str, summary: dict[str, Any]
) -> None:
    run = session.get(Run, run_id)
    if run is not None:
        run.finished_at, run.status, run.summary = now, status, summary


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- the rules engine's reads -------------------------------------------------


# What an Observation read back needs of its row and its article, in the order
# `_observation` takes them.
_OBSERVATION_COLUMNS = (
    ObservationRow.signal,
    ObservationRow.entity,
    ObservationRow.state,
    ObservationRow.polarity,
    ObservationRow.hedged,
    ObservationRow.published_at,
    ObservationRow.outlet,
    ObservationRow.story,
    ArticleRow.link,
    ArticleRow.title,
)


def _observation(
    signal: str,
    entity: str,
    state: str,
    polarity: Polarity,
    hedged: bool,
    published: datetime,
    outlet: str,
    story: str,
    link: str,
    title: str,
    evidence: Sequence[dict[str, Any]] | None = None,
    tier: str = "other",
) -> Observation:
    terms = tuple(MatchedTerm.from_json(term) for term in evidence) if evidence else ()
    return Observation(
        signal,
        entity or None,
        state,
        polarity,
        hedged,
        terms,
        published,
        outlet,
        story,
        link,
        title,
        tier,
    )


def stored_observations(
    session: Session, signal: str, tiers: Mapping[str, str] | None = None
) -> list[Observation]:
    """A signal's observations, oldest first, placed in their articles but without the
    terms matched (replaying does not read them).

    `tiers` maps source names to their tiers; an article from any other source
    (or from a source no longer configured) is of tier "other".
    """
    ranked = {name: tier for name, tier in (tiers or {}).items() if tier != "other"}
    tier_column = (
        case(ranked, value=ArticleRow.source_name, else_=literal("other"))
        if ranked
        else literal("other")
    )
    rows = session.execute(
        select(*_OBSERVATION_COLUMNS, tier_column)
        .join(ArticleRow, ArticleRow.id == ObservationRow.article_id)
        .where(ObservationRow.signal == signal)
        .order_by(ObservationRow.published_at, ObservationRow.id)
    )
    return [_observation(*row[:10], tier=row[10]) for row in rows]  # 10: _OBSERVATION_COLUMNS


def last_transitions(session: Session, signal: str) -> dict[str, Transition]:
    """The latest recorded transition of each of a signal's entities ("" for none)."""
    latest: dict[str, Transition] = {}
    for transition in session.scalars(
        select(Transition).where(Transition.signal == signal).order_by(Transition.at, Transition.id)
    ):
        latest[transition.entity] = transition
    return latest


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
) -> list[Observation]:
    """An entity's observations of some states, for or against, published in (start, end],
    newest first, with the terms matched."""
    query = (
        select(*_OBSERVATION_COLUMNS, ObservationRow.evidence)
        .join(ArticleRow, ArticleRow.id == ObservationRow.article_id)
        .where(
            ObservationRow.signal == signal,
            ObservationRow.entity == entity,
            ObservationRow.state.in_(states),
            ObservationRow.polarity == polarity,
            ObservationRow.published_at <= end,
        )
    )
    if start is not None:
        query = query.where(ObservationRow.published_at > start)
    query = query.order_by(ObservationRow.published_at.desc(), ObservationRow.id.desc())
    return [_observation(*row) for row in session.execute(query.limit(limit))]
