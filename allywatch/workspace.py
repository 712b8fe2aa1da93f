"""What a command works on: the config, its signals, and the migrated database."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine

from allywatch.config import Config, load_config
from allywatch.errors import ConfigError, driver_reason
from allywatch.language.loader import SignalFileError, load_signals
from allywatch.language.model import Signal
from allywatch.resources import builtin_dir
from allywatch.store.engine import shown_url
from allywatch.store.migrate import open_database


@dataclass
class Workspace:
    config: Config

    @classmethod
    def open(cls, config_path: Path | None) -> Workspace:
        return cls(load_config(config_path))

    @cached_property
    def signals(self) -> list[Signal]:
        try:
            return load_signals(self.config.signal_paths, builtin=builtin_dir("signals"))
        except SignalFileError as exc:
            raise ConfigError("invalid signal files:\n  " + "\n  ".join(exc.errors)) from exc

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

    def signal(self, signal_id: str) -> Signal:
        for signal in self.signals:
            if signal.id == signal_id:
                return signal
        known = ", ".join(s.id for s in self.signals)
        raise ConfigError(f"no signal {signal_id!r} (known: {known})")
