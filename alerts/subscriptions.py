"""Adding subscribers: every field checked before anything is stored."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from allywatch.alerts import schedule
from allywatch.alerts.addresses import is_apprise_url
from allywatch.alerts.notify import NotifyUrlError, check_url
from allywatch.store import subscribers as store
from allywatch.store.models import Subscriber

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class SubscriptionError(ValueError):
    """A subscriber that cannot be added; the message says which value is wrong."""


def normalise_email(text: str) -> str:
    """The address in its stored form (lower case, IDNA domain), or SubscriptionError."""
    address = text.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise SubscriptionError(f"{text!r} is not an email address (expected name@domain)")
    if len(local) > 64 or not _LOCAL.match(local):
        raise SubscriptionError(
            f"{text!r}: the part before @ may hold letters, digits, dots (not at the ends,"
            " not two in a row) and !#$%&'*+/=?^_`{|}~-"
        )
    try:
        ascii_domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise SubscriptionError(f"{text!r}: {domain!r} is not a valid domain name") from exc
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise SubscriptionError(f"{text!r}: {domain!r} is not a valid domain name")
    if labels[-1].isdigit():
        raise SubscriptionError(f"{text!r}: {domain!r} is not a valid domain name")
    normalised = f"{local.lower()}@{ascii_domain}"
    if len(normalised) > 254:
        raise SubscriptionError(f"{text!r}: longer than the 254 characters an address may have")
    return normalised


def normalise_address(text: str) -> str:
    """An email address, or an Apprise URL (scheme://...), in its stored form."""
    if is_apprise_url(text):
        try:
            return check_url(text)
        except NotifyUrlError as exc:
            raise SubscriptionError(str(exc)) from exc
    return normalise_email(text)


def subscribe(
    session: Session,
    email: str,
    *,
    signals: Sequence[str] | None,
    known_signals: Collection[str],
    cadence: str = "daily",
    send_time: str = "07:00",
    timezone: str = "UTC",
    weekday: str = "mon",
    all_quiet: bool = False,
    now: datetime,
) -> Subscriber:
    """Store a new subscriber (an email address or an Apprise URL); `signals=None` means
    every signal."""
    address = normalise_address(email)
    day = _checked_schedule(cadence, send_time, timezone, weekday)
    if signals is not None:
        signals = _checked_signals(signals, known_signals)
    existing = store.find_subscriber(session, address)
    if existing is not None:
        if existing.active:
            raise SubscriptionError(f"{address} is subscribed already")
        when = f" on {existing.unsubscribed_at:%Y-%m-%d}" if existing.unsubscribed_at else ""
        raise SubscriptionError(
            f"{address} unsubscribed{when}; to subscribe it again, remove it first"
            f" (allywatch subscribers remove {address})"
        )
    return store.add_subscriber(
        session,
        email=address,
        signals=signals,
        cadence=cadence,
        send_time=send_time,
        timezone=timezone,
        weekday=day,
        all_quiet=all_quiet,
        created_at=now,
        active=True,
    )


def edit_subscription(
    session: Session,
    email: str,
    *,
    known_signals: Collection[str],
    signals: Sequence[str] | None = None,
    all_signals: bool = False,
    cadence: str | None = None,
    send_time: str | None = None,
    timezone: str | None = None,
    weekday: str | None = None,
    all_quiet: bool | None = None,
) -> Subscriber:
    """Change what an existing subscriber gets: only the values given (not None) change,
    and all are checked before any is. `all_signals` widens it to every signal."""
    address = normalise_address(email)
    subscriber = store.find_subscriber(session, address)
    if subscriber is None:
        raise SubscriptionError(f"{address} is not a subscriber")
    if all_signals and signals is not None:
        raise SubscriptionError("give --signals or --all-signals, not both")
    day = _checked_schedule(
        cadence or subscriber.cadence,
        send_time or subscriber.send_time,
        timezone or subscriber.timezone,
        weekday or schedule.WEEKDAYS[subscriber.weekday],
    )
    if signals is not None:
        subscriber.signals = _checked_signals(signals, known_signals)
    elif all_signals:
        subscriber.signals = None
    subscriber.cadence = cadence or subscriber.cadence
    subscriber.send_time = send_time or subscriber.send_time
    subscriber.timezone = timezone or subscriber.timezone
    subscriber.weekday = day
    if all_quiet is not None:
        subscriber.all_quiet = all_quiet
    session.flush()
    return subscriber


def _checked_schedule(cadence: str, send_time: str, timezone: str, weekday: str) -> int:
    """Check a schedule's values; the weekday's number."""
    try:
        schedule.check_cadence(cadence)
        schedule.parse_send_time(send_time)
        schedule.parse_timezone(timezone)
        return schedule.parse_weekday(weekday)
    except schedule.ScheduleError as exc:
        raise SubscriptionError(str(exc)) from exc


def _checked_signals(signals: Sequence[str], known_signals: Collection[str]) -> list[str]:
    """The signal ids named, each once, all known."""
    wanted = list(dict.fromkeys(s.strip() for s in signals if s.strip()))
    if not wanted:
        raise SubscriptionError("--signals names no signal (leave it out for every signal)")
    unknown = [s for s in wanted if s not in known_signals]
    if unknown:
        raise SubscriptionError(
            f"unknown signal{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"
            f" (known: {', '.join(sorted(known_signals))})"
        )
    return wanted
