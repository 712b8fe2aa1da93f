"""`allywatch init`: write a starter config."""

from __future__ import annotations

from pathlib import Path

import click

from allywatch.config_view import find_config
from allywatch.starter import starter_config


@click.command()
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@click.pass_context
def init(ctx: click.Context, force: bool) -> None:
    """Write a starter config: real news feeds, the built-in signals, a fresh secret."""
    path: Path = find_config(ctx.obj["config_path"])
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists already (use --force to overwrite it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)  # it holds the secret that signs unsubscribe links
    path.chmod(0o600)
    path.write_text(starter_config(), encoding="utf-8")
    click.echo(f"wrote {path}; next: allywatch --config {path} config check, then run -v")


COMMANDS = [init]
