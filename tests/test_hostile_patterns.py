"""Regular expressions from signal files cannot hang matching.

A known catastrophic shape is refused when the file is validated; any other
slow expression is cut off by the time limit, named, and skipped for that item.
"""

from __future__ import annotations

import logging
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from allywatch.cli import main
from allywatch.language import bounded
from allywatch.language.loader import load_signals
from allywatch.resources import builtin_dir
from allywatch.watchers.matcher import Matcher

SIGNAL = """
id: widgets
question: Has Acme bought widgets?
initial: none
terms:
  widget:
    - widget*
    - {regex: "%s"}
  buy: [bought]
states:
  bought: {when: "widget and buy"}
"""


def _signal_file(tmp_path: Path, pattern: str) -> Path:
    path = tmp_path / "widgets.yaml"
    path.write_text(textwrap.dedent(SIGNAL % pattern), encoding="utf-8")
    return path


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(\\w+\\s?)+$", r"(\\d+\\w)+x"])
def test_validate_refuses_nested_quantifiers_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pattern: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALLYWATCH_CONFIG", raising=False)
    path = _signal_file(tmp_path, pattern)
    result = CliRunner().invoke(main, ["signals", "validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:8: regular expression" in result.output
    assert "may take for ever to match: a repeat nested in a repeat" in result.output


def test_a_slow_expression_is_cut_off_named_and_skipped_for_the_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bounded, "MATCH_TIMEOUT", 0.05)
    # Overlapping alternatives: not a shape the check knows, exponential all the same.
    signals = load_signals([_signal_file(tmp_path, "(a|a)+$")], builtin=builtin_dir("signals"))
    matcher = Matcher(signals)
    title = "Acme bought widgets " + "a" * 5000 + "!"

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="allywatch.matcher"):
        observations = matcher.match(title, "")
    assert time.monotonic() - started < 5

    # The plain term of the same list still matched: only the slow term was skipped.
    assert [o.state for o in observations] == ["bought"]
    warning = caplog.messages[0]
    assert "signal widgets, term list widget: the term {regex: (a|a)+$}" in warning
    assert "took over the time limit" in warning

    # An ordinary item is matched as before, with no warning.
    caplog.clear()
    assert [o.state for o in matcher.match("Acme bought widgets", "")] == ["bought"]
    assert not caplog.messages
