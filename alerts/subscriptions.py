"""Adding subscribers: every field checked before anything is stored."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from allywatch.alerts import schedule
from allywatch.alerts.notify import NotifyUrlError, check_url, is_apprise_url
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
    try:
        schedule.check_cadence(cadence)
        schedule.parse_send_time(send_time)
        schedule.parse_timezone(timezone)
        day = schedule.parse_weekday(weekday)
    except schedule.ScheduleError as exc:
        raise SubscriptionError(str(exc)) from exc
    if signals is not None:
        signals = list(dict.fromkeys(s.strip() for s in signals if s.strip()))
        if not signals:
            raise SubscriptionError("--signals names no signal (leave it out for every signal)")
        unknown = [s for s in signals if s not in known_signals]
        if unknown:
            raise SubscriptionError(
                f"unknown signal{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"
                f" (known: {', '.join(sorted(known_signals))})"
            )
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
