"""The values the watchers hand to the rest of allywatch: articles and observations.

They are plain frozen dataclasses so that the cycle can pass them to the store
(which knows nothing of watchers) as dictionaries, and so that `allywatch match`
can print them without a database.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

Polarity = Literal["for", "against"]


@dataclass(frozen=True)
class Article:
    """One normalised news item: plain text, canonical link, UTC time."""

    uid: str
    link: str
    title: str
    summary: str
    published: datetime
    source: str
    outlet: str = ""
    published_estimated: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["published"] = self.published.isoformat()
        return data


@dataclass(frozen=True)
class Evidence:
    """One matched word or phrase: which term list, the text, where it stood."""

    term: str
    text: str
    field: Literal["title", "summary"]
    start: int
    end: int
    sentence: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Observation:
    """An article evidencing (or denying) one state of one signal."""

    signal: str
    entity: str | None
    state: str
    polarity: Polarity = "for"
    hedged: bool = False
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "entity": self.entity,
            "state": self.state,
            "polarity": self.polarity,
            "hedged": self.hedged,
            "evidence": [e.to_json() for e in self.evidence],
        }
