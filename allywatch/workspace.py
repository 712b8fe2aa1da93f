"""What a command works on: the config, its signals, and the migrated database.

Loading the signals compiles every term list of every signal, which takes longer than
anything else `status`, `history` or a quiet cycle do; until a signal has to be replayed
they need only its outline, which allywatch/signal_cache.py keeps between runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from allywatch.alerts.outline import SignalOutline
from allywatch.config import Config, load_config
from allywatch.errors import ConfigError, driver_reason
from allywatch.resources import builtin_dir
from allywatch.signal_cache import cached_outlines
from allywatch.store.engine import shown_url
from allywatch.store.migrate import open_database
from allywatch.store.reads import AlchemyReader, Reader, open_sqlite

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from allywatch.language.model import Signal


@dataclass
class Workspace:
    config: Config

    @classmethod
    def open(cls, config_path: Path | None) -> Workspace:
        return cls(load_config(config_path))

    @cached_property
    def signals(self) -> list[Signal]:
        from allywatch.language.loader import SignalFileError, load_signals

        try:
            return load_signals(self.config.signal_paths, builtin=builtin_dir("signals"))
        except SignalFileError as exc:
            raise ConfigError("invalid signal files:\n  " + "\n  ".join(exc.errors)) from exc

    @cached_property
    def outlines(self) -> list[SignalOutline]:
        """Every signal's outline, in the order `signals` has them: from the cache when
        nothing loading reads has changed since it was written (the files were loaded
        with every check then), else from `signals` (which reports a broken file)."""
        return cached_outlines(self.config.signal_paths, lambda: self.signals)

    @cached_property
    def engine(self) -> Engine:
        """The database, upgraded to the current schema on first use; created only where
        no database file exists. The database driver's own errors (damaged, locked) go
        up to the command line, which says what they mean in one line."""
        try:
            return open_database(self.config.database)
        except Exception as exc:
            if driver_reason(exc) is not None:
                raise
            shown = shown_url(self.config.database)
            raise ConfigError(f"database {shown}: cannot open: {exc}") from exc

    @contextmanager
    def reader(self) -> Iterator[Reader]:
        """The database to read (store/reads.py), in one read transaction: an SQLite file
        already at the newest schema is read with sqlite3 alone, without the time
        importing SQLAlchemy takes; any other (or one to be created or upgraded first)
        through `engine`."""
        light = open_sqlite(self.config.database) if "engine" not in self.__dict__ else None
        if light is not None:
            try:
                yield light
            finally:
                light.close()
            return
        with self.engine.connect() as connection:
            yield AlchemyReader(connection)

    def outline(self, signal_id: str) -> SignalOutline:
        for outline in self.outlines:
            if outline.id == signal_id:
                return outline
        known = ", ".join(s.id for s in self.outlines)
        raise ConfigError(f"no signal {signal_id!r} (known: {known})")

    def signal(self, signal_id: str) -> Signal:
        wanted = self.outline(signal_id).id
        return next(s for s in self.signals if s.id == wanted)
