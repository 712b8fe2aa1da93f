"""The config file's `fetch:` keys: limits for one cycle's fetching, and each host's own.

Apart from watchers/fetch.py so that loading a config (every command does) validates
them without importing the HTTP client and asyncio, which only fetching needs.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Upper bounds of the fetch settings: a day for any wait, a gibibyte for a body.
MAX_WAIT = 86_400
MAX_BODY = 1 << 30


class HostLimit(BaseModel):
    """How one host may be polled: at most `per_host` requests at once, each starting at
    least `spacing` seconds after the one before."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    per_host: int = Field(4, ge=1, le=64)
    spacing: float = Field(0, ge=0, le=MAX_WAIT)


# The hosts that serve query feeds: a config watching many questions has many feeds
# on each of them. GDELT's DOC API answers faster callers with "Please limit requests
# to one every 5 seconds". Google News publishes no limit for its RSS searches; ten at
# a time keeps a query-feed config from queueing behind the general per-host limit.
AGGREGATOR_HOSTS: dict[str, HostLimit] = {
    "news.google.com": HostLimit(per_host=10),
    "api.gdeltproject.org": HostLimit(per_host=1, spacing=5),
}


class FetchSettings(BaseModel):
    """Limits for one cycle's fetching (seconds and bytes): the config file's `fetch:` keys.

    Validated when made, so a config file that loaded cannot stop a cycle with
    an impossible limit.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    concurrency: int = Field(16, ge=1, le=512)
    per_host: int = Field(4, ge=1, le=64)
    # Hosts with limits of their own (the config's entries are added to AGGREGATOR_HOSTS).
    hosts: dict[str, HostLimit] = Field(default_factory=lambda: dict(AGGREGATOR_HOSTS))
    connect_timeout: float = Field(10, gt=0, le=MAX_WAIT)
    read_timeout: float = Field(20, gt=0, le=MAX_WAIT)
    deadline: float = Field(60, gt=0, le=MAX_WAIT)
    max_bytes: int = Field(20_000_000, ge=1, le=MAX_BODY)
    max_redirects: int = Field(5, ge=0, le=50)
    user_agent: str = Field("allywatch/0.1 (+https://github.com/allywatch)", min_length=1)

    @field_validator("user_agent")
    @classmethod
    def _one_header_line(cls, user_agent: str) -> str:
        if not user_agent.isprintable():
            raise ValueError("user_agent must be one line of printable characters")
        return user_agent

    @field_validator("hosts")
    @classmethod
    def _over_aggregators(cls, hosts: dict[str, HostLimit]) -> dict[str, HostLimit]:
        given = {host.strip().lower(): limit for host, limit in hosts.items()}
        return {**AGGREGATOR_HOSTS, **given}

    def limit_for(self, host: str) -> HostLimit:
        """The limit of `host` (lower-case): its own, else `per_host` with no spacing."""
        return self.hosts.get(host) or HostLimit(per_host=self.per_host)
