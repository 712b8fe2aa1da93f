"""The tables: sources and their fetch state, articles, observations, signal
state, transitions, alerts, the review queue, subscribers and deliveries.

`entity` is the empty string, never NULL, for signals without entities, so that
unique constraints hold on every database (NULLs never collide in SQL).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from allywatch.language.records import Polarity
from allywatch.store.types import UTCDateTime


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Source(Base):
    """A configured source and its fetch state."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    location: Mapped[str] = mapped_column(Text)
    configured_location: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None]
    last_error_at: Mapped[datetime | None]
    error_kind: Mapped[str | None] = mapped_column(String(50))
    error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    failing_since: Mapped[datetime | None]
    next_poll_at: Mapped[datetime | None]
    articles_seen: Mapped[int] = mapped_column(default=0)
    # The worker polling the source now, and until when its claim holds (store/claims.py).
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None]


class ArticleRow(Base):
    """A stored article (language.records.Article, plus where and when it was taken in)."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    # What a feed says is stored whole on every database (PostgreSQL enforces lengths):
    # uids and story keys up to the parser's 512 characters, outlets (host names) as text.
    # The uid, unique and given by us, is the insert sentinel: a batch of articles is
    # inserted many rows a statement with their ids returned in order, where SQLite
    # would otherwise take one statement per row (the schema is unchanged).
    uid: Mapped[str] = mapped_column(String(512), unique=True, insert_sentinel=True)
    link: Mapped[str] = mapped_column(Text, index=True)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(index=True)
    first_seen_at: Mapped[datetime]
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    source_name: Mapped[str] = mapped_column(String(200))
    outlet: Mapped[str] = mapped_column(Text)
    story: Mapped[str] = mapped_column(String(512), index=True)


class ObservationRow(Base):
    """A stored observation; when, where and which story are copied from its article
    so that replaying a signal reads one table."""

    __tablename__ = "observations"
    __table_args__ = (
        UniqueConstraint("article_id", "signal", "entity", "state", "polarity"),
        Index("ix_observations_signal_entity_time", "signal", "entity", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    signal: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(100))
    polarity: Mapped[Polarity] = mapped_column(String(10))  # "for" or "against"
    hedged: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence: Mapped[list[Any]]
    published_at: Mapped[datetime]
    outlet: Mapped[str] = mapped_column(Text)
    story: Mapped[str] = mapped_column(String(512))


class SignalState(Base):
    __tablename__ = "signal_states"

    signal: Mapped[str] = mapped_column(String(100), primary_key=True)
    entity: Mapped[str] = mapped_column(String(100), primary_key=True, default="")
    state: Mapped[str] = mapped_column(String(100))
    since: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # {"at": evaluation time, "states": [rules.StateStatus as JSON, ...]}, for `explain`.
    detail: Mapped[dict[str, Any] | None]
    # The occurrence of a recurring event the state belongs to (rules Occurrence.to_json:
    # event, label, place, date, start), as known at `updated_at`; None when tied to none.
    occurrence: Mapped[dict[str, Any] | None]


class Transition(Base):
    __tablename__ = "transitions"
    __table_args__ = (
        UniqueConstraint("signal", "entity", "at", "to_state"),
        Index("ix_transitions_signal_entity_at", "signal", "entity", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signal: Mapped[str] = mapped_column(String(100), index=True)
    entity: Mapped[str] = mapped_column(String(100), default="")
    from_state: Mapped[str] = mapped_column(String(100))
    to_state: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
    evidence: Mapped[list[Any]]
    recorded_at: Mapped[datetime]
    # Why: evidence, corroborated, denied, expired, superseded, lapsed, count or revised
    # (see alerts.rules.Change).
    reason: Mapped[str] = mapped_column(String(20), default="evidence")
    # The occurrence the state changed to belongs to, as SignalState.occurrence.
    occurrence: Mapped[dict[str, Any] | None]


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    signal: Mapped[str | None] = mapped_column(String(100), index=True)
    entity: Mapped[str] = mapped_column(String(100), default="")
    from_state: Mapped[str | None] = mapped_column(String(100))
    to_state: Mapped[str | None] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(20), default="warning")
    at: Mapped[datetime]
    message: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[list[Any]]
    transition_id: Mapped[int | None] = mapped_column(
        ForeignKey("transitions.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(index=True)
    acked_at: Mapped[datetime | None]
    announced: Mapped[bool] = mapped_column(Boolean, default=True)


class ReviewItem(Base):
    """An article kept for an analyst to review against one signal: a near-miss (it met
    the signal's `subject` but evidenced none of its states) or a report of a state
    short of its outlets, with the words that matched; then the analyst's verdict (a
    state of the signal, or "none": it evidences none) and when it was exported as a
    test (`allywatch review export`)."""

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("article_id", "signal"),
        Index("ix_review_items_signal_published", "signal", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    signal: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(100), default="")
    words: Mapped[list[Any]]
    published_at: Mapped[datetime]
    created_at: Mapped[datetime]
    verdict: Mapped[str | None] = mapped_column(String(100))
    labelled_at: Mapped[datetime | None]
    exported_at: Mapped[datetime | None]
    # "near-miss", or "near-threshold": a report of `state`, which is short of its outlets.
    kind: Mapped[str] = mapped_column(String(20), default="near-miss", server_default="near-miss")
    state: Mapped[str | None] = mapped_column(String(100))


class Subscriber(Base):
    """Who gets digests, for which signals, how often; and where its digest stands.

    `signals` is None for every signal. `last_digest_at` is when the last due
    digest was dealt with (sent, or found empty); `last_sent_at` is when an
    email last went out. `claim_token`/`claimed_until` are a short lease taken
    while one run is sending this subscriber's digest, so overlapping runs
    never send it twice. `failures`, `last_error` and `next_attempt_at` hold a
    digest that the mail server did not accept, for retry with backoff.
    """

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    signals: Mapped[list[Any] | None]
    cadence: Mapped[str] = mapped_column(String(20), default="daily")
    send_time: Mapped[str] = mapped_column(String(5), default="07:00")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    weekday: Mapped[int] = mapped_column(Integer, default=0)
    all_quiet: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    unsubscribed_at: Mapped[datetime | None]
    last_digest_at: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]


class Delivery(Base):
    """One alert that reached one subscriber, in the message named by `message_id`."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("subscriber_id", "alert_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(String(300))
    sent_at: Mapped[datetime]


class Run(Base):
    """One cycle: when it started and finished, and how it ended."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default="running")
    summary: Mapped[dict[str, Any] | None]


class Lease(Base):
    """A named lock held by one process until `expires_at` (see store/locks.py).

    The holder renews it while it works; a killed holder's lease simply expires.
    """

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class Silence(Base):
    """Transitions of a signal (or of one of its entities) stay unannounced until `until`.

    `entity` is the empty string for the whole signal.
    """

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(primary_key=True)
    signal: Mapped[str] = mapped_column(String(100), index=True)
    entity: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]
    until: Mapped[datetime] = mapped_column(index=True)
    note: Mapped[str] = mapped_column(Text, default="")
