"""Config files: what a user writes, and the errors they get when it is wrong."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from allywatch.cli import main
from allywatch.config import ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "allywatch.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return str(caught.value)


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "database: sqlite:///data/watch.db\n"
        "signals: [my-signals]\n"
        "outbox: mail\n"
        "sources:\n  - {name: Local, path: feeds/a.xml}\n",
    )
    config = load_config(path)
    assert config.database == f"sqlite:///{tmp_path}/data/watch.db"
    assert config.signal_paths == [tmp_path / "my-signals"]
    assert config.outbox == tmp_path / "mail"
    assert config.sources[0].path == str(tmp_path / "feeds/a.xml")


def test_durations_are_read_as_people_write_them(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "poll_interval: 15m\n"
            "sources:\n  - {name: A, url: 'https://a.example/rss', interval: 2h}\n",
        )
    )
    assert config.poll_interval == timedelta(minutes=15)
    assert config.sources[0].interval == timedelta(hours=2)


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    message = error_for(tmp_path, "database: sqlite:///x.db\nsoruces: []\n")
    assert "allywatch.yaml" in message
    assert "line 2, soruces: unknown key" in message


def test_nested_error_names_the_key_path(tmp_path: Path) -> None:
    message = error_for(
        tmp_path,
        "sources:\n"
        "  - {name: A, url: 'https://a.example/rss'}\n"
        "  - {name: B, url: 'https://b.example/rss', gdelt: 'x'}\n",
    )
    assert (
        "line 3, sources.1: a source needs exactly one of url, google_news, gdelt, path" in message
    )
    assert "(got url, gdelt)" in message


def test_bad_duration_says_what_was_expected(tmp_path: Path) -> None:
    message = error_for(tmp_path, "poll_interval: soon\n")
    assert "poll_interval" in message
    assert "expected a duration like 30m, 12h or 14d, got 'soon'" in message


def test_bad_port_and_url(tmp_path: Path) -> None:
    message = error_for(
        tmp_path, "smtp: {port: 99999}\nsources:\n  - {name: A, url: 'ftp://a.example/rss'}\n"
    )
    assert "smtp.port" in message
    assert "url must start with http:// or https://" in message


def test_duplicate_source_names(tmp_path: Path) -> None:
    message = error_for(
        tmp_path,
        "sources:\n  - {name: A, url: 'https://a.example/1'}\n  - {name: A, url: 'https://a.example/2'}\n",
    )
    assert "two sources are named 'A'" in message


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    assert "not valid YAML" in error_for(tmp_path, "sources: [unclosed\n")
    assert "expected a mapping of keys at the top, got list" in error_for(tmp_path, "- a\n- b\n")


def test_missing_file_points_to_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file.*allywatch init"):
        load_config(tmp_path / "nope.yaml")


def test_cli_reports_bad_config_and_touches_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "database: sqlite:///watch.db\nsources: {oops: 1}\n")
    result = CliRunner().invoke(main, ["--config", str(path), "run"])
    assert result.exit_code == 1
    assert f"{path}: invalid config:" in result.output
    assert "line 2, sources: Input should be a valid list" in result.output
    assert not (tmp_path / "watch.db").exists()


def test_config_from_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "poll_interval: 5m\n")
    monkeypatch.setenv("ALLYWATCH_CONFIG", str(path))
    assert load_config(None).poll_interval == timedelta(minutes=5)


def test_init_writes_a_valid_starter_config_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "allywatch.yaml"
    runner = CliRunner()
    first = runner.invoke(main, ["--config", str(path), "init"])
    assert first.exit_code == 0, first.output
    config = load_config(path)
    assert len(config.sources) >= 10
    assert {"url", "google_news", "gdelt"} <= {
        key for s in config.sources for key in ("url", "google_news", "gdelt") if getattr(s, key)
    }
    again = runner.invoke(main, ["--config", str(path), "init"])
    assert again.exit_code != 0
    assert "exists already" in again.output


@pytest.mark.parametrize(
    ("source", "key", "message"),
    [
        ("{name: GN, google_news: CSTO, language: english}", "language", "two-letter code"),
        ("{name: GN, google_news: CSTO, region: usa}", "region", "two-letter country code"),
        ("{name: GD, gdelt: CSTO, language: tl}", "language", "GDELT language 'tl'"),
        ("{name: GN, google_news: '  '}", "google_news", "google_news is empty"),
        ("{name: U, url: 'https://[::1/rss'}", "url", "url must start with http"),
        ("{name: P, path: 5}", "path", "valid string"),
        ("{name: P, path: a.xml, interval: 0m}", "interval", "more than 0s"),
        ("{name: P, path: a.xml, interval: 99999999999w}", "interval", "expected a duration"),
        ("{name: P, path: a.xml, interval: 1000w}", "interval", "at most 365d"),
    ],
)
def test_bad_source_values_name_file_line_and_key(
    tmp_path: Path, source: str, key: str, message: str
) -> None:
    text = f"sources:\n  - {{name: A, url: 'https://a.example/rss'}}\n  - {source}\n"
    error = error_for(tmp_path, text)
    assert f"{tmp_path / 'allywatch.yaml'}: invalid config:" in error
    assert f"line 3, sources.1.{key}: " in error
    assert message in error


@pytest.mark.parametrize(
    ("line", "key", "message"),
    [
        ("poll_interval: 0s", "poll_interval", "more than 0s"),
        ("feed_failure_alert_after: -5", "feed_failure_alert_after", "must not be negative"),
        ("fetch: {deadline: 1.0e+300}", "fetch.deadline", "less than or equal to 86400"),
        ("fetch: {read_timeout: .inf}", "fetch.read_timeout", "finite number"),
        ("fetch: {per_host: 0}", "fetch.per_host", "greater than or equal to 1"),
        ('fetch: {user_agent: "two\\nlines"}', "fetch.user_agent", "one line"),
        ("fetch: {retries: 3}", "fetch.retries", "unknown key"),
    ],
)
def test_bad_timing_and_fetch_values_name_line_and_key(
    tmp_path: Path, line: str, key: str, message: str
) -> None:
    error = error_for(tmp_path, f"database: sqlite:///x.db\n{line}\n")
    assert f"line 2, {key}: " in error
    assert message in error


def test_fetch_settings_reach_the_fetcher_as_written(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "fetch: {concurrency: 3, max_redirects: 2}\n"))
    assert (config.fetch.concurrency, config.fetch.max_redirects) == (3, 2)
    assert config.fetch.deadline == 60  # the fetcher's own default


@pytest.mark.parametrize("command", ["feeds", "run"])
def test_a_source_the_watchers_cannot_use_stops_every_command_at_load(
    tmp_path: Path, command: str
) -> None:
    """`language: english` used to load, show as ok in `feeds`, and kill `run` with a
    ValueError traceback."""
    feed = Path(__file__).resolve().parent.parent / "examples" / "feeds" / "energy-daily.xml"
    path = write(
        tmp_path,
        "database: sqlite:///watch.db\n"
        "sources:\n"
        f"  - {{name: Local, path: '{feed}'}}\n"
        "  - {name: GN, google_news: CSTO, language: english}\n",
    )
    result = CliRunner().invoke(main, ["--config", str(path), command])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"{path}: invalid config:" in result.output
    assert (
        "line 4, sources.1.language: language must be a two-letter code such as 'en',"
        " got 'english'" in result.output
    )
    assert not (tmp_path / "watch.db").exists()
