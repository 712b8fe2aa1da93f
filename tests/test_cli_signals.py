"""`allywatch match`, `allywatch signals validate` and `allywatch signals test`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from allywatch.cli import main

ARTICLES = [
    {
        "title": "Iran takes delivery of first Su-35 jets, state TV says",
        "summary": "<p>The <b>Su-35</b> fighters arrived in Iran &amp; were shown on TV.</p>",
        "link": "https://example.org/1",
        "published": "2026-01-02T10:00:00Z",
        "source": "Example",
    },
    {
        "title": "Weather: rain in Paris",
        "summary": "",
        "link": "https://example.org/2",
        "published": "2026-01-02T11:00:00Z",
        "source": "Example",
    },
    {
        "title": "Russia has not delivered any Su-35 to Iran, officials say",
        "summary": "",
        "link": "https://example.org/3",
        "published": "2026-01-02T12:00:00Z",
        "source": "Example",
    },
]

WIDGETS = """
id: widgets
question: Has Acme bought widgets?
initial: none
terms:
  widget: [widget*]
  buy: [bought]
states:
  bought: {when: "widget and buy"}
tests:
  - text: Acme bought widgets
    expect: bought
"""


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    # No config file anywhere: the commands fall back to the built-in pack.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALLYWATCH_CONFIG", raising=False)
    return CliRunner()


def write_jsonl(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


def test_match_json_prints_one_line_per_article_in_order(runner: CliRunner, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "articles.jsonl", ARTICLES)
    result = runner.invoke(main, ["match", str(path), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["link"] for line in lines] == [a["link"] for a in ARTICLES]
    [first] = lines[0]["observations"]
    assert first["signal"] == "su35-iran"
    assert first["entity"] is None
    assert first["state"] == "delivery-reported"
    assert first["polarity"] == "for"
    assert first["hedged"] is False
    assert {"term", "text", "field", "start", "end", "sentence"} <= set(first["evidence"][0])
    summary_words = [e["text"] for e in first["evidence"] if e["field"] == "summary"]
    assert "Su-35" in summary_words  # the HTML was reduced to text first
    assert lines[1]["observations"] == []
    assert lines[2]["observations"] == []


def test_match_readable_output(runner: CliRunner, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "articles.jsonl", ARTICLES)
    result = runner.invoke(main, ["match", str(path)])
    assert result.exit_code == 0, result.output
    assert "su35-iran: evidence for delivery-reported" in result.output
    assert "https://example.org/1" in result.output
    assert "Weather" not in result.output
    assert "3 articles, 1 with observations" in result.output


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"title": 42}', "`title` must be a string"),
        ('{"link": "https://example.org"}', "an article needs a `title` or a `summary`"),
    ],
)
def test_match_names_file_and_line_of_a_bad_article(
    runner: CliRunner, tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(ARTICLES[0]) + "\n\n" + line + "\n", encoding="utf-8")
    result = runner.invoke(main, ["match", str(path), "--json"])
    assert result.exit_code != 0
    assert f"{path}:3: {message}" in result.output
    assert "example.org/1" not in result.output  # nothing printed for a file that is wrong


def test_match_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["match", str(tmp_path / "nope.jsonl")])
    assert result.exit_code != 0
    assert "nope.jsonl" in result.output


def test_match_uses_the_signals_of_the_config(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "widgets.yaml").write_text(textwrap.dedent(WIDGETS), encoding="utf-8")
    config = tmp_path / "allywatch.yaml"
    config.write_text("signals: [mine]\n", encoding="utf-8")
    path = write_jsonl(tmp_path / "a.jsonl", [{"title": "Acme bought widgets", "summary": ""}])
    result = runner.invoke(main, ["--config", str(config), "match", str(path), "--json"])
    assert result.exit_code == 0, result.output
    [line] = [json.loads(x) for x in result.output.splitlines()]
    assert [o["signal"] for o in line["observations"]] == ["widgets"]


def test_validate_builtin_pack(runner: CliRunner) -> None:
    result = runner.invoke(main, ["signals", "validate"])
    assert result.exit_code == 0, result.output
    assert "su35-iran" in result.output and "csto-summit-attendance" in result.output


def test_validate_reports_every_error_with_file_and_line(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        textwrap.dedent(WIDGETS)
        .replace('"widget and buy"', '"widget and sell"')
        .replace("expect: bought", "expect: sold"),
        encoding="utf-8",
    )
    result = runner.invoke(main, ["signals", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:9: state 'bought': unknown term list 'sell'" in result.output
    assert f"{bad}:11: test 1: `expect` must be one of" not in result.output  # state is gone
    assert "1 error in signal files" in result.output


def test_signals_test_passes_and_fails(runner: CliRunner, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(textwrap.dedent(WIDGETS), encoding="utf-8")
    result = runner.invoke(main, ["signals", "test", str(good)])
    assert result.exit_code == 0, result.output
    assert "1 test in 1 signal: 1 passed, 0 failed" in result.output

    failing = tmp_path / "failing.yaml"
    failing.write_text(
        textwrap.dedent(WIDGETS) + "  - text: Acme has not bought widgets\n    expect: bought\n",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["signals", "test", str(failing)])
    assert result.exit_code == 1
    assert f"FAIL {failing}:13: widgets: 'Acme has not bought widgets'" in result.output
    assert "1 passed, 1 failed" in result.output


def test_signals_test_builtin_pack(runner: CliRunner) -> None:
    result = runner.invoke(main, ["signals", "test"])
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output
