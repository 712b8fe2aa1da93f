"""Which transitions a silence keeps quiet."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class SilenceLike(Protocol):
    @property
    def signal(self) -> str: ...
    @property
    def entity(self) -> str: ...


def is_silenced(silences: Iterable[SilenceLike], signal: str, entity: str | None) -> bool:
    """True when a silence covers the signal as a whole ("" entity) or this entity."""
    return any(s.signal == signal and s.entity in ("", entity or "") for s in silences)
