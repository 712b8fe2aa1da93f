"""The review queue's queries: near-misses kept for analysts, and their verdicts.

A near-miss (language.records.NearMiss) is kept against its stored article, at
most once per article and signal. An analyst's verdict is a state of the signal
or NO_STATE; labelled items are exported once as tests (`allywatch review export`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from allywatch.language.records import MatchedTerm, NearMiss
from allywatch.store.models import ArticleRow, ReviewItem

# The verdict that an article evidences no state of the signal.
NO_STATE = "none"


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
)


def _reviewed(row: Iterable[Any]) -> Reviewed:
    id_, signal, entity, words, published, outlet, title, summary, link, verdict = row
    terms = tuple(MatchedTerm.from_json(term) for term in words or ())
    return Reviewed(
        id_, signal, entity or None, terms, published, outlet, title, summary, link, verdict
    )


def open_items(
    session: Session, signals: Sequence[str] | None = None, limit: int | None = None
) -> list[Reviewed]:
    """Items awaiting a verdict, newest article first (of `signals` only, if given)."""
    query = (
        select(*_COLUMNS)
        .join(ArticleRow, ArticleRow.id == ReviewItem.article_id)
        .where(ReviewItem.verdict.is_(None))
    )
    if signals is not None:
        query = query.where(ReviewItem.signal.in_(signals))
    query = query.order_by(ReviewItem.published_at.desc(), ReviewItem.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [_reviewed(row) for row in session.execute(query)]


def count_open(session: Session, signals: Sequence[str] | None = None) -> int:
    query = select(func.count()).select_from(ReviewItem).where(ReviewItem.verdict.is_(None))
    if signals is not None:
        query = query.where(ReviewItem.signal.in_(signals))
    return session.scalar(query) or 0


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
