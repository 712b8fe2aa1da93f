"""What a command works on: the config, its signals, and the migrated database.

Loading the signals compiles every term list of every signal, which takes longer than
anything else `status`, `history` or a quiet cycle do; until a signal has to be replayed
they need only its outline, which allywatch/signal_cache.py keeps between runs. Likewise
loading the config, which imports YAML and pydantic: the read commands open a workspace
`for_reading`, from the config's read view (allywatch/config_view.py), kept between runs
too; the whole config is loaded only if they ask for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from allywatch.alerts.outline import SignalOutline
from allywatch.config_view import ConfigView, open_view
from allywatch.errors import ConfigError, driver_reason
from allywatch.resources import builtin_dir
from allywatch.signal_cache import cached_outlines, load_signals_keeping_checks
from allywatch.store.engine import shown_url
from allywatch.store.migrate import open_database
from allywatch.store.reads import AlchemyReader, Reader, open_sqlite

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from allywatch.config import Config
    from allywatch.language.model import Signal


class Workspace:
    def __init__(
        self,
        config: Config | None,
        *,
        view: ConfigView | None = None,
        config_path: Path | None = None,
    ) -> None:
        """The workspace of a loaded `config`; or, with `config` None, of its `view`
        alone, the config then loaded from `config_path` when first asked for."""
        if config is None and view is None:
            raise TypeError("a workspace needs its config or the config's view")
        self._config = config
        self._config_path = config_path
        # What the read commands take from the config.
        self.view = view if view is not None else ConfigView.of(self.config)

    @classmethod
    def open(cls, config_path: Path | None) -> Workspace:
        """The workspace of the config `config_path` names, loaded in full."""
        from allywatch.config import load_config

        return cls(load_config(config_path))

    @classmethod
    def for_reading(cls, config_path: Path | None) -> Workspace:
        """The workspace of the config `config_path` names, for commands that read only
        its `view`: from the cached view while nothing loading reads has changed since a
        full load, else loaded in full (failing as `open` does)."""
        view, config = open_view(config_path)
        return cls(config, view=view, config_path=config_path)

    @property
    def config(self) -> Config:
        """The whole config, validated (loaded now when opened from its view)."""
        if self._config is None:
            from allywatch.config import load_config

            self._config = load_config(self._config_path)
        return self._config

    @cached_property
    def signals(self) -> list[Signal]:
        from allywatch.language.loader import SignalFileError

        try:
            paths = self.view.signal_paths
            return load_signals_keeping_checks(paths, builtin=builtin_dir("signals"))
        except SignalFileError as exc:
            raise ConfigError("invalid signal files:\n  " + "\n  ".join(exc.errors)) from exc

    @cached_property
    def outlines(self) -> list[SignalOutline]:
        """Every signal's outline, in the order `signals` has them: from the cache when
        nothing loading reads has changed since it was written (the files were loaded
        with every check then), else from `signals` (which reports a broken file)."""
        return cached_outlines(self.view.signal_paths, lambda: self.signals)

    @cached_property
    def engine(self) -> Engine:
        """The database, upgraded to the current schema on first use; created only where
        no database file exists. The database driver's own errors (damaged, locked) go
        up to the command line, which says what they mean in one line."""
        try:
            return open_database(self.view.database)
        except Exception as exc:
            if driver_reason(exc) is not None:
                raise
            shown = shown_url(self.view.database)
            raise ConfigError(f"database {shown}: cannot open: {exc}") from exc

    @contextmanager
    def reader(self) -> Iterator[Reader]:
        """The database to read (store/reads.py), in one read transaction: an SQLite file
        already at the newest schema is read with sqlite3 alone, without the time
        importing SQLAlchemy takes; any other (or one to be created or upgraded first)
        through `engine`."""
        light = open_sqlite(self.view.database) if "engine" not in self.__dict__ else None
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
