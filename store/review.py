"""The review queue's queries: near-misses and near-threshold reports kept for
analysts, and their verdicts.

A near-miss (language.records.NearMiss) is kept against its stored article; so is a
report of a state short of its outlets, once `allywatch review` has listed it. An
article is kept at most once per signal. An analyst's verdict is a state of the
signal or NO_STATE; labelled items are exported once as tests (`review export`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from allywatch.language.records import MatchedTerm, NearMiss, Observation
from allywatch.store.models import ArticleRow, ObservationRow, ReviewItem

# The verdict that an article evidences no state of the signal.
NO_STATE = "none"
# What an item is: an article that met a signal's subject but evidenced no state, or
# a report of a state that is short of the outlets it needs.
NEAR_MISS = "near-miss"
NEAR_THRESHOLD = "near-threshold"


class Reviewed(NamedTuple):
    """A review item with its article, as `review` lists and `review export` writes it."""

    id: int
    signal: str
    entity: str | None
    words: tuple[MatchedTerm, ...]
    published: datetime
    outlet: str
    title: str
    summary: str
    link: str
    verdict: str | None
    kind: str = NEAR_MISS
    state: str | None = None  # the state a near-threshold report is short for


def add_near_misses(session: Session, now: datetime, found: Sequence[tuple[str, NearMiss]]) -> int:
    """Keep (article uid, near-miss) pairs for review; their articles are stored already.
    Returns how many were kept."""
    if not found:
        return 0
    uids = sorted({uid for uid, _ in found})
    articles = {
        uid: (article_id, published)
        for uid, article_id, published in session.execute(
            select(ArticleRow.uid, ArticleRow.id, ArticleRow.published_at).where(
                ArticleRow.uid.in_(uids)
            )
        )
    }
    rows = [
        {
            "article_id": articles[uid][0],
            "signal": miss.signal,
            "entity": miss.entity or "",
            "words": [term.to_json() for term in miss.words],
            "published_at": articles[uid][1],
            "created_at": now,
        }
        for uid, miss in found
        if uid in articles
    ]
    if rows:
        session.execute(insert(ReviewItem), rows)
    return len(rows)


_COLUMNS = (
    ReviewItem.id,
    ReviewItem.signal,
    ReviewItem.entity,
    ReviewItem.words,
    ReviewItem.published_at,
    ArticleRow.outlet,
    ArticleRow.title,
    ArticleRow.summary,
    ArticleRow.link,
    ReviewItem.verdict,
    ReviewItem.kind,
    ReviewItem.state,
)


def _reviewed(row: Iterable[Any]) -> Reviewed:
    id_, signal, entity, words, published, outlet, title, summary, link, verdict, kind, state = row
    terms = tuple(MatchedTerm.from_json(term) for term in words or ())
    return Reviewed(
        id_,
        signal,
        entity or None,
        terms,
        published,
        outlet,
        title,
        summary,
        link,
        verdict,
        kind,
        state,
    )


def open_items(
    session: Session,
    signals: Sequence[str] | None = None,
    limit: int | None = None,
    kind: str | None = None,
) -> list[Reviewed]:
    """Items awaiting a verdict, newest article first (of `signals` and `kind` only, if
    given)."""
    query = (
        select(*_COLUMNS)
        .join(ArticleRow, ArticleRow.id == ReviewItem.article_id)
        .where(ReviewItem.verdict.is_(None))
    )
    if signals is not None:
        query = query.where(ReviewItem.signal.in_(signals))
    if kind is not None:
        query = query.where(ReviewItem.kind == kind)
    query = query.order_by(ReviewItem.published_at.desc(), ReviewItem.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [_reviewed(row) for row in session.execute(query)]


def count_open(
    session: Session, signals: Sequence[str] | None = None, kind: str | None = None
) -> int:
    query = select(func.count()).select_from(ReviewItem).where(ReviewItem.verdict.is_(None))
    if signals is not None:
        query = query.where(ReviewItem.signal.in_(signals))
    if kind is not None:
        query = query.where(ReviewItem.kind == kind)
    return session.scalar(query) or 0


def keep_reports(
    session: Session,
    now: datetime,
    signal: str,
    entity: str | None,
    state: str,
    reports: Sequence[Observation],
) -> dict[str, int]:
    """Keep the stored reports of `state` (short of its outlets) for review, each article
    once per signal; map each report's link to the id of the item that holds it."""
    words = {report.link: [term.to_json() for term in report.evidence] for report in reports}
    found = session.execute(
        select(ArticleRow.link, ArticleRow.id, ArticleRow.published_at)
        .join(ObservationRow, ObservationRow.article_id == ArticleRow.id)
        .where(
            ObservationRow.signal == signal,
            ObservationRow.entity == (entity or ""),
            ObservationRow.state == state,
            ArticleRow.link.in_(list(words)),
        )
        .order_by(ArticleRow.id)
    ).all()
    articles: dict[str, tuple[int, datetime]] = {}
    for link, article_id, published in found:  # the first article stored with the link
        articles.setdefault(link, (article_id, published))
    held = dict(
        session.execute(
            select(ReviewItem.article_id, ReviewItem.id).where(
                ReviewItem.signal == signal,
                ReviewItem.article_id.in_([a for a, _ in articles.values()]),
            )
        ).all()
    )
    for link, (article_id, published) in articles.items():
        if article_id not in held:
            item = ReviewItem(
                article_id=article_id,
                signal=signal,
                entity=entity or "",
                words=words[link],
                published_at=published,
                created_at=now,
                kind=NEAR_THRESHOLD,
                state=state,
            )
            session.add(item)
            session.flush()
            held[article_id] = item.id
    return {link: held[article_id] for link, (article_id, _) in articles.items()}


def drop_unlabelled_reports(session: Session, signals: Sequence[str], keep: set[int]) -> None:
    """Forget the unlabelled near-threshold items of `signals` but those in `keep`: their
    states have reached their outlets (or lost their reports) since they were kept."""
    session.execute(
        delete(ReviewItem).where(
            ReviewItem.kind == NEAR_THRESHOLD,
            ReviewItem.verdict.is_(None),
            ReviewItem.signal.in_(signals),
            ReviewItem.id.not_in(keep),
        )
    )


def unexported(session: Session, signal: str) -> list[Reviewed]:
    """A signal's labelled items not exported yet, in the order they were kept."""
    query = (
        select(*_COLUMNS)
        .join(ArticleRow, ArticleRow.id == ReviewItem.article_id)
        .where(
            ReviewItem.signal == signal,
            ReviewItem.verdict.is_not(None),
            ReviewItem.exported_at.is_(None),
        )
        .order_by(ReviewItem.id)
    )
    return [_reviewed(row) for row in session.execute(query)]


def get_item(session: Session, item_id: int) -> ReviewItem | None:
    return session.get(ReviewItem, item_id)


def set_verdict(item: ReviewItem, verdict: str, now: datetime) -> None:
    """Record a verdict (a new one replaces the last, and is exported again)."""
    item.verdict, item.labelled_at, item.exported_at = verdict, now, None


def mark_exported(session: Session, item_ids: Sequence[int], now: datetime) -> None:
    for item_id in item_ids:
        item = session.get(ReviewItem, item_id)
        if item is not None:
            item.exported_at = now
