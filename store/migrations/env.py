"""Alembic environment: the connection (or engine) comes from store.migrate, never an ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from allywatch.store.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if _connection is not None:
    # The caller holds the transaction (and the lock) and commits it.
    _run(_connection)
else:
    with context.config.attributes["engine"].begin() as _fresh:
        _run(_fresh)
