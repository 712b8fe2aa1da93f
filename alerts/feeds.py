"""Alerts about the sources themselves: a feed that has been failing too long.

One alert per failure episode (keyed by when the source started failing), so a
feed that stays broken is reported once, and again only after it recovered and
broke anew.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from allywatch.store import queries
from allywatch.store.models import Alert
from allywatch.store.reads import SourceRecord


def feed_alerts(
    session: Session, sources: Iterable[SourceRecord], now: datetime, after: timedelta
) -> list[Alert]:
    """Raise an alert for each source failing since `after` ago or longer; return the new ones."""
    raised = []
    for source in sources:
        if source.failing_since is None or now - source.failing_since < after:
            continue
        alert = queries.add_alert(
            session,
            key=f"feed:{source.name}:{source.failing_since.isoformat()}",
            kind="feed",
            signal=None,
            entity="",
            severity="warning",
            at=now,
            message=(
                f"feed {source.name!r} failing since {source.failing_since:%Y-%m-%d %H:%M} UTC"
                f" ({source.consecutive_failures} failed polls; last: {source.error_kind}:"
                f" {source.error})"
            ),
            evidence=[],
            created_at=now,
            announced=True,
        )
        if alert is not None:
            raised.append(alert)
    return raised
