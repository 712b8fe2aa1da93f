"""Throwaway databases for tests and benchmarks: an SQLite file, or a PostgreSQL
database created for the occasion on the server ALLYWATCH_TEST_DATABASE_URL names.

    with postgres_database(server_url) as url:
        ...  # `url` names a new, empty database; it is dropped afterwards
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, make_url, text
from sqlalchemy.exc import DBAPIError

from allywatch.store.engine import open_engine

TEST_DATABASE_ENV = "ALLYWATCH_TEST_DATABASE_URL"
# SQLSTATE of "must be a member of the role whose process is being terminated".
_INSUFFICIENT_PRIVILEGE = "42501"


def server_url() -> str | None:
    """The PostgreSQL server the tests may use, if one is configured."""
    url = os.environ.get(TEST_DATABASE_ENV, "").strip()
    if url and not url.startswith("postgresql"):
        raise RuntimeError(f"{TEST_DATABASE_ENV} must be a postgresql:// URL, got {url!r}")
    return url or None


@contextmanager
def postgres_database(server: str) -> Iterator[str]:
    """Create an empty database on `server` (any database URL there, used to connect),
    yield its URL, and drop it afterwards, whoever is still connected."""
    name = f"allywatch_test_{uuid.uuid4().hex[:12]}"
    admin = open_engine(server).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                _drop(connection, name)
    finally:
        admin.engine.dispose()


def _drop(connection: Connection, name: str) -> None:
    """Drop database `name`, ending the sessions still connected to it.

    WITH (FORCE) ends them, but is refused to a role that may not signal one of them:
    an autovacuum worker that a test writing many rows left busy in the database. A
    plain DROP ends such a worker by itself (and waits a few seconds for other sessions).
    """
    try:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != _INSUFFICIENT_PRIVILEGE:
            raise
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
