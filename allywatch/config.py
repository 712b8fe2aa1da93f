"""The config file: where it is, what it may say, and what it means once loaded.

Relative paths in a config file (the SQLite file, signal folders, local feed
files, the outbox) are relative to the folder holding the config file, so that
a cron line started from any directory sees the same data.

Finding the file is config_view.find_config's; what `status`,
`feeds` and `alerts` read of a loaded config is its view (config_view.ConfigView),
kept between runs so that they need not import this module.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from allywatch.alerts.tier_weights import DEFAULT_TIER_WEIGHTS as RULES_TIER_WEIGHTS
from allywatch.config_view import CONFIG_ENV, SECRET_ENV, find_config
from allywatch.errors import ConfigError
from allywatch.language.durations import parse_duration
from allywatch.language.yaml_lines import YamlFileError, parse_yaml, read_bounded
from allywatch.resources import builtin_dir
from allywatch.watchers.fetch_settings import FetchSettings
from allywatch.watchers.sources import TIERS, PollInterval, SourceSpec, Tier

# What a config's `signals:` list calls the built-in pack (signals: [builtin, my-signals]).
BUILTIN_SIGNALS = "builtin"


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

# How many outlets one outlet of a source's tier counts as toward `min_sources`.
DEFAULT_TIER_WEIGHTS: dict[Tier, int] = {tier: RULES_TIER_WEIGHTS.get(tier, 1) for tier in TIERS}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SmtpConfig(_Strict):
    host: str = "localhost"
    port: int = Field(25, ge=1, le=65535)
    sender: str = Field("allywatch <watch@localhost>", alias="from")
    starttls: bool = False
    ssl: bool = False
    timeout: float = Field(30, gt=0)


class Config(_Strict):
    """A loaded config file; every path in it is absolute."""

    database: str = "sqlite:///allywatch.db"
    # Files or folders; `builtin` is the built-in pack (the default when the key is absent).
    signals: list[Path] = Field(default_factory=lambda: [builtin_dir("signals")])
    sources: list[SourceSpec] = Field(default_factory=list)
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    outbox: Path | None = None
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    # Processes parsing feeds in a busy cycle (None: one per core, at most 4, none on a
    # single core; 0: parse in the cycle's own process).
    parse_workers: int | None = Field(None, ge=0, le=64)
    poll_interval: PollInterval = timedelta(minutes=30)
    feed_failure_alert_after: Duration = timedelta(hours=24)
    alert_on_first_run: bool = False
    # A change allywatch learns of later than this after it happened is recorded, not announced.
    announce_within: Duration = timedelta(days=7)
    tier_weights: dict[Tier, Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: dict(DEFAULT_TIER_WEIGHTS)
    )
    secret: str | None = None
    base_url: str | None = None
    # Apprise URLs that get every announced alert at once (the operator's channel).
    notify: list[str] = Field(default_factory=list)
    # A folder: the HTML report and alerts.xml, rewritten after a cycle that changed something.
    report: Path | None = None
    path: Path | None = None

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceSpec]) -> list[SourceSpec]:
        seen: set[str] = set()
        for source in sources:
            if source.name in seen:
                raise ValueError(f"two sources are named {source.name!r}")
            seen.add(source.name)
        return sources

    @field_validator("notify")
    @classmethod
    def _apprise_urls(cls, urls: list[str]) -> list[str]:
        if not urls:
            return urls
        # Apprise loads its many plugins when imported: only configs that name URLs pay.
        from allywatch.alerts.notify import NotifyUrlError, check_url

        try:
            return list(dict.fromkeys(check_url(url) for url in urls))
        except NotifyUrlError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("feed_failure_alert_after", "announce_within")
    @classmethod
    def _not_negative(cls, after: timedelta) -> timedelta:
        if after < timedelta(0):
            raise ValueError("must not be negative")
        return after

    @field_validator("tier_weights")
    @classmethod
    def _every_tier(cls, weights: dict[Tier, int]) -> dict[Tier, int]:
        """The tiers the file leaves out keep their default weights."""
        return {tier: weights.get(tier, DEFAULT_TIER_WEIGHTS[tier]) for tier in TIERS}

    @property
    def weights_by_name(self) -> dict[str, int]:
        """`tier_weights` keyed by plain names, as the rules engine takes them (it reads
        an observation's tier as a string)."""
        return {tier: weight for tier, weight in self.tier_weights.items()}

    @property
    def source_tiers(self) -> dict[str, Tier]:
        """Each source's tier, by its name (as articles name their source)."""
        return {source.name: source.tier for source in self.sources}

    @property
    def signal_paths(self) -> list[Path]:
        return list(self.signals)


def unsubscribe_secret(config: Config) -> str | None:
    """The secret that signs unsubscribe links: $ALLYWATCH_SECRET, else the config's."""
    return os.environ.get(SECRET_ENV) or config.secret or None


def load_config(path: Path | None, *, required: bool = True) -> Config:
    """Load and validate a config file.

    With `required=False` a missing file yields the defaults (the built-in
    signals, no sources), which is what `match` and `signals test` need.
    """
    path = find_config(path)
    if not path.exists():
        if required:
            raise ConfigError(
                f"{path}: no such config file (write one with `allywatch init`,"
                f" or name one with --config or ${CONFIG_ENV})"
            )
        return Config()
    try:  # bounded: size, aliases, nesting (see language/yaml_lines.py)
        text = read_bounded(path)
        raw = parse_yaml(text)
    except YamlFileError as exc:
        raise ConfigError(f"{path}:{exc.line}: {exc.message}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        got = "list" if isinstance(raw, list) else type(raw).__name__
        raise ConfigError(f"{path}: expected a mapping of keys at the top, got {got}")
    try:
        config = Config.model_validate(_resolve_paths(raw, path.parent.resolve()))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, text)) from exc
    return config.model_copy(update={"path": path.resolve()})


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make the relative paths of a raw config absolute against `base`."""
    out = dict(raw)
    db = out.get("database")
    if isinstance(db, str) and db.startswith("sqlite:///") and not db.startswith("sqlite:////"):
        rest = db[len("sqlite:///") :]
        if rest and rest != ":memory:":
            out["database"] = f"sqlite:///{base / rest}"
    if isinstance(out.get("signals"), str):
        out["signals"] = [out["signals"]]
    if isinstance(out.get("signals"), list):
        out["signals"] = [_signal_path(item, base) for item in out["signals"]]
    for folder in ("outbox", "report"):
        if isinstance(out.get(folder), str):
            out[folder] = base / out[folder]
    if isinstance(out.get("sources"), list):
        out["sources"] = [
            {**s, "path": str(base / s["path"])}
            if isinstance(s, dict) and isinstance(s.get("path"), str) and s["path"].strip()
            else s
            for s in out["sources"]
        ]
    return out


def _signal_path(item: object, base: Path) -> object:
    """A `signals:` entry as a path: BUILTIN_SIGNALS names the built-in pack."""
    if item == BUILTIN_SIGNALS:
        return builtin_dir("signals")
    return base / item if isinstance(item, str) else item


def _describe(exc: ValidationError, path: Path, text: str) -> str:
    lines = [f"{path}: invalid config:"]
    for error in exc.errors():
        loc = [p for p in error["loc"] if not isinstance(p, str) or p not in _UNION_TAGS]
        key = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(text, loc)
        where = f"line {line}, " if line else ""
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"  {where}{key}: {message}")
    return "\n".join(lines)


_UNION_TAGS = {"function-before[parse_duration(), datetime.timedelta]"}


def _line_of(text: str, loc: list[Any]) -> int | None:
    """The 1-based line of the YAML node at `loc`, or of its nearest existing parent."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            key = next((k for k, _ in node.value if k.value == part), None)
            if match is None:
                break
            line = key.start_mark.line + 1 if key is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
