"""Which subscribers have something to be sent now: a digest whose slot is due, an
immediate subscriber's unsent alerts, or an "all quiet" note owed.

What a digest run (alerts/dispatch.py) goes through, and what tells a quiet cycle
(allywatch/quiet_cycle.py) that it must go the full way. It reads through
store/reads.py, so it needs neither the ORM nor the mailer.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING

from allywatch.alerts import schedule
from allywatch.alerts.addresses import is_operator
from allywatch.store.reads import SubscriberRecord, list_subscribers, pending_alert_ids

if TYPE_CHECKING:
    from allywatch.store.models import Subscriber
    from allywatch.store.reads import Database


def candidates(
    db: Database,
    now: datetime,
    emails: Collection[str] | None = None,
    ignore_schedule: bool = False,
) -> list[SubscriberRecord]:
    """Active subscribers that have a digest, or an empty due slot, to deal with now
    (`emails`: only those; `ignore_schedule`: whatever their slots)."""
    wanted = set(emails) if emails is not None else None
    out = []
    for subscriber in list_subscribers(db, active_only=True):
        if wanted is not None and subscriber.email not in wanted:
            continue
        if not ignore_schedule:
            if subscriber.next_attempt_at is not None and subscriber.next_attempt_at > now:
                continue
            if not is_due(subscriber, now):
                continue
        if _has_work(db, subscriber, now, ignore_schedule):
            out.append(subscriber)
    return out


def _has_work(
    db: Database, subscriber: SubscriberRecord, now: datetime, ignore_schedule: bool
) -> bool:
    """An immediate subscriber with nothing to send needs no attention; a due slot always does."""
    if subscriber.cadence != "immediate" and not ignore_schedule:
        return True
    feed_alerts = is_operator(subscriber.email)
    return bool(pending_alert_ids(db, subscriber, feed_alerts=feed_alerts)) or quiet_note_due(
        subscriber, now
    )


def is_due(subscriber: Subscriber | SubscriberRecord, now: datetime) -> bool:
    return schedule.is_due(
        subscriber.cadence,
        subscriber.send_time,
        subscriber.timezone,
        subscriber.weekday,
        created_at=subscriber.created_at,
        last_digest_at=subscriber.last_digest_at,
        now=now,
    )


def quiet_note_due(subscriber: Subscriber | SubscriberRecord, now: datetime) -> bool:
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
