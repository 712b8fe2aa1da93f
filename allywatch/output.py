"""Printing for the command line: aligned tables, times, and JSON.

Feed text is untrusted and reaches the terminal through these functions: a title
holding ESC sequences could clear the screen, retitle the window or write to the
clipboard, and bidi overrides could make a line read as something else. `echo`
and `echo_table` show every such character as a visible escape instead (\\x1b,
\\u202e); JSON output keeps the text exact, since JSON escapes control characters
and a program, not a terminal, reads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click

# C0 and C1 controls but tab and newline, DEL, and the bidi embedding/override/isolate marks.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """`text` with every control or bidi character shown as a visible escape."""
    return _UNSAFE.sub(_visible, text)


def _visible(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def echo(text: str = "") -> None:
    """Print a line that may hold feed text, made safe for a terminal."""
    click.echo(terminal_safe(text))


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Left-aligned columns, two spaces apart; long cells are shortened with an ellipsis."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any, limit: int = 60) -> str:
    text = "-" if value is None or value == "" else terminal_safe(str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"
