"""`status`, `feeds` and `alerts` read the config's view (allywatch/config_view.py),
kept in a cache while nothing loading the config reads has changed: they print what a
full load of the config gives, a config edited, broken or read under other environment
variables after the cache was written is loaded in full again (and reported exactly as
without a cache), and a missing, damaged or unwritable cache only costs the full load."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from allywatch import config_view
from allywatch.cache_file import YAML_LIMIT_ENV
from allywatch.cli import main
from allywatch.config import load_config
from allywatch.config_view import CONFIG_ENV, SECRET_ENV, ConfigView, open_view

FEEDS = Path(__file__).resolve().parent.parent / "examples" / "feeds"
READS = [["status"], ["status", "--format", "json"], ["feeds"], ["feeds", "--format", "json"]]
READS += [["alerts"], ["alerts", "--format", "json"]]


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two local sources, one email subscriber, no secret and no mail server (so that
    `status` warns that digests cannot leave); the cache in tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.delenv(YAML_LIMIT_ENV, raising=False)
    feeds = sorted(FEEDS.glob("*.xml"))[:2]
    sources = "".join(f"  - {{name: {f.stem}, path: '{f}'}}\n" for f in feeds)
    path = tmp_path / "allywatch.yaml"
    path.write_text(f"database: sqlite:///watch.db\nsources:\n{sources}", encoding="utf-8")
    added = invoke(path, "subscribers", "add", "analyst@example.org")
    assert added.exit_code == 0, added.output
    return path


@pytest.fixture
def full_loads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path | None]]:
    """The config paths load_config is called with from now on."""
    calls: list[Path | None] = []

    def counted(path: Path | None, **kwargs: bool) -> object:
        calls.append(path)
        return load_config(path, **kwargs)

    monkeypatch.setattr("allywatch.config.load_config", counted)
    yield calls


def invoke(config: Path | None, *args: str) -> Result:
    where = ["--config", str(config)] if config is not None else []
    return CliRunner().invoke(main, [*where, *args])


def uncached(config: Path | None, args: list[str], monkeypatch: pytest.MonkeyPatch) -> Result:
    """What `args` prints through a full load of the config, with no cache read."""
    with monkeypatch.context() as patch:
        patch.setattr(config_view, "read_cache", lambda *a: None)
        return invoke(config, *args)


def cache_files(config: Path) -> list[Path]:
    return sorted((config.parent / "cache" / "allywatch").glob("config-view-*.json"))


def edit(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    assert old in text
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("args", READS, ids=" ".join)
def test_a_cached_view_prints_what_a_full_load_prints(
    config: Path, args: list[str], full_loads: list[Path | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = invoke(config, *args)
    assert first.exit_code == 0, first.output
    assert full_loads == [config] and cache_files(config)
    cached = invoke(config, *args)
    assert full_loads == [config], "the second run loaded the config again"
    assert cached.output == first.output
    assert uncached(config, args, monkeypatch).output == first.output


def test_the_cached_view_is_the_view_of_the_loaded_config(config: Path) -> None:
    loaded, _ = open_view(config)
    cached, config_itself = open_view(config)
    assert config_itself is None and cached == loaded == ConfigView.of(load_config(config))
    assert cached.source_names == tuple(sorted(f.stem for f in FEEDS.glob("*.xml"))[:2])
    assert cached.database == f"sqlite:///{config.parent / 'watch.db'}"
    assert (cached.announce_within, cached.feed_failure_alert_after) == (
        timedelta(days=7),
        timedelta(hours=24),
    )


def test_a_workspace_opened_for_reading_loads_the_whole_config_when_asked(config: Path) -> None:
    from allywatch.workspace import Workspace

    invoke(config, "feeds")
    workspace = Workspace.for_reading(config)
    assert workspace.view == ConfigView.of(load_config(config))
    assert workspace.config == load_config(config)


def test_a_source_added_to_the_file_shows_at_once(
    config: Path, full_loads: list[Path | None]
) -> None:
    invoke(config, "feeds")
    feed = sorted(FEEDS.glob("*.xml"))[-1]
    with config.open("a", encoding="utf-8") as out:
        out.write(f"  - {{name: added-later, path: '{feed}'}}\n")
    result = invoke(config, "feeds", "--format", "json")
    assert [r["name"] for r in json.loads(result.output)][-1] == "added-later"
    assert len(full_loads) == 2
    invoke(config, "feeds")
    assert len(full_loads) == 2  # cached anew


@pytest.mark.parametrize("command", ["status", "feeds", "alerts"])
def test_a_config_broken_after_the_cache_was_written_is_reported_as_before(
    config: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke(config, command).exit_code == 0
    written = cache_files(config)[0].read_text(encoding="utf-8")
    edit(config, "sources:\n", "colour: blue\nsources:\n")
    broken = invoke(config, command)
    assert broken.exit_code == 1
    assert "line 2, colour: unknown key" in broken.output
    assert (broken.exit_code, broken.output) == (
        (full := uncached(config, [command], monkeypatch)).exit_code,
        full.output,
    )
    assert cache_files(config)[0].read_text(encoding="utf-8") == written  # not written over


def test_no_view_is_cached_of_a_config_that_does_not_load(config: Path) -> None:
    edit(config, "sources:\n", "poll_interval: soon\nsources:\n")
    assert invoke(config, "status").exit_code == 1
    assert not cache_files(config)


def test_a_missing_config_file_is_reported_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    result = invoke(tmp_path / "nowhere.yaml", "status")
    assert result.exit_code == 1
    assert "nowhere.yaml: no such config file" in result.output


def test_the_yaml_size_limit_is_part_of_the_key(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke(config, "feeds").exit_code == 0
    monkeypatch.setenv(YAML_LIMIT_ENV, "10")
    result = invoke(config, "feeds")
    assert result.exit_code == 1 and "larger than the limit of 10 bytes" in result.output
    assert result.output == uncached(config, ["feeds"], monkeypatch).output


def test_the_config_named_by_the_environment_is_the_one_read(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other" / "allywatch.yaml"
    other.parent.mkdir()
    only = "sources: [{name: only, url: 'https://example.org/rss'}]\n"
    other.write_text(f"database: sqlite:///other.db\n{only}", encoding="utf-8")
    monkeypatch.setenv(CONFIG_ENV, str(config))
    first = invoke(None, "feeds", "--format", "json")
    assert [r["name"] for r in json.loads(first.output)] != ["only"]
    monkeypatch.setenv(CONFIG_ENV, str(other))
    second = invoke(None, "feeds", "--format", "json")
    assert [r["name"] for r in json.loads(second.output)] == ["only"]
    monkeypatch.setenv(CONFIG_ENV, str(config))
    assert invoke(None, "feeds", "--format", "json").output == first.output


def test_the_unsubscribe_secret_from_the_environment_is_read_when_used(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$ALLYWATCH_SECRET is not read by loading, so it is not part of the key: the view
    says whether the file names a secret, and `status` looks at the variable itself."""
    warning = "email digests cannot be sent: no unsubscribe secret"
    assert warning in invoke(config, "status").output
    monkeypatch.setenv(SECRET_ENV, "from-the-environment")
    assert warning not in (cached := invoke(config, "status").output)
    assert cached == uncached(config, ["status"], monkeypatch).output
    monkeypatch.delenv(SECRET_ENV)
    edit(config, "sources:\n", "secret: in-the-file\nsources:\n")
    assert warning not in invoke(config, "status").output
    assert warning not in invoke(config, "status").output
    assert "in-the-file" not in cache_files(config)[0].read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "damage",
    ["", "{", "[]", '{"key": "0"}', "null", "not json at all", "KEY"],
    ids=["empty", "cut short", "a list", "another key", "null", "not json", "bad value"],
)
def test_a_damaged_or_missing_cache_file_costs_a_full_load_only(
    config: Path, damage: str, full_loads: list[Path | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = invoke(config, "status").output
    cache = cache_files(config)[0]
    if damage == "KEY":
        data = json.loads(cache.read_text(encoding="utf-8"))
        data["value"]["names_secret"] = "yes"
        damage = json.dumps(data)
    cache.write_text(damage, encoding="utf-8")
    assert invoke(config, "status").output == expected
    cache.unlink()
    assert invoke(config, "status").output == expected
    assert len(full_loads) == 3
    assert json.loads(cache.read_text(encoding="utf-8"))["value"]["sources"]
    assert invoke(config, "status").output == expected
    assert len(full_loads) == 3


def test_the_read_commands_work_where_no_cache_can_be_written(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = invoke(config, "status").output
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert invoke(config, "status").output == expected
    assert invoke(config, "status").output == expected


def test_a_view_survives_its_json_and_nothing_else_passes_for_one() -> None:
    view = ConfigView.of(load_config(Path("nowhere.yaml"), required=False))
    assert ConfigView.from_json(json.loads(json.dumps(view.to_json()))) == view
    for damaged in (
        {**view.to_json(), "alert_on_first_run": "no"},
        {**view.to_json(), "source_names": [1, 2]},
        {**view.to_json(), "announce_within": [7, 0]},
        {**view.to_json(), "announce_within": [7.5, 0, 0]},
        {"database": view.database},
        {**view.to_json(), "more": 1},
    ):
        with pytest.raises((ValueError, TypeError)):
            ConfigView.from_json(damaged)


def test_the_key_covers_every_module_loading_a_config_runs() -> None:
    """A module added to what `import allywatch.config` loads must join the key."""
    code = (
        "import sys, allywatch.config, allywatch.alerts.notify\n"
        "for name, module in sorted(sys.modules.items()):\n"
        "    if name.split('.')[0] == 'allywatch':\n"
        "        print(module.__file__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    app = Path(config_view.__file__).resolve().parent
    loaded = {str(Path(f).relative_to(app)) for f in done.stdout.split()}
    assert loaded <= set(config_view._LOADER_CODE), sorted(loaded - set(config_view._LOADER_CODE))


def test_the_yaml_size_limit_has_the_loader_s_name() -> None:
    from allywatch.language.yaml_lines import MAX_BYTES_ENV

    assert YAML_LIMIT_ENV == MAX_BYTES_ENV
