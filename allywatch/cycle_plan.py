"""What a cycle plans and reports, shared by the full cycle (allywatch/cycle.py) and the
quiet one (allywatch/quiet_cycle.py) without the imports of either: which sources are
due, and the report of what the cycle did."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from allywatch.alerts.digest_report import DigestReport

if TYPE_CHECKING:
    from allywatch.config_view import SourceView
    from allywatch.store.models import Alert

EARLY_MAX = timedelta(minutes=1)
# The margin that makes a source due whenever its next poll is (`run --now`, `--source`):
# beyond the longest wait any source is ever given (MAX_POLL_DELAY, a 365d interval).
ANY_TIME = timedelta(days=3650)


def poll_margins(
    sources: Sequence[SourceView], poll: Collection[str] | None
) -> dict[str, timedelta]:
    """By name, each source to poll and how early it may be polled: a tenth of its
    interval, at most EARLY_MAX, or any time for the sources in `poll` (None: every
    source, on its schedule).

    The margin keeps a source on its interval when runs come exactly as often: a
    cron run or serve tick that starts a second before the source's time must
    poll it, not leave it for the run after.
    """
    if poll is not None:
        return {s.name: ANY_TIME for s in sources if s.name in poll}
    return {s.name: min(s.interval / 10, EARLY_MAX) for s in sources}


@dataclass
class CycleReport:
    """What one cycle did, for the command line and the run log."""

    polled: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    new_articles: int = 0
    observations: int = 0
    alerts: list[Alert] = field(default_factory=list)
    # How many of the alerts were recorded without being announced, by reason.
    unannounced: Counter[str] = field(default_factory=Counter)
    digests: DigestReport = field(default_factory=DigestReport)

    def summary(self) -> dict[str, object]:
        return {
            "polled": self.polled,
            "failed": [name for name, _ in self.failed],
            "new_articles": self.new_articles,
            "observations": self.observations,
            "alerts": len(self.alerts),
            "unannounced": self.unannounced.total(),
        }
