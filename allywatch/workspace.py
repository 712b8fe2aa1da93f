"""What a command works on: the config, its signals, and the migrated database."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine

from allywatch.config import Config, ConfigError, load_config
from allywatch.language.loader import SignalFileError, load_signals
from allywatch.language.model import Signal
from allywatch.resources import builtin_dir
from allywatch.store.engine import open_engine
from allywatch.store.migrate import upgrade


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
        """The database, upgraded to the current schema on first use."""
        try:
            engine = open_engine(self.config.database)
            upgrade(engine)
        except Exception as exc:
            raise ConfigError(f"database {self.config.database}: cannot open: {exc}") from exc
        return engine

    def signal(self, signal_id: str) -> Signal:
        for signal in self.signals:
            if signal.id == signal_id:
                return signal
        known = ", ".join(s.id for s in self.signals)
        raise ConfigError(f"no signal {signal_id!r} (known: {known})")
