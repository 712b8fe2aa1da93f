"""Tables defined in SQLAlchemy Core, for the commands that read them without the ORM.

Importing sqlalchemy.orm and mapping the models costs a read command such as `feeds`
about a sixth of its start-up; a table defined here can be read with Core alone
(store/sources.py), and store/models.py maps its class onto the same table, so the
schema is written once. The other tables are defined by their models as usual.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text

from allywatch.store.types import UTCDateTime

# The metadata of every table: store/models.py declares its models on it.
metadata = MetaData()

sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), unique=True, nullable=False),
    Column("location", Text, nullable=False),
    Column("configured_location", Text, nullable=False),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_success_at", UTCDateTime),
    Column("last_error_at", UTCDateTime),
    Column("error_kind", String(50)),
    Column("error", Text),
    Column("consecutive_failures", Integer, default=0, nullable=False),
    Column("failing_since", UTCDateTime),
    Column("next_poll_at", UTCDateTime),
    Column("articles_seen", Integer, default=0, nullable=False),
    # The worker polling the source now, and until when its claim holds (store/claims.py).
    Column("claimed_by", String(200)),
    Column("claimed_until", UTCDateTime),
)
