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

from sqlalchemy import make_url, text

from allywatch.store.engine import open_engine

TEST_DATABASE_ENV = "ALLYWATCH_TEST_DATABASE_URL"


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
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.engine.dispose()
