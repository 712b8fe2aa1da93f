"""How much an outlet counts toward a state's `min_sources`, by its source's tier.

Apart from the rules engine so that the config file, whose `tier_weights:` defaults to
these, can be loaded without importing the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# Tiers not named count 1.
DEFAULT_TIER_WEIGHTS: Mapping[str, int] = MappingProxyType({"official": 2})
