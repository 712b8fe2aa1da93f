"""Durations as people write them in signal and config files: "30m", "12h", "14d", "2w"."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str | int | float) -> timedelta:
    """Parse "14d" and friends; a bare number is seconds. Raises ValueError otherwise."""
    if isinstance(text, bool):
        raise ValueError(f"expected a duration like 30m, 12h or 14d, got {text!r}")
    if isinstance(text, int | float):
        amount, unit = text, "seconds"
    else:
        found = _DURATION.match(str(text))
        if not found:
            raise ValueError(f"expected a duration like 30m, 12h or 14d, got {text!r}")
        amount, unit = float(found.group(1)), _UNITS[found.group(2)]
    try:
        return timedelta(**{unit: amount})
    except (OverflowError, ValueError):  # too long, or a NaN
        raise ValueError(f"expected a duration like 30m, 12h or 14d, got {text!r}") from None


def format_duration(delta: timedelta) -> str:
    """The shortest exact spelling of a duration in the units above."""
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
