"""`allywatch config check`: what a config file amounts to, without running anything."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click
from sqlalchemy import make_url

from allywatch.config import Config, load_config
from allywatch.health import digest_blockers, is_email, vanished_subscriptions
from allywatch.language.loader import SignalFileError
from allywatch.language.model import Signal
from allywatch.output import echo, plural
from allywatch.resources import builtin_dir
from allywatch.signal_cache import load_signals_keeping_checks
from allywatch.store.engine import open_engine
from allywatch.store.migrate import current_revision, head_revision
from allywatch.store.reads import SubscriberRecord, list_subscribers


@click.group(name="config")
def config_group() -> None:
    """Check the config file."""


@config_group.command(name="check")
@click.pass_context
def check(ctx: click.Context) -> None:
    """Load the config, its signals and its database, say what they hold, and touch
    nothing: no run, no schema upgrade, no database created.

    Exit status 1 when anything is wrong (every problem is listed).
    """
    config = load_config(ctx.obj["config_path"])
    echo(f"config: {config.path}")
    problems: list[str] = []
    _sources(config, problems)
    signals = _signals(config, problems)
    active = _database(config, problems)
    _digests(config, active, problems)
    if signals is not None:
        problems += vanished_subscriptions(active, {s.id for s in signals})
    if problems:
        echo(f"{plural(len(problems), 'problem')}:")
        for problem in problems:
            echo(f"  {problem}")
        sys.exit(1)
    echo("no problems found")


def _sources(config: Config, problems: list[str]) -> None:
    kinds = Counter(_kind(s.location) for s in config.sources)
    listed = ", ".join(plural(count, kind) for kind, count in sorted(kinds.items()))
    echo(f"sources: {len(config.sources)}" + (f" ({listed})" if listed else ""))
    if not config.sources:
        problems.append("no sources: `sources:` lists nothing to poll")


def _kind(location: str) -> str:
    return "feed file" if "://" not in location or location.startswith("file:") else "feed"


def _signals(config: Config, problems: list[str]) -> list[Signal] | None:
    builtin = builtin_dir("signals")
    folders = ", ".join("builtin" if p == builtin else str(p) for p in config.signal_paths)
    try:
        signals = load_signals_keeping_checks(config.signal_paths, builtin=builtin)
    except SignalFileError as exc:
        echo(f"signals: from {folders}: invalid")
        problems += [f"signal files: {error}" for error in exc.errors]
        return None
    echo(f"signals: {len(signals)} from {folders} ({', '.join(s.id for s in signals)})")
    if not signals:
        problems.append("no signals: the config's `signals:` names no signal file")
    return signals


def _database(config: Config, problems: list[str]) -> list[SubscriberRecord]:
    """Describe the database as it is; its active subscribers (none when it is not there
    or its schema is not current)."""
    url = make_url(config.database)
    shown = url.render_as_string(hide_password=True)
    on_disk = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if on_disk and url.database and not Path(url.database).exists():
        echo(f"database: {shown}: none yet, the first run would create it")
        return []
    try:
        engine = open_engine(config.database)
        try:
            revision, head = current_revision(engine), head_revision()
            if revision != head:
                was = f"schema {revision}" if revision else "no allywatch schema"
                echo(f"database: {shown}: {was}; the first run would upgrade it to {head}")
                return []
            with engine.connect() as connection:
                active = list_subscribers(connection, active_only=True)
        finally:
            engine.dispose()
    except Exception as exc:  # noqa: BLE001 (any driver's error: reported, not raised)
        echo(f"database: {shown}: cannot open")
        problems.append(f"database: {exc}")
        return []
    echo(f"database: {shown}: schema current, {plural(len(active), 'active subscriber')}")
    return active


def _digests(config: Config, active: list[SubscriberRecord], problems: list[str]) -> None:
    blockers = digest_blockers(config)
    where = (
        f"outbox {config.outbox}"
        if config.outbox is not None
        else f"smtp {config.smtp.host}:{config.smtp.port}"
    )
    if not blockers:
        echo(f"digests: ready ({where})")
        return
    echo(f"digests: cannot be sent: {'; '.join(blockers)}")
    if any(is_email(s.email) for s in active):
        problems += [f"email digests cannot be sent: {why}" for why in blockers]


COMMANDS = [config_group]
