"""`feeds`: the configured sources and their health; `feeds import`: add feeds from OPML
(allywatch/feed_import.py, imported only by it: `feeds` reads the config's view, and
needs neither the YAML library nor the config loader).
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import click

from allywatch.output import Zone, echo_records, echo_table, format_option, iso, tz_option
from allywatch.store.reads import list_sources
from allywatch.workspace import Workspace

# The columns of `feeds --format csv` (json and ndjson hold the same keys).
FEED_FIELDS = (
    "name",
    "location",
    "healthy",
    "last_success_at",
    "last_error_at",
    "error_kind",
    "last_error",
    "consecutive_failures",
    "next_poll_at",
    "articles",
)


class _FeedRecord(TypedDict):
    """A source and its health, as `feeds` prints it (FEED_FIELDS)."""

    name: str
    location: str | None
    healthy: bool
    last_success_at: str | None
    last_error_at: str | None
    error_kind: str | None
    last_error: str | None
    consecutive_failures: int
    next_poll_at: str | None
    articles: int


@click.group(invoke_without_command=True)
@format_option()
@tz_option
@click.pass_context
def feeds(ctx: click.Context, fmt: str, zone: Zone) -> None:
    """Sources and their health (`feeds import FILE.opml` adds feeds)."""
    if ctx.invoked_subcommand is not None:
        return
    workspace = Workspace.for_reading(ctx.obj["config_path"])
    with workspace.reader() as db:
        stored = {s.name: s for s in list_sources(db)}
    data: list[_FeedRecord] = []
    for name in workspace.view.source_names:
        s = stored.get(name)
        data.append(
            {
                "name": name,
                "location": s.location if s else None,
                "healthy": not (s and s.consecutive_failures),
                "last_success_at": iso(s.last_success_at) if s else None,
                "last_error_at": iso(s.last_error_at) if s else None,
                "error_kind": s.error_kind if s else None,
                "last_error": s.error if s else None,
                "consecutive_failures": s.consecutive_failures if s else 0,
                "next_poll_at": iso(s.next_poll_at) if s else None,
                "articles": s.articles_seen if s else 0,
            }
        )
    if fmt != "table":
        echo_records(data, fmt, FEED_FIELDS)
        return
    echo_table(
        [
            "source",
            "health",
            zone.label("last success"),
            "failures",
            zone.label("next poll"),
            "articles",
            "last error",
        ],
        [
            [
                d["name"],
                "ok" if d["healthy"] else "FAILING",
                zone.when(d["last_success_at"]),
                d["consecutive_failures"],
                zone.when(d["next_poll_at"]),
                d["articles"],
                f"{d['error_kind']}: {d['last_error']}" if not d["healthy"] else "-",
            ]
            for d in data
        ],
        wrap=("last error",),
    )


@feeds.command(name="import")
@click.argument("opml_file", metavar="FILE.opml", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print what would be added; change nothing.")
@click.pass_context
def import_command(ctx: click.Context, opml_file: Path, dry_run: bool) -> None:
    """Add the feeds listed in an OPML file to the config file's sources.

    Feeds whose URL is already configured are skipped; a name already taken
    gets a number. The rest of the config file is kept as it is.
    """
    from allywatch.feed_import import import_feeds

    import_feeds(ctx.obj["config_path"], opml_file, dry_run=dry_run)


COMMANDS = [feeds]
