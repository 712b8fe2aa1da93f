"""What the fetcher (watchers/fetch.py) reads of the fetch settings, without pydantic.

The config's `fetch:` keys are validated by FetchSettings (watchers/fetch_settings.py),
a pydantic model. The fetcher takes any settings shaped as `FetchOptions`: that model,
or `FetchLimits`, the same validated values kept as plain data (the config's cached
view holds them as JSON), which a quiet cycle (allywatch/quiet_cycle.py) fetches with
without importing pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol


class HostRule(Protocol):
    """How one host may be polled (fetch_settings.HostLimit says what each value means)."""

    @property
    def per_host(self) -> int: ...

    @property
    def spacing(self) -> float: ...


class FetchOptions(Protocol):
    """Limits for one cycle's fetching (fetch_settings.FetchSettings says what each means)."""

    @property
    def concurrency(self) -> int: ...

    @property
    def hosts(self) -> Mapping[str, HostRule]: ...

    @property
    def connect_timeout(self) -> float: ...

    @property
    def read_timeout(self) -> float: ...

    @property
    def deadline(self) -> float: ...

    @property
    def max_bytes(self) -> int: ...

    @property
    def max_redirects(self) -> int: ...

    @property
    def user_agent(self) -> str: ...

    def limit_for(self, host: str) -> HostRule: ...


class HostLimits(NamedTuple):
    per_host: int
    spacing: float


@dataclass(frozen=True)
class FetchLimits:
    """Validated fetch settings as plain data: `from_json` of a FetchSettings's JSON."""

    concurrency: int
    per_host: int
    hosts: Mapping[str, HostLimits]
    connect_timeout: float
    read_timeout: float
    deadline: float
    max_bytes: int
    max_redirects: int
    user_agent: str

    def limit_for(self, host: str) -> HostLimits:
        """The limit of `host` (lower-case): its own, else `per_host` with no spacing."""
        return self.hosts.get(host) or HostLimits(self.per_host, 0.0)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FetchLimits:
        """From `FetchSettings.model_dump(mode="json")` (every key given)."""
        hosts = {
            host: HostLimits(limit["per_host"], limit["spacing"])
            for host, limit in data["hosts"].items()
        }
        return cls(**{**data, "hosts": hosts})
