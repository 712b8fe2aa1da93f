"""Reading the sources table with SQLAlchemy Core alone (the table is in store/tables.py):
`feeds` lists the sources without importing the ORM, and store.queries.list_sources
loads the same query's rows as Source objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Row, Select, select

from allywatch.store.tables import sources


def sources_query(names: Sequence[str] | None = None) -> Select[Any]:
    """The sources (only those named, if `names` is given), by name."""
    query = select(sources).order_by(sources.c.name)
    if names is not None:
        query = query.where(sources.c.name.in_(names))
    return query


def source_rows(engine: Engine) -> list[Row[Any]]:
    """Every stored source's row (with the Source model's attribute names), by name."""
    with engine.connect() as connection:
        return list(connection.execute(sources_query()))
