"""A signal in outline: what listing its states and deciding whether to replay it need.

Loading the signal files compiles every term list, the slowest part of a quiet cycle
and of `status`. The outline (id, initial state, entities, a digest of the definition
a replay reads, and the label and question alerts name it by) is all they need until
a signal has to be replayed, so it is kept in a cache between runs
(allywatch/signal_cache.py) and the signals are loaded only when something is due.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from allywatch.language.model import Signal


@dataclass(frozen=True)
class SignalOutline:
    id: str
    initial: str
    entities: tuple[str, ...]
    # A digest of what a replay reads of the definition (see `definition_digest`).
    definition: str
    # How alerts and digests name the signal.
    label: str
    question: str

    @classmethod
    def of(cls, signal: Signal) -> SignalOutline:
        return cls(
            signal.id,
            signal.initial,
            signal.entities,
            definition_digest(signal),
            signal.label,
            signal.question,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "initial": self.initial,
            "entities": list(self.entities),
            "definition": self.definition,
            "label": self.label,
            "question": self.question,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignalOutline:
        texts = (data["definition"], data["label"], data["question"])
        if not all(isinstance(text, str) for text in texts):
            raise TypeError("not an outline")
        return cls(data["id"], data["initial"], tuple(data["entities"]), *texts)


def definition_digest(signal: Signal) -> str:
    """A digest of everything in a signal's definition that its replay reads (the term
    lists only through the observations, which are keyed apart)."""
    definition = repr(
        (
            signal.initial,
            tuple(signal.entities),
            tuple(signal.states),
            signal.aggregate,
            signal.status_quo,
            sorted(signal.events.items()),
        )
    )
    return hashlib.sha256(definition.encode()).hexdigest()[:16]
