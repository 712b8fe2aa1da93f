"""Write the next Alembic revision from the difference between store/models.py and the
schema the existing revisions build. Revision ids are numbered (0001, 0002, ...), which
is what store.migrate.head_revision relies on.

    .venv/bin/python scripts/migration.py "add source tiers"
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from alembic import command

from allywatch.store.engine import open_engine
from allywatch.store.migrate import MIGRATIONS, alembic_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("message")
    args = parser.parse_args()
    versions = sorted((MIGRATIONS / "versions").glob("*.py"))
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_engine(f"sqlite:///{Path(tmp) / 'schema.db'}")
        config = alembic_config(engine)
        command.upgrade(config, "head")
        command.revision(
            config, message=args.message, autogenerate=True, rev_id=f"{len(versions) + 1:04d}"
        )


if __name__ == "__main__":
    main()
