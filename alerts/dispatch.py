"""Sending the digests that are due, each alert to each subscriber exactly once.

For every subscriber with something to send, one run:

1. takes a short lease on the subscriber (one atomic UPDATE), so an
   overlapping run skips it instead of sending the same digest;
2. reads, under that lease, the alerts not yet delivered to it and renders
   the digest (its Message-ID depends only on those alerts);
3. hands the message to the mailer;
4. right after the server accepted it, records the delivery of each alert in
   its own transaction, and drops the lease.

A run killed between 1 and 4 leaves a lease that expires after LEASE: the
digest is then sent by a later run (only a kill in the instant between the
server's "250 OK" and the commit can repeat a message, and it would repeat it
with the same Message-ID). A message the server refuses leaves the digest
pending, with the error and the time of the next attempt (exponential backoff).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import jinja2
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from allywatch.alerts import schedule
from allywatch.alerts.digest import (
    Composer,
    Digest,
    FeedProblem,
    SignalText,
    Unsubscribe,
    build_message,
)
from allywatch.alerts.mailer import Mailer, MailError
from allywatch.alerts.unsubscribe import make_token, unsubscribe_url
from allywatch.store import subscribers as store
from allywatch.store.engine import reading, writing
from allywatch.store.models import Subscriber

LEASE = timedelta(minutes=10)
FIRST_RETRY = timedelta(minutes=5)
LONGEST_RETRY = timedelta(hours=6)
NO_SECRET = (
    "no unsubscribe secret: set `secret:` in the config file or the ALLYWATCH_SECRET"
    " environment variable (digests are never sent without a working unsubscribe link)"
)


@dataclass(frozen=True)
class DigestSettings:
    """Everything composing and addressing a digest needs, as plain values."""

    template_dir: Path
    signals: Mapping[str, SignalText]
    sender: str
    secret: str | None
    base_url: str | None
    feeds: Sequence[str] = ()


@dataclass(frozen=True)
class SentDigest:
    email: str
    message_id: str
    alerts: int
    quiet: bool


@dataclass
class DigestReport:
    """What a digest run did: sent, failed (email, error), found empty, or left to another run."""

    sent: list[SentDigest] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    empty: int = 0
    busy: list[str] = field(default_factory=list)


def send_due_digests(
    engine: Engine,
    settings: DigestSettings,
    mailer: Mailer,
    now: datetime,
    *,
    emails: Collection[str] | None = None,
    ignore_schedule: bool = False,
) -> DigestReport:
    """Send every digest that is due at `now` (or, with `ignore_schedule`, every pending one).

    `emails` limits the run to those subscribers.
    """
    report = DigestReport()
    with reading(engine) as session:
        candidates = [(s.id, s.email) for s in _candidates(session, now, emails, ignore_schedule)]
    if candidates and not settings.secret:
        report.failed.extend((email, NO_SECRET) for _, email in candidates)
        return report
    run = _Run(engine, settings, mailer, now, ignore_schedule, report)
    for subscriber_id, email in candidates:
        run.send(subscriber_id, email)
    return report


def preview_digests(
    engine: Engine,
    settings: DigestSettings,
    now: datetime,
    *,
    emails: Collection[str] | None = None,
    ignore_schedule: bool = False,
) -> list[Digest]:
    """The digests `send_due_digests` would send now, rendered but neither sent nor recorded."""
    composer = Composer(settings.template_dir, settings.signals, settings.sender)
    digests = []
    with reading(engine) as session:
        for subscriber in _candidates(session, now, emails, ignore_schedule):
            digest = _compose(session, settings, composer, subscriber, now)
            if digest is not None:
                digests.append(digest)
    return digests


def retry_delay(failures: int) -> timedelta:
    """How long to wait after the n-th consecutive failure: 5 min, 10, 20, ... up to 6 h."""
    return min(FIRST_RETRY * 2 ** max(0, min(failures - 1, 16)), LONGEST_RETRY)


def _candidates(
    session: Session,
    now: datetime,
    emails: Collection[str] | None,
    ignore_schedule: bool,
) -> list[Subscriber]:
    """Active subscribers that have a digest, or an empty due slot, to deal with now."""
    wanted = {e.lower() for e in emails} if emails is not None else None
    out = []
    for subscriber in store.list_subscribers(session, active_only=True):
        if wanted is not None and subscriber.email not in wanted:
            continue
        if not ignore_schedule:
            if subscriber.next_attempt_at is not None and subscriber.next_attempt_at > now:
                continue
            if not _due(subscriber, now):
                continue
        if _has_work(session, subscriber, now, ignore_schedule):
            out.append(subscriber)
    return out


def _has_work(
    session: Session, subscriber: Subscriber, now: datetime, ignore_schedule: bool
) -> bool:
    """An immediate subscriber with nothing to send needs no attention; a due slot always does."""
    if subscriber.cadence != "immediate" and not ignore_schedule:
        return True
    return bool(store.pending_alerts(session, subscriber)) or _quiet_due(subscriber, now)


def _due(subscriber: Subscriber, now: datetime) -> bool:
    return schedule.is_due(
        subscriber.cadence,
        subscriber.send_time,
        subscriber.timezone,
        subscriber.weekday,
        created_at=subscriber.created_at,
        last_digest_at=subscriber.last_digest_at,
        now=now,
    )


def _quiet_due(subscriber: Subscriber, now: datetime) -> bool:
    if not subscriber.all_quiet:
        return False
    slot = schedule.latest_slot(
        subscriber.cadence, subscriber.send_time, subscriber.timezone, subscriber.weekday, now
    )
    return schedule.quiet_summary_due(
        subscriber.cadence,
        slot,
        created_at=subscriber.created_at,
        last_sent_at=subscriber.last_sent_at,
    )


class _Run:
    """One pass over the candidates: lease, compose, send, record, one subscriber at a time."""

    def __init__(
        self,
        engine: Engine,
        settings: DigestSettings,
        mailer: Mailer,
        now: datetime,
        ignore_schedule: bool,
        report: DigestReport,
    ):
        self.engine, self.settings, self.mailer = engine, settings, mailer
        self.now, self.ignore_schedule, self.report = now, ignore_schedule, report
        self.composer = Composer(settings.template_dir, settings.signals, settings.sender)

    def send(self, subscriber_id: int, email: str) -> None:
        token = uuid.uuid4().hex
        with writing(self.engine) as session:
            claimed = store.claim_subscriber(
                session, subscriber_id, token, self.now, self.now + LEASE
            )
        if not claimed:
            self.report.busy.append(email)
            return
        try:
            digest = self._digest(subscriber_id, token)
            if digest is None:
                return
            self.mailer.send(build_message(digest, self.settings.sender, self.now))
        except (MailError, jinja2.TemplateError) as exc:
            error = str(exc) if isinstance(exc, MailError) else f"template: {exc}"
            with writing(self.engine) as session:
                store.record_digest_failure(
                    session, subscriber_id, token, error, self.now, retry_delay
                )
            self.report.failed.append((email, error))
            return
        with writing(self.engine) as session:
            store.record_digest_sent(
                session, subscriber_id, token, digest.alert_ids, digest.message_id, self.now
            )
        self.report.sent.append(
            SentDigest(email, digest.message_id, len(digest.alert_ids), digest.quiet)
        )

    def _digest(self, subscriber_id: int, token: str) -> Digest | None:
        """Under our lease, what to send; None after recording that there is nothing.

        Read only now, not when the candidates were listed: a run that held
        the lease before us may have sent these alerts in the meantime.
        """
        with reading(self.engine) as session:
            subscriber = store.get_subscriber(session, subscriber_id)
            wanted = subscriber is not None and subscriber.active
            if subscriber is not None and wanted and not self.ignore_schedule:
                wanted = _due(subscriber, self.now)
            digest = (
                _compose(session, self.settings, self.composer, subscriber, self.now)
                if subscriber is not None and wanted
                else None
            )
        if digest is None:
            with writing(self.engine) as session:
                if wanted:
                    store.record_digest_empty(session, subscriber_id, token, self.now)
                    self.report.empty += 1
                else:
                    store.release_claim(session, subscriber_id, token)
        return digest


def _compose(
    session: Session,
    settings: DigestSettings,
    composer: Composer,
    subscriber: Subscriber,
    now: datetime,
) -> Digest | None:
    """The subscriber's digest, an "all quiet" note when one is owed, or None."""
    alerts = store.pending_alerts(session, subscriber)
    if not alerts and not _quiet_due(subscriber, now):
        return None
    problems = [
        FeedProblem(s.name, s.failing_since)
        for s in store.failing_sources(session, list(settings.feeds))
    ]
    secret = settings.secret or ""
    token = make_token(secret, subscriber.id, subscriber.email) if secret else "(no secret set)"
    link = unsubscribe_url(settings.base_url, token) if settings.base_url and secret else None
    return composer.compose(
        subscriber_id=subscriber.id,
        recipient=subscriber.email,
        alerts=alerts,
        feed_problems=problems,
        feeds_total=len(settings.feeds),
        unsubscribe=Unsubscribe(token=token, url=link),
        timezone=subscriber.timezone,
        now=now,
        quiet_since=subscriber.last_sent_at or subscriber.created_at,
    )
