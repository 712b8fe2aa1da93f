"""`allywatch db`: the database itself: bring its schema up to date, check it for damage,
copy it elsewhere."""

from __future__ import annotations

import click
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from allywatch.config import load_config
from allywatch.store.copy import TargetNotEmpty, copy_database
from allywatch.store.engine import integrity_problems, open_engine
from allywatch.store.migrate import current_revision, head_revision, upgrade


def _shown(url: str) -> str:
    """The URL as it may be printed: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _open(url: str, what: str) -> Engine:
    """An engine for `url`, or a clear error saying which database could not be used."""
    try:
        engine = open_engine(url)
        with engine.connect():
            pass
    except ModuleNotFoundError as exc:
        raise click.ClickException(
            f"{what} {_shown(url)}: its driver is not installed ({exc});"
            " for PostgreSQL install allywatch[postgres]"
        ) from exc
    except (ArgumentError, SQLAlchemyError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise click.ClickException(f"{what} {_shown(url)}: cannot open: {reason}") from exc
    return engine


@click.group()
def db() -> None:
    """The database: upgrade its schema, check it for damage, or copy it elsewhere."""


@db.command(name="upgrade")
@click.pass_context
def upgrade_command(ctx: click.Context) -> None:
    """Bring the config's database to the current schema (every command also does this)."""
    url = load_config(ctx.obj["config_path"]).database
    engine = _open(url, "database")
    before, head = current_revision(engine), head_revision()
    if before == head:
        click.echo(f"{_shown(url)}: schema up to date (revision {head})")
        return
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        raise click.ClickException(f"{_shown(url)}: upgrade failed: {exc}") from exc
    click.echo(f"{_shown(url)}: schema upgraded from revision {before or 'none'} to {head}")


@db.command(name="check")
@click.pass_context
def check_command(ctx: click.Context) -> None:
    """Check the config's database file for damage; exit status 1 if any is found."""
    url = load_config(ctx.obj["config_path"]).database
    engine = _open(url, "database")
    try:
        problems = integrity_problems(engine)
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise click.ClickException(f"{_shown(url)}: damaged: {reason}") from exc
    if problems:
        shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
        raise click.ClickException(f"{_shown(url)}: damaged: {shown}")
    click.echo(f"{_shown(url)}: ok")


@db.command(name="copy")
@click.option(
    "--to",
    "target_url",
    required=True,
    metavar="URL",
    help="The database to copy into (e.g. postgresql://user:pass@host/allywatch); must be empty.",
)
@click.pass_context
def copy_command(ctx: click.Context, target_url: str) -> None:
    """Copy everything in the config's database into the empty database at URL.

    Sources, articles, observations, states, transitions, alerts, subscribers
    and deliveries keep their ids. Stop `run` and `serve` first: what they
    write during the copy is not copied. Then point the config's `database:`
    at URL.
    """
    source_url = load_config(ctx.obj["config_path"]).database
    if _same(source_url, target_url):
        raise click.ClickException("--to names the config's own database; give another one")
    source = _open(source_url, "source database")
    target = _open(target_url, "target database")

    def progress(table: str, rows: int) -> None:
        click.echo(f"  {table}: {rows} rows")

    click.echo(f"copying {_shown(source_url)} to {_shown(target_url)}")
    try:
        report = copy_database(source, target, progress)
    except TargetNotEmpty as exc:
        raise click.ClickException(
            f"{_shown(target_url)}: {exc}; copy only into an empty database"
        ) from exc
    except SQLAlchemyError as exc:
        raise click.ClickException(f"copy failed, no rows were copied: {exc}") from exc
    click.echo(
        f"copied {sum(report.rows.values())} rows in {len(report.rows)} tables;"
        f" now set `database: {_shown(target_url)}` in the config"
    )


def _same(one: str, other: str) -> bool:
    try:
        return make_url(one) == make_url(other)
    except ArgumentError:
        return one == other


COMMANDS = [db]
