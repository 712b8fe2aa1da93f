"""Article files (JSON Lines) read the same way by `allywatch match` and `allywatch backtest`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from allywatch.cli import main

# Characters str.splitlines takes for line ends, and a NUL, inside JSON strings.
ODD_TEXT = "The jets arrived\u2028in Tehran\u0085on Monday\u0000, officials said."

ARTICLES = [
    {
        "title": "Iran takes delivery of first Su-35 jets, state TV says",
        "summary": ODD_TEXT,
        "link": "https://example.org/1",
        "published": "2026-01-02T10:00:00Z",
        "source": "Example",
    },
    {
        "title": "Weather:\u2028rain in Paris\u0085again",
        "summary": "",
        "link": "https://example.org/2",
        "published": "2026-01-02T11:00:00+01:00",
        "source": "Example",
    },
]


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    # No config file: both commands use the built-in signal pack.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALLYWATCH_CONFIG", raising=False)
    return CliRunner()


def write_articles(path: Path, lines: list[str], end: str = "\n") -> Path:
    path.write_text("".join(line + end for line in lines), encoding="utf-8")
    return path


def as_lines(items: list[dict]) -> list[str]:
    # ensure_ascii=False leaves U+2028 and U+0085 unescaped; a NUL is always escaped.
    return [json.dumps(item, ensure_ascii=False) for item in items]


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_line_separators_and_nul_inside_strings_keep_each_article_whole(
    runner: CliRunner, tmp_path: Path, end: str
) -> None:
    path = write_articles(tmp_path / "articles.jsonl", as_lines(ARTICLES), end)
    assert "\u2028" in path.read_text(encoding="utf-8")

    matched = runner.invoke(main, ["match", str(path), "--json"])
    assert matched.exit_code == 0, matched.output
    lines = [json.loads(line) for line in matched.output.splitlines()]
    assert [line["link"] for line in lines] == ["https://example.org/1", "https://example.org/2"]
    [observation] = lines[0]["observations"]
    assert (observation["signal"], observation["state"]) == ("su35-iran", "delivery-reported")
    summary_words = [e["text"] for e in observation["evidence"] if e["field"] == "summary"]
    # The summary reached the matcher in one piece: what follows its U+2028 is in it.
    assert "Tehran" in summary_words
    assert lines[1]["observations"] == []

    replayed = runner.invoke(main, ["backtest", str(path), "--json"])
    assert replayed.exit_code == 0, replayed.output
    transitions = json.loads(replayed.output)
    assert [(t["signal"], t["to"], t["at"]) for t in transitions] == [
        ("su35-iran", "delivery-reported", "2026-01-02T10:00:00+00:00")
    ]
    assert transitions[0]["evidence"] == ["https://example.org/1"]


def test_match_reads_articles_from_stdin(runner: CliRunner) -> None:
    text = "\n".join(as_lines(ARTICLES)) + "\n"
    result = runner.invoke(main, ["match", "-"], input=text)
    assert result.exit_code == 0, result.output
    assert "su35-iran: evidence for delivery-reported" in result.output
    assert "2 articles, 1 with observations" in result.output


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"title": "Su-35 jets', "not valid JSON (Unterminated string"),
        ('{"title": "raw \x00 NUL", "published": "2026-01-02"}', "not valid JSON (Invalid control"),
        ('{"title": "x", "published": "yesterday"}', "`published` must be an ISO-8601 time"),
        ('{"title": ["x"], "published": "2026-01-02"}', "`title` must be a string, got list"),
        ('"just text"', "expected a JSON object, got str"),
    ],
    ids=["cut-short", "raw-nul", "bad-date", "title-list", "not-object"],
)
@pytest.mark.parametrize("command", ["match", "backtest"])
def test_a_broken_line_is_named_by_file_and_line(
    runner: CliRunner, tmp_path: Path, command: str, line: str, message: str
) -> None:
    path = write_articles(tmp_path / "articles.jsonl", [*as_lines(ARTICLES), "", line])
    result = runner.invoke(main, [command, str(path), "--json"])
    assert result.exit_code == 1, result.output
    assert f"allywatch: {path}:4: {message}" in result.output
    assert "example.org/1" not in result.output  # nothing printed for a file that is wrong
    assert "Traceback" not in result.output


def test_only_backtest_needs_a_publication_time(runner: CliRunner, tmp_path: Path) -> None:
    undated = {key: value for key, value in ARTICLES[0].items() if key != "published"}
    path = write_articles(tmp_path / "undated.jsonl", as_lines([undated]))
    matched = runner.invoke(main, ["match", str(path), "--json"])
    assert matched.exit_code == 0, matched.output
    assert json.loads(matched.output)["observations"]
    replayed = runner.invoke(main, ["backtest", str(path)])
    assert replayed.exit_code == 1
    assert f"{path}:1: missing `published` (an ISO-8601 time)" in replayed.output
