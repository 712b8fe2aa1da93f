"""Which signals an evaluation must replay: those whose definition, observations,
tier weights or sources' tiers changed since they were last evaluated, and those with
a timer (expiry, lapse, hold) due. Replays are causal, so skipping the others changes
nothing but the time it takes (see alerts/evaluate.py).

Decided from the signals' outlines and two small reads (store/reads.py), so that a
quiet cycle can tell nothing is due without loading the signals, the rules engine or
the ORM.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from allywatch.alerts.outline import SignalOutline
from allywatch.store import reads

if TYPE_CHECKING:
    from allywatch.store.reads import Database

# Per signal id: what its evaluation depends on besides the clock (see `evaluation_keys`).
Keys = dict[str, dict[str, object]]


def evaluation_keys(
    db: Database,
    outlines: Sequence[SignalOutline],
    weights: Mapping[str, int],
    tiers: Mapping[str, str],
) -> Keys:
    """Per signal, what its evaluation depends on besides the clock: its definition (a
    digest, see alerts.outline), observations (count and newest id), tier weights and
    the sources' tiers. Each state evaluated stores its signal's key in its detail."""
    marks = reads.observation_marks(db)
    return {o.id: _key(o.definition, marks.get(o.id), weights, tiers) for o in outlines}


def due_signals(
    db: Database, outlines: Sequence[SignalOutline], keys: Keys, now: datetime
) -> set[str]:
    """The ids of the signals to replay at `now`, given their `evaluation_keys`."""
    details = reads.state_details(db)
    return {o.id for o in outlines if _due(o, keys[o.id], details, now)}


def _key(
    definition: str, mark: list[int] | None, weights: Mapping[str, int], tiers: Mapping[str, str]
) -> dict[str, object]:
    evaluated = repr((definition, sorted(weights.items()), sorted(tiers.items())))
    return {
        "definition": hashlib.sha256(evaluated.encode()).hexdigest()[:16],
        "mark": mark or [0, 0],
    }


def _due(
    signal: SignalOutline,
    key: dict[str, object],
    details: Mapping[tuple[str, str], dict[str, Any] | None],
    now: datetime,
) -> bool:
    for entity in signal.entities or ("",):
        detail = details.get((signal.id, entity))
        if not detail or any(detail.get(k) != v for k, v in key.items()):
            return True
        if datetime.fromisoformat(detail["at"]) > now:
            return True  # asked about an earlier moment than last time
        if detail.get("next") and datetime.fromisoformat(detail["next"]) <= now:
            return True
    return False
