"""Entity names given on the command line, for the commands that take one."""

from __future__ import annotations

from typing import Protocol

from allywatch.errors import ConfigError


class _WithEntities(Protocol):
    """A signal (language.model.Signal) or its outline (workspace.SignalOutline)."""

    @property
    def id(self) -> str: ...

    @property
    def entities(self) -> tuple[str, ...]: ...


def entity_named(signal: _WithEntities, name: str | None) -> str | None:
    """The signal's own spelling of an entity name given in any case; None for the whole signal."""
    if name is None:
        return None
    for entity in signal.entities:
        if entity.lower() == name.lower():
            return entity
    known = ", ".join(signal.entities) or "none"
    raise ConfigError(f"{signal.id} has no entity {name!r} (entities: {known})")
