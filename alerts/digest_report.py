"""What a digest run did, apart from the dispatcher (alerts/dispatch.py), so that a
cycle can report on digests without importing what sends them."""

from __future__ import annotations

from dataclasses import dataclass, field


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
