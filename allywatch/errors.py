"""Errors a user can fix, shared by the command line and the modules it loads lazily.

Kept free of heavy imports: the command line catches these before it knows which
command module (and so which libraries) a run needs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

# sysexits.h's EX_TEMPFAIL: "try again later". A cron wrapper can tell a database that
# another program holds locked from a run that failed.
EXIT_TEMPFAIL = 75


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file and the key."""


class DatabaseFault(NamedTuple):
    """What went wrong with the database itself, as one line, and the exit status."""

    line: str
    status: int


def database_fault(exc: BaseException) -> DatabaseFault | None:
    """One line and an exit status for a fault of the database itself (locked by another
    program, damaged, full, unreachable), or None when `exc` is not the database driver's.

    The line names the config's database. Only looks at libraries already imported:
    an error of a driver never loaded cannot have been raised.
    """
    reason = driver_reason(exc)
    if reason is None:
        return None
    database = _configured_database()
    where = f"database {database}" if database else "the database"
    lowered = reason.lower()
    if "database is locked" in lowered or "database table is locked" in lowered:
        holders = _lock_holders(database)
        who = f" ({', '.join(holders)})" if holders else ""
        return DatabaseFault(
            f"{where} is locked by another program{who}; try again later", EXIT_TEMPFAIL
        )
    if "malformed" in lowered or "not a database" in lowered:
        return DatabaseFault(f"{where} is damaged ({reason}); `allywatch db check` tells more", 1)
    if "disk is full" in lowered:
        return DatabaseFault(
            f"{where} is full ({reason}); what the failing step was writing was not stored", 1
        )
    if "unable to open" in lowered or "could not connect" in lowered:
        return DatabaseFault(f"{where}: cannot open: {reason}", 1)
    return DatabaseFault(f"{where}: {reason}", 1)


def driver_reason(exc: BaseException) -> str | None:
    """The first line of what the database driver said, if `exc` is its error; else None."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    sqlite3 = sys.modules.get("sqlite3")
    if sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.DatabaseError):
        said = str(exc.orig if exc.orig is not None else exc)
    elif sqlite3 is not None and isinstance(exc, sqlite3.DatabaseError):
        said = str(exc)
    else:
        return None
    lines = said.strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _configured_database() -> str | None:
    """The database of the running command's config, as it may be shown (no password)."""
    import click

    context = click.get_current_context(silent=True)
    if context is None or not isinstance(context.find_root().obj, dict):
        return None
    from allywatch.config import load_config
    from allywatch.store.engine import shown_url

    try:
        return shown_url(load_config(context.find_root().obj.get("config_path")).database)
    except ConfigError:  # the config changed or vanished meanwhile: say "the database"
        return None


def _lock_holders(database: str | None) -> list[str]:
    if not database or not database.startswith("sqlite:///"):
        return []
    from allywatch.store.file_locks import write_lock_holders

    return write_lock_holders(Path(database.removeprefix("sqlite:///")))
