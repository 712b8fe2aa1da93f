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

A subscriber is reached through one of two channels, by its address: an email
address gets email digests (the mailer), an Apprise URL gets chat messages
(alerts/notify.py), one per alert when its cadence is `immediate`. Both go
through the same lease, records and retries above; a message that carries
several alerts is recorded as it is accepted, so a run stopped between two
messages sends neither again. The config's `notify:` URLs are kept as
subscribers of every signal, immediate, that also get the alerts about feeds.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from allywatch.alerts.addresses import (
    OPERATOR_PREFIX,
    is_apprise_url,
    is_operator,
    operator_address,
    target_url,
)
from allywatch.alerts.digest import (
    Composer,
    Digest,
    FeedProblem,
    SignalText,
    Unsubscribe,
    build_message,
    feed_health,
)
from allywatch.alerts.digest_due import candidates, is_due, quiet_note_due
from allywatch.alerts.digest_report import DigestReport, SentDigest
from allywatch.alerts.mailer import Mailer, MailError
from allywatch.alerts.notify import AppriseSender, ChatComposer, ChatMessage, NotifyError
from allywatch.store import subscribers as store
from allywatch.store.engine import reading, writing
from allywatch.store.models import Alert, Subscriber
from allywatch.store.reads import SubscriberRecord, list_sources

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
    # Apprise URLs that get every announced alert at once (the config's `notify:`).
    notify: Sequence[str] = ()


Message = Digest | ChatMessage


def send_due_digests(
    engine: Engine,
    settings: DigestSettings,
    mailer: Mailer,
    now: datetime,
    *,
    emails: Collection[str] | None = None,
    ignore_schedule: bool = False,
    sender: AppriseSender | None = None,
) -> DigestReport:
    """Send every digest that is due at `now` (or, with `ignore_schedule`, every pending one).

    `emails` limits the run to those subscribers (email addresses or Apprise URLs).
    """
    report = DigestReport()
    with writing(engine) as session:
        store.sync_operators(
            session, OPERATOR_PREFIX, [operator_address(u) for u in settings.notify], now
        )
    with reading(engine) as session:
        due = [(s.id, s.email) for s in candidates(session, now, emails, ignore_schedule)]
    channels = _Channels(settings, mailer, sender or AppriseSender())
    run = _Run(engine, channels, now, ignore_schedule, report)
    for subscriber_id, address in due:
        run.send(subscriber_id, address)
    return report


def preview_digests(
    engine: Engine,
    settings: DigestSettings,
    now: datetime,
    *,
    emails: Collection[str] | None = None,
    ignore_schedule: bool = False,
) -> list[Message]:
    """The messages `send_due_digests` would send now, rendered but neither sent nor recorded."""
    channels = _Channels(settings, None, AppriseSender())
    messages: list[Message] = []
    with reading(engine) as session:
        for subscriber in candidates(session, now, emails, ignore_schedule):
            messages += channels.of(subscriber.email).compose(session, subscriber, now)
    return messages


class NoSecret(MailError):
    """An email digest cannot carry a working unsubscribe link: it is never sent."""


def retry_delay(failures: int) -> timedelta:
    """How long to wait after the n-th consecutive failure: 5 min, 10, 20, ... up to 6 h."""
    factor: int = 2 ** max(0, min(failures - 1, 16))
    return min(FIRST_RETRY * factor, LONGEST_RETRY)


def _pending(session: Session, subscriber: Subscriber | SubscriberRecord) -> list[Alert]:
    """The subscriber's unsent alerts; the operator's channel also gets those about feeds."""
    return store.pending_alerts(session, subscriber, feed_alerts=is_operator(subscriber.email))


class _Channel(Protocol):
    """How a subscriber is reached: what it would be sent now, and sending one message."""

    def compose(
        self, session: Session, subscriber: Subscriber | SubscriberRecord, now: datetime
    ) -> Sequence[Message]: ...

    def send(self, message: Message, now: datetime) -> None: ...


class _EmailChannel:
    def __init__(self, settings: DigestSettings, mailer: Mailer | None):
        self.settings, self.mailer = settings, mailer

    @cached_property
    def composer(self) -> Composer:
        """Built when a first digest is composed: a cycle that sends none loads no Jinja2."""
        return Composer(self.settings.template_dir, self.settings.signals, self.settings.sender)

    def compose(
        self, session: Session, subscriber: Subscriber | SubscriberRecord, now: datetime
    ) -> list[Digest]:
        digest = _compose(session, self.settings, self.composer, subscriber, now)
        return [digest] if digest is not None else []

    def send(self, message: Message, now: datetime) -> None:
        assert isinstance(message, Digest) and self.mailer is not None
        if not self.settings.secret:
            raise NoSecret(NO_SECRET)
        self.mailer.send(build_message(message, self.settings.sender, now))


class _ChatChannel:
    def __init__(self, settings: DigestSettings, sender: AppriseSender):
        self.settings, self.sender = settings, sender

    @cached_property
    def composer(self) -> ChatComposer:
        """Built when a first message is composed (see _EmailChannel.composer)."""
        return ChatComposer(self.settings.template_dir, self.settings.signals)

    def compose(
        self, session: Session, subscriber: Subscriber | SubscriberRecord, now: datetime
    ) -> list[ChatMessage]:
        alerts = _pending(session, subscriber)
        if not alerts and not quiet_note_due(subscriber, now):
            return []
        return self.composer.compose(
            subscriber_id=subscriber.id,
            recipient=subscriber.email,
            alerts=alerts,
            markdown=self.sender.takes_markdown(target_url(subscriber.email)),
            one_per_alert=subscriber.cadence == "immediate",
            feed_health=_feed_health(session, self.settings, subscriber.timezone),
            timezone=subscriber.timezone,
            now=now,
            quiet_since=subscriber.last_sent_at or subscriber.created_at,
        )

    def send(self, message: Message, now: datetime) -> None:
        assert isinstance(message, ChatMessage)
        self.sender.send(target_url(message.recipient), message)


class _Channels:
    def __init__(self, settings: DigestSettings, mailer: Mailer | None, sender: AppriseSender):
        self.email = _EmailChannel(settings, mailer)
        self.chat = _ChatChannel(settings, sender)

    def of(self, address: str) -> _Channel:
        return self.chat if is_apprise_url(address) or is_operator(address) else self.email


def _template_error() -> type[Exception]:
    """Jinja2's TemplateError. An except clause's tuple is evaluated only when an exception
    reaches it, so Jinja2 is imported here only after a send failed (by then a template
    was rendered and Jinja2 is loaded): a cycle that composes nothing never loads it."""
    import jinja2

    return jinja2.TemplateError


class _Run:
    """One pass over the candidates: lease, compose, send, record, one subscriber at a time."""

    def __init__(
        self,
        engine: Engine,
        channels: _Channels,
        now: datetime,
        ignore_schedule: bool,
        report: DigestReport,
    ):
        self.engine, self.channels = engine, channels
        self.now, self.ignore_schedule, self.report = now, ignore_schedule, report

    def send(self, subscriber_id: int, address: str) -> None:
        token = uuid.uuid4().hex
        with writing(self.engine) as session:
            claimed = store.claim_subscriber(
                session, subscriber_id, token, self.now, self.now + LEASE
            )
        if not claimed:
            self.report.busy.append(address)
            return
        channel = self.channels.of(address)
        try:
            messages = self._messages(channel, subscriber_id, token)
            for index, message in enumerate(messages):
                channel.send(message, self.now)
                with writing(self.engine) as session:
                    store.record_deliveries(
                        session, subscriber_id, message.alert_ids, message.message_id, self.now
                    )
                    if index == len(messages) - 1:
                        store.record_digest_sent(session, subscriber_id, token, self.now)
                self.report.sent.append(
                    SentDigest(address, message.message_id, len(message.alert_ids), message.quiet)
                )
        except (MailError, NotifyError, _template_error()) as exc:
            error = f"template: {exc}" if isinstance(exc, _template_error()) else str(exc)
            # A missing secret is the config's to fix: the next run tries again, no backoff.
            delay = (lambda _: timedelta(0)) if isinstance(exc, NoSecret) else retry_delay
            with writing(self.engine) as session:
                store.record_digest_failure(session, subscriber_id, token, error, self.now, delay)
            self.report.failed.append((address, error))

    def _messages(self, channel: _Channel, subscriber_id: int, token: str) -> Sequence[Message]:
        """Under our lease, what to send; nothing after recording that there is nothing.

        Read only now, not when the candidates were listed: a run that held
        the lease before us may have sent these alerts in the meantime.
        """
        with reading(self.engine) as session:
            subscriber = store.get_subscriber(session, subscriber_id)
            wanted = subscriber is not None and subscriber.active
            if subscriber is not None and wanted and not self.ignore_schedule:
                wanted = is_due(subscriber, self.now)
            messages = (
                channel.compose(session, subscriber, self.now)
                if subscriber is not None and wanted
                else []
            )
        if not messages:
            with writing(self.engine) as session:
                if wanted:
                    store.record_digest_empty(session, subscriber_id, token, self.now)
                    self.report.empty += 1
                else:
                    store.release_claim(session, subscriber_id, token)
        return messages


def _feed_problems(session: Session, settings: DigestSettings) -> list[FeedProblem]:
    return [
        FeedProblem(s.name, s.failing_since)
        for s in list_sources(session, list(settings.feeds))
        if s.consecutive_failures
    ]


def _feed_health(session: Session, settings: DigestSettings, timezone: str) -> str | None:
    return feed_health(_feed_problems(session, settings), len(settings.feeds), ZoneInfo(timezone))


def _compose(
    session: Session,
    settings: DigestSettings,
    composer: Composer,
    subscriber: Subscriber | SubscriberRecord,
    now: datetime,
) -> Digest | None:
    """The subscriber's digest, an "all quiet" note when one is owed, or None."""
    alerts = _pending(session, subscriber)
    if not alerts and not quiet_note_due(subscriber, now):
        return None
    # Imported here, as Jinja2 is (see _EmailChannel.composer): only a digest carries the link.
    from allywatch.alerts.unsubscribe import make_token, unsubscribe_url

    problems = _feed_problems(session, settings)
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
