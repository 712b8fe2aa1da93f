"""`allywatch report`: the HTML report and the Atom feed of alerts, as static files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from allywatch.site import write_report
from allywatch.workspace import Workspace


@click.command(name="report")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder to write into (default: the config's `report:`).",
)
@click.pass_context
def report(ctx: click.Context, out: Path | None) -> None:
    """Write the HTML report (each signal's state and timeline) and alerts.xml.

    The pages need no script and no network: open index.html from disk or put
    the folder behind any static web server.
    """
    workspace = Workspace.open(ctx.obj["config_path"])
    out = out or workspace.config.report
    if out is None:
        raise click.ClickException("name a folder with --out (or `report:` in the config file)")
    try:
        index = write_report(workspace, out, datetime.now(UTC))
    except OSError as exc:
        raise click.ClickException(f"{out}: cannot write the report: {exc}") from exc
    click.echo(index)


COMMANDS = [report]
