"""Unsubscribe tokens: a subscriber id and an HMAC that only the secret can make.

A token is "<id>.<mac>", where mac = HMAC-SHA256(secret, "unsubscribe:<id>:<email>")
cut to 128 bits and base64url-encoded. Binding the address as well as the id
means a token stays worthless if the row id is ever reused for someone else.
Changing the secret invalidates every token ever sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from sqlalchemy.orm import Session

from allywatch.store import subscribers as store
from allywatch.store.models import Subscriber

_TOKEN = re.compile(r"^([1-9][0-9]{0,17})\.([A-Za-z0-9_-]{22})$")


class TokenError(ValueError):
    """A token that is malformed, forged, altered, or names no subscriber."""


@dataclass(frozen=True)
class Unsubscribed:
    email: str
    already: bool


def make_token(secret: str, subscriber_id: int, email: str) -> str:
    return f"{subscriber_id}.{_mac(secret, subscriber_id, email)}"


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/unsubscribe?token={quote(token, safe='')}"


def verify(session: Session, secret: str, token: str) -> Subscriber:
    """The subscriber a token was made for; TokenError if it is malformed or forged."""
    match = _TOKEN.match(token.strip())
    if not match:
        raise TokenError("not an unsubscribe token")
    subscriber_id = int(match.group(1))
    subscriber = store.get_subscriber(session, subscriber_id)
    expected = _mac(secret, subscriber_id, subscriber.email if subscriber else "")
    # Compare even when there is no such subscriber, so timing says nothing.
    if not hmac.compare_digest(match.group(2), expected) or subscriber is None:
        raise TokenError("invalid unsubscribe token")
    return subscriber


def honour(session: Session, secret: str, token: str, now: datetime) -> Unsubscribed:
    """Check a token and stop that subscriber's digests (idempotent)."""
    subscriber = verify(session, secret, token)
    already = not subscriber.active
    store.unsubscribe(session, subscriber.id, now)
    return Unsubscribed(email=subscriber.email, already=already)


def _mac(secret: str, subscriber_id: int, email: str) -> str:
    if not secret:
        raise ValueError("an unsubscribe secret is needed to sign tokens")
    digest = hmac.new(
        secret.encode("utf-8"),
        f"unsubscribe:{subscriber_id}:{email}".encode(),
        hashlib.sha256,
    ).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode("ascii").rstrip("=")
