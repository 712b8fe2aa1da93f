"""One occurrence of a recurring event, as states, transitions and alerts carry it.

Apart from alerts/occurrences.py, which finds occurrences in reports, so that the
commands printing a stored one (`status`, `history`) need not import the signal
language and its pattern engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of an event, as known at some moment: its place may still change
    as more reports come in, its event and start never do (`same` compares those)."""

    event: str
    label: str
    start: datetime
    place: str | None = None

    def same(self, other: Occurrence | None) -> bool:
        return other is not None and (self.event, self.start) == (other.event, other.start)

    @property
    def title(self) -> str:
        """CSTO summit in Bishkek, 2025-11-27 (no article)."""
        where = f" in {self.place}" if self.place else ""
        return f"{self.label}{where}, {self.start:%Y-%m-%d}"

    def describe(self) -> str:
        """The occurrence in a sentence: the CSTO summit in Bishkek, 2025-11-27."""
        return f"the {self.title}"

    def to_json(self) -> dict[str, Any]:
        """As the store keeps it; `date` is the start's, for people and scripts."""
        return {
            "event": self.event,
            "label": self.label,
            "place": self.place,
            "date": self.start.date().isoformat(),
            "start": self.start.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Occurrence:
        return cls(
            data["event"], data["label"], datetime.fromisoformat(data["start"]), data["place"]
        )
