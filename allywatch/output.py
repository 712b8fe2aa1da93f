"""Printing for the command line: tables that fit the terminal, times in a named zone,
plurals, and machine-readable lists (JSON, NDJSON, CSV).

Feed text is untrusted and reaches the terminal through these functions: a title
holding ESC sequences could clear the screen, retitle the window or write to the
clipboard, and bidi overrides could make a line read as something else. `echo`
and `echo_table` show every such character as a visible escape instead (\\x1b,
\\u202e); JSON output keeps the text exact, since JSON escapes control characters
and a program, not a terminal, reads it. CSV does not escape them, so CSV printed
to a terminal is made safe the same way (to a file or a pipe it stays exact).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, TypeVar, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

# C0 and C1 controls but tab and newline, DEL, the bidi embedding/override/isolate marks,
# and lone surrogates (no terminal encoding can write them: printing one would raise).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)

# Line breaks and tabs inside a cell; not str.split(), which also eats \x1c-\x1f and \x85.
_BREAKS = re.compile("[ \t\n\r]+")

# The narrowest a free-text column is shrunk to before the table is left wider than the
# terminal.
MIN_FREE_WIDTH = 12

F = TypeVar("F", bound=Callable[..., Any])


def terminal_safe(text: str) -> str:
    """`text` with every control or bidi character shown as a visible escape."""
    return _UNSAFE.sub(_visible, text)


def _visible(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def echo(text: str = "") -> None:
    """Print a line that may hold feed text, made safe for a terminal."""
    click.echo(terminal_safe(text))


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 source`, `2 sources`, `0 stories`: the count and the noun it needs.

    `nouns` is the plural where adding -s (-es, -ies) gets it wrong.
    """
    if count == 1:
        return f"{count} {noun}"
    if nouns is None:
        if noun.endswith("y") and noun[-2:-1] not in tuple("aeiou"):
            nouns = noun[:-1] + "ies"
        elif noun.endswith(("s", "x", "ch", "sh")):
            nouns = noun + "es"
        else:
            nouns = noun + "s"
    return f"{count} {nouns}"


# --- times ---------------------------------------------------------------------


@dataclass(frozen=True)
class Zone:
    """The time zone a command shows times in, and the name it labels them with."""

    tz: tzinfo
    name: str

    def when(self, moment: datetime | str | None) -> str:
        """`2025-01-06 11:00` in this zone, from a time or its ISO text (as `iso` gives it
        to JSON records); `-` for no time."""
        if not moment:
            return "-"
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    def label(self, header: str) -> str:
        """A column header saying which zone its times are in: `since (Europe/Berlin)`."""
        return f"{header} ({self.name})"


UTC_ZONE = Zone(UTC, "UTC")


def zone_named(name: str) -> Zone:
    """The IANA zone `name` (UTC for `UTC`); ValueError when there is no such zone."""
    if name.upper() in ("UTC", "Z"):
        return UTC_ZONE
    try:
        return Zone(ZoneInfo(name), name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"no time zone {name!r} (expected an IANA name: Europe/Berlin)") from None


def local_zone() -> Zone:
    """This machine's zone: $TZ or /etc/localtime when they name an IANA zone, else the
    current UTC offset under its abbreviation."""
    names = [os.environ.get("TZ", "").lstrip(":")]
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        _, found, key = str(localtime.resolve()).partition("/zoneinfo/")
        names.append(key if found else "")
    for name in filter(None, names):
        try:
            zone = zone_named(name)
        except ValueError:
            continue
        return UTC_ZONE if name in ("Etc/UTC", "Etc/UCT", "UCT", "Universal", "Zulu") else zone
    here = datetime.now().astimezone()
    return Zone(here.tzinfo or UTC, here.tzname() or "local time")


def _zone_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> Zone:
    if value is None:
        return local_zone()
    try:
        return zone_named(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


tz_option = click.option(
    "--tz",
    "zone",
    metavar="ZONE",
    default=None,
    callback=_zone_callback,
    help="Show times in this IANA zone, such as Europe/Berlin (default: local; --json: UTC).",
)


@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: datetime | None) -> str | None: ...
def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, for JSON."""
    return moment.astimezone(UTC).isoformat() if moment else None


# --- machine-readable lists ------------------------------------------------------

FORMATS = ("table", "json", "ndjson", "csv")


def format_option(*extra: str) -> Callable[[F], F]:
    """`--format table|json|ndjson|csv` (and `extra` choices) as the parameter `fmt`, with
    `--json` the short form of `--format json`."""

    def decorate(command: F) -> F:
        command = click.option(
            "--format",
            "fmt",
            type=click.Choice([*FORMATS, *extra]),
            default="table",
            show_default=True,
            help="table for people; json, ndjson (a JSON object a line) or csv for programs.",
        )(command)
        return click.option("--json", "fmt", flag_value="json", help="Short for --format json.")(
            command
        )

    return decorate


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def echo_records(records: Sequence[Mapping[str, Any]], fmt: str, fields: Sequence[str]) -> None:
    """Print `records` as `fmt`: json (one list), ndjson (an object a line) or csv (a header
    of `fields`, then a row a record; lists and objects in a cell as JSON)."""
    if fmt == "json":
        echo_json(list(records))
    elif fmt == "ndjson":
        for record in records:
            click.echo(json.dumps(record, ensure_ascii=False))
    else:
        safe = terminal_safe if sys.stdout.isatty() else str
        lines = io.StringIO()
        writer = csv.writer(lines, lineterminator="\n")
        writer.writerow(fields)
        for record in records:
            writer.writerow([safe(_csv_cell(record.get(name))) for name in fields])
        click.echo(lines.getvalue(), nl=False)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict | bool):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# --- tables ------------------------------------------------------------------------


def terminal_width() -> int | None:
    """The columns a table may use: $COLUMNS, else the terminal's width; None when output
    goes to a file or a program (it then gets whole lines)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def echo_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    shorten: Collection[str] = (),
    wrap: Collection[str] = (),
) -> None:
    """Left-aligned columns, two spaces apart, fitted to the terminal's width.

    When a table is too wide, the widest of its free-text columns is narrowed, a
    character at a time, down to MIN_FREE_WIDTH: a column in `shorten` loses its end
    to an ellipsis, one in `wrap` (error text, whose every word matters) continues
    on the next lines. Other columns keep their width.
    """
    cells = [[_cell(v) for v in row] for row in rows]
    natural = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    free = [i for i, h in enumerate(headers) if h in shorten or h in wrap]
    widths = _fit(natural, free, terminal_width())
    click.echo(
        "  ".join(_header(h).ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    )
    for row in cells:
        columns = [
            _wrapped(cell, width) if header in wrap else [_shortened(cell, width)]
            for header, cell, width in zip(headers, row, widths, strict=True)
        ]
        for depth in range(max(len(lines) for lines in columns)):
            parts = [
                (lines[depth] if depth < len(lines) else "").ljust(width)
                for lines, width in zip(columns, widths, strict=True)
            ]
            click.echo("  ".join(parts).rstrip())


def _fit(natural: list[int], free: list[int], room: int | None) -> list[int]:
    """Column widths within `room` characters (gaps included), narrowing only `free` ones."""
    widths = list(natural)
    if room is None:
        return widths
    room -= 2 * (len(widths) - 1)
    while sum(widths) > room:
        narrowable = [i for i in free if widths[i] > MIN_FREE_WIDTH]
        if not narrowable:
            break
        widths[max(narrowable, key=lambda i: widths[i])] -= 1
    return widths


def _header(header: str) -> str:
    """A header in capitals, but for the zone it names: `SINCE (Europe/Berlin)`."""
    name, bracket, rest = header.partition(" (")
    return name.upper() + bracket + rest


def _cell(value: Any) -> str:
    """A value as one line of terminal-safe text; `-` for nothing."""
    if value is None or value == "":
        return "-"
    return terminal_safe(_BREAKS.sub(" ", str(value)).strip())


def _shortened(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _wrapped(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]
