"""What `allywatch review` lists besides the near-misses: observations near a threshold.

A state reported by fewer outlets than its `min_sources` ("unconfirmed: 1 of 2
outlets", as `explain` says) is recorded but not reached; its reports are worth an
analyst's look. They are read from what the last evaluation stored, through
`explain`, so nothing is kept twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from allywatch.explain import explain
from allywatch.language.model import Signal
from allywatch.language.records import Observation


@dataclass(frozen=True)
class NearThreshold:
    """A state of one entity reported, but by fewer outlets than it needs."""

    signal: str
    entity: str | None
    state: str
    outlets: int
    needs: int
    reports: list[Observation]  # newest first, with the words matched


def near_thresholds(session: Session, signals: Sequence[Signal]) -> list[NearThreshold]:
    """Every entity's states short of their outlets, signal by signal."""
    found = []
    for signal in signals:
        if signal.aggregate is not None:
            continue
        for entity in signal.entities or (None,):
            for view in explain(session, signal, entity).states:
                if view.unconfirmed is None:
                    continue
                outlets, needs = view.unconfirmed
                reports = [o for o in view.supporting if view.counted(o)]
                found.append(NearThreshold(signal.id, entity, view.name, outlets, needs, reports))
    return found
