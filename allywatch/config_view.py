"""The config's read view: the few values `status`, `feeds` and `alerts` take from a
loaded config, kept between runs while nothing loading the config reads has changed.

Loading a config (config.load_config) parses YAML and validates it with pydantic, and
importing those two libraries (pydantic's plugin loader scanning every installed
package's entry points with them) takes longer than the rest of these commands put
together. So once a full load, with every check, has succeeded, its view is written to
a cache file (allywatch/cache_file.py, like the signal outlines of signal_cache.py)
keyed by a digest of everything loading reads: the config file's resolved path and
bytes, the environment variables loading reads ($ALLYWATCH_CONFIG and the YAML size
limit), the loader's own code and the libraries validating. While the key matches, the
view comes from the cache, and the file is known to load; any change has the file loaded
in full again, which reports a broken file exactly as before and writes the cache anew.

$ALLYWATCH_SECRET is read where the secret is used, not by loading
(config.unsubscribe_secret): the view says only whether the file names a secret, and
never holds the secret itself.

Finding the config file (find_config) and the names of the environment variables live
here rather than in config.py, so that finding the file imports neither library. The
view is made in one place only, `ConfigView.of`, from a validated Config, which stays the
one description of what a config may say.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from importlib.machinery import PathFinder
from pathlib import Path
from typing import TYPE_CHECKING, Any

from allywatch.cache_file import YAML_LIMIT_ENV, Key, cache_file, read_cache, write_cache

if TYPE_CHECKING:
    from allywatch.config import Config

CONFIG_ENV = "ALLYWATCH_CONFIG"
# Signs unsubscribe links; when set, it is used instead of the config's `secret:`.
SECRET_ENV = "ALLYWATCH_SECRET"
DEFAULT_CONFIG_NAME = "allywatch.yaml"

_APP = Path(__file__).resolve().parent
# The code loading a config: the modules `import allywatch.config` loads, and
# alerts/notify.py, which checks `notify:` URLs (tests/test_config_view.py checks the
# list is whole). A change to one may change what loading gives.
_LOADER_CODE = (
    "__init__.py",
    "cache_file.py",
    "config.py",
    "config_view.py",
    "errors.py",
    "files.py",
    "resources.py",
    "alerts/__init__.py",
    "alerts/addresses.py",
    "alerts/digest.py",
    "alerts/notify.py",
    "alerts/tier_weights.py",
    "language/__init__.py",
    "language/durations.py",
    "language/yaml_lines.py",
    "watchers/__init__.py",
    "watchers/fetch_settings.py",
    "watchers/sources.py",
)
# The libraries loading a config relies on: an upgrade may change what they accept.
_LIBRARIES = ("pydantic", "pydantic_core", "yaml", "apprise")


def find_config(explicit: Path | None) -> Path:
    """The config file to use: --config, else $ALLYWATCH_CONFIG, else ./allywatch.yaml."""
    if explicit is not None:
        return explicit
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return Path(DEFAULT_CONFIG_NAME)


@dataclass(frozen=True)
class SourceView:
    """A configured source as a cycle schedules it: where it is read from, how often
    (its own interval, else the config's poll_interval) and its tier."""

    name: str
    location: str
    interval: timedelta
    tier: str


@dataclass(frozen=True)
class ConfigView:
    """What the read commands, the health checks (allywatch/health.py) and a quiet cycle
    (allywatch/quiet_cycle.py) take from a loaded config; every path in it is absolute."""

    database: str
    signal_paths: tuple[Path, ...]
    # The configured sources, in the file's order.
    sources: tuple[SourceView, ...]
    alert_on_first_run: bool
    announce_within: timedelta
    feed_failure_alert_after: timedelta
    # Whether the file names an unsubscribe secret (`secret:`).
    names_secret: bool
    # Whether the file names a way for digests to leave (`smtp:` or `outbox:`).
    names_mail_route: bool
    # The `fetch:` settings, as watchers.fetch_settings.FetchSettings validates them.
    fetch: dict[str, Any]
    # Config.weights_by_name: each tier's weight.
    tier_weights: dict[str, int]
    # Whether the file names `notify:` URLs (the operator's channel).
    notifies: bool
    # The `report:` folder, if any.
    report: Path | None

    @classmethod
    def of(cls, config: Config) -> ConfigView:
        return cls(
            database=config.database,
            signal_paths=tuple(config.signal_paths),
            sources=tuple(
                SourceView(s.name, s.location, s.interval or config.poll_interval, s.tier)
                for s in config.sources
            ),
            alert_on_first_run=config.alert_on_first_run,
            announce_within=config.announce_within,
            feed_failure_alert_after=config.feed_failure_alert_after,
            names_secret=bool(config.secret),
            names_mail_route=config.outbox is not None or "smtp" in config.model_fields_set,
            fetch=config.fetch.model_dump(mode="json"),
            tier_weights=config.weights_by_name,
            notifies=bool(config.notify),
            report=config.report,
        )

    @property
    def source_names(self) -> tuple[str, ...]:
        return tuple(source.name for source in self.sources)

    @property
    def source_tiers(self) -> dict[str, str]:
        """Each source's tier, by its name (as Config.source_tiers)."""
        return {source.name: source.tier for source in self.sources}

    @property
    def has_unsubscribe_secret(self) -> bool:
        """Whether unsubscribe links can be signed: $ALLYWATCH_SECRET, else `secret:`
        (as config.unsubscribe_secret chooses)."""
        return bool(os.environ.get(SECRET_ENV)) or self.names_secret

    def to_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "signal_paths": [str(p) for p in self.signal_paths],
            "sources": [[s.name, s.location, _span_json(s.interval), s.tier] for s in self.sources],
            "alert_on_first_run": self.alert_on_first_run,
            "announce_within": _span_json(self.announce_within),
            "feed_failure_alert_after": _span_json(self.feed_failure_alert_after),
            "names_secret": self.names_secret,
            "names_mail_route": self.names_mail_route,
            "fetch": self.fetch,
            "tier_weights": self.tier_weights,
            "notifies": self.notifies,
            "report": [] if self.report is None else [str(self.report)],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConfigView:
        """The view `to_json` gave; ValueError (or KeyError, TypeError) for anything else."""
        if set(data) != set(_JSON_TYPES) or any(
            type(data[name]) is not kind for name, kind in _JSON_TYPES.items()
        ):
            raise ValueError("not a config view")
        for name, kind in _JSON_ITEM_TYPES.items():
            if any(type(item) is not kind for item in data[name]):
                raise ValueError(f"not a config view: {name}")
        if any(type(weight) is not int for weight in data["tier_weights"].values()):
            raise ValueError("not a config view: tier_weights")
        return cls(
            database=data["database"],
            signal_paths=tuple(Path(p) for p in data["signal_paths"]),
            sources=tuple(_source(item) for item in data["sources"]),
            alert_on_first_run=data["alert_on_first_run"],
            announce_within=_span(data["announce_within"]),
            feed_failure_alert_after=_span(data["feed_failure_alert_after"]),
            names_secret=data["names_secret"],
            names_mail_route=data["names_mail_route"],
            fetch=data["fetch"],
            tier_weights=data["tier_weights"],
            notifies=data["notifies"],
            report=Path(data["report"][0]) if data["report"] else None,
        )


# The JSON of a view: each key's type, and the type of the items of each list.
_JSON_TYPES = {
    "database": str,
    "signal_paths": list,
    "sources": list,
    "alert_on_first_run": bool,
    "announce_within": list,
    "feed_failure_alert_after": list,
    "names_secret": bool,
    "names_mail_route": bool,
    "fetch": dict,
    "tier_weights": dict,
    "notifies": bool,
    "report": list,
}
_JSON_ITEM_TYPES = {
    "signal_paths": str,
    "sources": list,
    "announce_within": int,
    "feed_failure_alert_after": int,
    "report": str,
}


def _source(item: list[Any]) -> SourceView:
    name, location, interval, tier = item
    if not all(type(value) is str for value in (name, location, tier)):
        raise ValueError("not a config view: sources")
    return SourceView(name, location, _span(interval), tier)


def as_view(config: Config | ConfigView) -> ConfigView:
    """`config`'s view (itself, when it is one)."""
    return config if isinstance(config, ConfigView) else ConfigView.of(config)


def open_view(config_path: Path | None) -> tuple[ConfigView, Config | None]:
    """The view of the config `config_path` names (as find_config finds it), and the
    config itself when it had to be loaded: from the cache while nothing loading reads
    has changed since a full load wrote it, else from a full load, which fails with
    load_config's ConfigError, or else writes the cache."""
    path = find_config(config_path)
    cache = cache_file("config-view", str(path.resolve()))
    key = _loading_key(path)
    cached = read_cache(cache, key, ConfigView.from_json)
    if cached is not None:
        return cached, None
    from allywatch.config import load_config

    config = load_config(config_path)
    view = ConfigView.of(config)
    if _loading_key(path) == key:  # not written over while it was loaded
        write_cache(cache, key, view.to_json())
    return view, config


def _loading_key(path: Path) -> str:
    """A digest of what loading the config at `path` reads. Equal digests, equal views."""
    key = Key()
    for name in (CONFIG_ENV, YAML_LIMIT_ENV):
        key.text(name, os.environ.get(name, ""))
    key.file(path.resolve())
    for code in _LOADER_CODE:
        key.file(_APP / code)
    for library in _LIBRARIES:
        key.text(library, _installed(library))
    return key.hexdigest()


def _installed(library: str) -> str:
    """Where `library` is installed and when it was (installing rewrites its files)."""
    spec = PathFinder.find_spec(library)
    if spec is None or spec.origin is None:
        return "absent"
    try:
        stat = os.stat(spec.origin)
    except OSError:
        return f"{spec.origin} unreadable"
    return f"{spec.origin} {stat.st_size} {stat.st_mtime_ns}"


def _span_json(span: timedelta) -> list[int]:
    return [span.days, span.seconds, span.microseconds]


def _span(parts: list[int]) -> timedelta:
    days, seconds, microseconds = parts
    return timedelta(days=days, seconds=seconds, microseconds=microseconds)
