"""Feed text printed to a terminal cannot drive it: escape sequences, other controls and
bidi overrides in a headline show as visible escapes in `status`, `history` and
`alerts`, while `--json` keeps the text exact. Long lists are summarised."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from allywatch.cli import main

# A clipboard write (OSC 52), a bell, a screen clear (CSI 2J), a window title (OSC 0) and
# a right-to-left override, in one headline that the su35-iran signal takes as evidence.
HOSTILE = (
    "Iran takes delivery of first Su-35 jets"
    " \x1b]52;c;ZXZpbA==\x07 \x1b[2J \x1b]0;pwned\x07 \u202eslaed"
)


def feed_with(title: str) -> str:
    escaped = "".join(c if c.isprintable() else f"&#{ord(c)};" for c in title)
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        f"<item><title>{escaped}</title><link>https://wire.example/1</link>"
        "<pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate></item></channel></rss>"
    )


def cli(config: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_control_sequences_in_feed_text_reach_the_terminal_as_visible_escapes(
    tmp_path: Path, database_url: str
) -> None:
    (tmp_path / "wire.xml").write_text(feed_with(HOSTILE), encoding="utf-8")
    config = tmp_path / "allywatch.yaml"
    config.write_text(
        f"database: '{database_url}'\nalert_on_first_run: true\n"
        "sources:\n  - {name: Wire, path: wire.xml}\n",
        encoding="utf-8",
    )
    cli(config, "run")
    outputs = {
        "status": cli(config, "status"),
        "history": cli(config, "history", "su35-iran"),
        "alerts": cli(config, "alerts"),
    }
    assert "Su-35" in outputs["history"], "the headline should be shown"
    for command, output in outputs.items():
        unsafe = [c for c in output if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F]
        assert not unsafe, f"{command} printed control characters {unsafe!r}"
        assert "\u202e" not in output, f"{command} printed a bidi override"
    assert "\\x1b]52;c;ZXZpbA==\\x07" in outputs["history"]
    assert "\\u202eslaed" in outputs["history"]

    transitions = json.loads(cli(config, "history", "su35-iran", "--json"))
    titles = [item["title"] for t in transitions for item in t["evidence"]]
    assert HOSTILE in titles, "JSON keeps the text exactly as the feed gave it"


def test_status_names_a_few_failing_sources_and_points_to_feeds_for_the_rest(
    tmp_path: Path, database_url: str
) -> None:
    names = [f"Gone {n:02d}" for n in range(12)]
    sources = "".join(f"  - {{name: '{n}', path: missing-{i}.xml}}\n" for i, n in enumerate(names))
    config = tmp_path / "allywatch.yaml"
    config.write_text(f"database: '{database_url}'\nsources:\n{sources}", encoding="utf-8")
    CliRunner().invoke(main, ["--config", str(config), "run"])
    feeds_line = next(line for line in cli(config, "status").splitlines() if "failing" in line)
    assert "12 failing" in feeds_line
    assert "Gone 00" in feeds_line and "Gone 11" not in feeds_line
    assert "allywatch feeds" in feeds_line
