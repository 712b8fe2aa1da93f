"""Fixtures shared by the whole suite.

`database_url` gives each test a fresh, empty database: an SQLite file under
the test's tmp_path, or, when ALLYWATCH_TEST_DATABASE_URL names a PostgreSQL
server, a database created on it for this test and dropped after it. The same
suite thus proves both.

`feed_server` and `smtp_server` are real servers on 127.0.0.1, one per test,
stopped after it (tests/feedserver.py, tests/smtpserver.py).

The suite runs in UTC whatever the machine's zone: tables show times in the local
zone, and a test about zones says which one it means (`--tz`). Its cache files (the
signal outlines) go to a folder of the run's own, never to the user's ~/.cache.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import TEST_DATABASE_ENV, postgres_database, server_url
from feedserver import FeedServer
from smtpserver import SmtpServer

os.environ["TZ"] = "UTC"  # inherited by the allywatch processes tests start too
time.tzset()


@pytest.fixture(autouse=True, scope="session")
def _own_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    server = server_url()
    if server is None:
        yield f"sqlite:///{tmp_path / 'watch.db'}"
        return
    with postgres_database(server) as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database; the test is skipped when no server is configured."""
    server = server_url()
    if server is None:
        pytest.skip(f"needs PostgreSQL: set {TEST_DATABASE_ENV} to a postgresql:// server URL")
    with postgres_database(server) as url:
        yield url


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """An HTTP server on 127.0.0.1 serving whatever the test routes to it."""
    with FeedServer() as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An SMTP server on 127.0.0.1 keeping every message it accepts."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
