"""Entity names given on the command line, for the commands that take one."""

from __future__ import annotations

from allywatch.errors import ConfigError
from allywatch.language.model import Signal


def entity_named(signal: Signal, name: str | None) -> str | None:
    """The signal's own spelling of an entity name given in any case; None for the whole signal."""
    if name is None:
        return None
    for entity in signal.entities:
        if entity.lower() == name.lower():
            return entity
    known = ", ".join(signal.entities) or "none"
    raise ConfigError(f"{signal.id} has no entity {name!r} (entities: {known})")
