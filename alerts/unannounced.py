"""Why an alert was recorded without being announced, told from the alert itself.

Apart from the rules engine (alerts/evaluate.py applies these reasons) so that `status`
and `alerts`, which print them, do not import the engine.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from allywatch.store.models import Alert
    from allywatch.store.reads import AlertRecord

BASELINE = "recorded as baseline, not announced"
TOO_OLD = "older than announce_within, not announced"
SILENCED = "silenced, not announced"


def unannounced_reason(
    alert: Alert | AlertRecord, baseline_run: datetime | None, announce_within: timedelta
) -> str | None:
    """Why an alert was not announced (None when it was), told from the alert itself.

    `baseline_run` is when the first run started, or None where its findings were
    announced (alert_on_first_run). The reasons are checked in the order `evaluate`
    applies them: raised by the first run's evaluation (the baseline), dated more
    than `announce_within` before it was raised (the config's value now: a changed
    horizon may tell an old alert's reason wrongly), else a silence (silences may be
    gone since).
    """
    if alert.announced:
        return None
    if baseline_run is not None and alert.created_at == baseline_run:
        return BASELINE
    if alert.at < alert.created_at - announce_within:
        return TOO_OLD
    return SILENCED
