"""Queries for subscribers and their digests: who they are, what they have not
been sent yet, and the lease, success and failure records of a digest.

Like store.queries, every function takes a Session and leaves committing to the
caller; `claim_subscriber` is the exception in spirit only: it is one atomic
UPDATE, so two runs racing for the same subscriber cannot both win it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from allywatch.store.engine import changed_rows
from allywatch.store.models import Alert, Delivery, Subscriber
from allywatch.store.reads import SubscriberRecord, pending_alert_ids

# Ids in one IN list: well under SQLite's oldest limit of 999 parameters.
_IDS_PER_QUERY = 500


def find_subscriber(session: Session, email: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(Subscriber.email == email))


def get_subscriber(session: Session, subscriber_id: int) -> Subscriber | None:
    return session.get(Subscriber, subscriber_id)


def add_subscriber(session: Session, **fields: Any) -> Subscriber:
    subscriber = Subscriber(failures=0, **fields)
    session.add(subscriber)
    session.flush()
    return subscriber


def remove_subscriber(session: Session, email: str) -> bool:
    """Delete a subscriber and its delivery records; False when there was none."""
    subscriber = find_subscriber(session, email)
    if subscriber is None:
        return False
    session.execute(delete(Delivery).where(Delivery.subscriber_id == subscriber.id))
    session.delete(subscriber)
    session.flush()
    return True


def unsubscribe(session: Session, subscriber_id: int, now: datetime) -> Subscriber | None:
    """Stop a subscriber's digests; idempotent. None when there is no such subscriber."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is not None and subscriber.active:
        subscriber.active = False
        subscriber.unsubscribed_at = now
    return subscriber


def pending_alerts(
    session: Session, subscriber: Subscriber | SubscriberRecord, *, feed_alerts: bool = False
) -> list[Alert]:
    """The alerts reads.pending_alert_ids names (which says which), oldest first."""
    ids = pending_alert_ids(session, subscriber, feed_alerts=feed_alerts)
    found = {
        alert.id: alert
        for start in range(0, len(ids), _IDS_PER_QUERY)
        for alert in session.scalars(
            select(Alert).where(Alert.id.in_(ids[start : start + _IDS_PER_QUERY]))
        )
    }
    return [found[alert_id] for alert_id in ids]


def claim_subscriber(
    session: Session, subscriber_id: int, token: str, now: datetime, until: datetime
) -> bool:
    """Take the sending lease on a subscriber unless another run holds a live one."""
    statement = (
        update(Subscriber)
        .where(
            Subscriber.id == subscriber_id,
            or_(Subscriber.claimed_until.is_(None), Subscriber.claimed_until <= now),
        )
        .values(claim_token=token, claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    return changed_rows(session, statement) == 1


def release_claim(session: Session, subscriber_id: int, token: str) -> Subscriber | None:
    """Drop our lease; returns the subscriber if the lease was still ours."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.claim_token != token:
        return None
    subscriber.claim_token = subscriber.claimed_until = None
    return subscriber


def record_deliveries(
    session: Session,
    subscriber_id: int,
    alert_ids: Sequence[int],
    message_id: str,
    now: datetime,
) -> None:
    """A message was accepted: remember which alerts it carried.

    An alert already recorded (a run whose lease ran out while it was still
    sending) keeps its first record.
    """
    known = set(
        session.scalars(
            select(Delivery.alert_id).where(
                Delivery.subscriber_id == subscriber_id, Delivery.alert_id.in_(list(alert_ids))
            )
        )
    )
    for alert_id in (a for a in alert_ids if a not in known):
        session.add(
            Delivery(
                subscriber_id=subscriber_id, alert_id=alert_id, message_id=message_id, sent_at=now
            )
        )
    session.flush()


def record_digest_sent(session: Session, subscriber_id: int, token: str, now: datetime) -> None:
    """Everything due was accepted (its deliveries recorded): drop the lease, clear failures."""
    subscriber = release_claim(session, subscriber_id, token)
    if subscriber is not None:
        subscriber.last_digest_at = subscriber.last_sent_at = now
        subscriber.failures = 0
        subscriber.next_attempt_at = None
    session.flush()


def record_digest_empty(session: Session, subscriber_id: int, token: str, now: datetime) -> None:
    """A due digest had nothing to say: it counts as dealt with until the next slot."""
    subscriber = release_claim(session, subscriber_id, token)
    if subscriber is not None:
        subscriber.last_digest_at = now
        subscriber.failures = 0
        subscriber.next_attempt_at = None


def record_digest_failure(
    session: Session,
    subscriber_id: int,
    token: str,
    error: str,
    now: datetime,
    retry_delay: Callable[[int], timedelta],
) -> None:
    """The digest was not accepted: keep it pending for `retry_delay(failures so far)`."""
    subscriber = release_claim(session, subscriber_id, token)
    if subscriber is None:
        return
    subscriber.failures = (subscriber.failures or 0) + 1
    subscriber.last_error = error[:2000]
    subscriber.last_error_at = now
    subscriber.next_attempt_at = now + retry_delay(subscriber.failures)


def sync_operators(session: Session, prefix: str, addresses: Sequence[str], now: datetime) -> None:
    """Make the operator's subscribers (every signal, immediate) agree with `addresses`.

    The operator's subscribers are those whose address starts with `prefix`
    (as every one of `addresses` does). One no longer listed is deactivated,
    keeping its delivery records; listed again, it gets the alerts raised from
    then on.
    """
    wanted = set(addresses)
    existing = {
        s.email: s
        for s in session.scalars(select(Subscriber).where(Subscriber.email.startswith(prefix)))
    }
    for address, subscriber in existing.items():
        if address not in wanted and subscriber.active:
            subscriber.active = False
            subscriber.unsubscribed_at = now
    for address in addresses:
        known = existing.get(address)
        if known is None:
            add_subscriber(
                session, email=address, signals=None, cadence="immediate", created_at=now
            )
        elif not known.active:
            known.active = True
            known.unsubscribed_at = None
            known.created_at = now
    session.flush()


def deliveries_for(session: Session, subscriber_id: int) -> list[Delivery]:
    return list(
        session.scalars(
            select(Delivery).where(Delivery.subscriber_id == subscriber_id).order_by(Delivery.id)
        )
    )
