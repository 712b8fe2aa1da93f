"""`allywatch feeds import FILE.opml`: feeds from a feed reader's export join the config.

The config file is the user's: after an import it must still load, hold the new
sources, and read exactly as before everywhere else.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from allywatch.cli import main
from allywatch.config import load_config

CONFIG = """\
# My watch list. Keep the wire services first.
database: sqlite:///watch.db
poll_interval: 30m   # polite to the outlets

sources:
  # Wire services
  - {name: TASS, url: "https://tass.com/rss/v2.xml"}
  - {name: Meduza, url: "https://meduza.io/rss/en/all"}  # English edition
  # Searches come later
smtp: {host: localhost, port: 25, from: "watch <watch@example.org>"}
"""

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Reader export</title></head>
  <body>
    <outline text="Russia">
      <outline type="rss" text="TASS wire" xmlUrl="https://TASS.com/rss/v2.xml"/>
      <outline type="rss" text="Meduza" xmlUrl="https://meduza.io/rss/all"/>
      <outline type="rss" title="Moscow Times" xmlUrl="https://www.themoscowtimes.com/rss/news"/>
    </outline>
    <outline type="rss" text="Odd: #1, [beta]" xmlUrl="https://example.org/feed?a=1&amp;b='x'"/>
  </body>
</opml>
"""

# Names and URLs the import must add to CONFIG, in document order.
ADDED = [
    ("Meduza (2)", "https://meduza.io/rss/all"),
    ("Moscow Times", "https://www.themoscowtimes.com/rss/news"),
    ("Odd: #1, [beta]", "https://example.org/feed?a=1&b='x'"),
]


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def configured(config: Path) -> list[tuple[str, str | None]]:
    return [(s.name, s.url) for s in load_config(config).sources]


def only_inserted(before: str, after: str) -> bool:
    """Whether `after` is `before` with characters inserted and none changed or removed."""
    rest = iter(after)
    return all(char in rest for char in before)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "allywatch.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    opml = tmp_path / "export.opml"
    opml.write_bytes(OPML)
    return config, opml


def test_import_adds_new_feeds_after_the_last_source_and_keeps_everything_else(
    setup: tuple[Path, Path],
) -> None:
    config, opml = setup
    code, output = cli(config, "feeds", "import", str(opml))
    assert code == 0, output

    assert configured(config) == [
        ("TASS", "https://tass.com/rss/v2.xml"),
        ("Meduza", "https://meduza.io/rss/en/all"),
        *ADDED,
    ]
    text = config.read_text(encoding="utf-8")
    head, tail = CONFIG.split("  # Searches come later\n")
    assert text.startswith(head)
    assert text.endswith("  # Searches come later\n" + tail)
    assert text.count("\n") == CONFIG.count("\n") + len(ADDED)

    assert "added 3 of 4 feeds" in output
    assert "Meduza (2)" in output and "'Meduza' is taken" in output
    assert "skipped 1 already configured" in output
    assert "configured as 'TASS'" in output

    # The feeds table lists the new sources too.
    code, output = cli(config, "feeds", "--json")
    assert code == 0, output
    assert [f["name"] for f in json.loads(output)] == ["TASS", "Meduza"] + [n for n, _ in ADDED]


def test_a_second_import_adds_nothing_and_leaves_the_file_alone(setup: tuple[Path, Path]) -> None:
    config, opml = setup
    assert cli(config, "feeds", "import", str(opml))[0] == 0
    once = config.read_bytes()

    code, output = cli(config, "feeds", "import", str(opml))
    assert code == 0, output
    assert "nothing to add" in output
    assert config.read_bytes() == once


def test_dry_run_lists_what_would_be_added_and_changes_nothing(setup: tuple[Path, Path]) -> None:
    config, opml = setup
    code, output = cli(config, "feeds", "import", "--dry-run", str(opml))
    assert code == 0, output
    assert "would add 3 of 4 feeds" in output
    for name, url in ADDED:
        assert f"+ {name}  {url}" in output
    assert config.read_text(encoding="utf-8") == CONFIG


@pytest.mark.parametrize(
    "original",
    [
        "database: sqlite:///watch.db\nsources:\n- {name: TASS, url: 'https://tass.com/rss/v2.xml'}\n"
        "outbox: mail\n",
        "database: sqlite:///watch.db\nsources: [{name: TASS, url: 'https://tass.com/rss/v2.xml'}]\n",
        "database: sqlite:///watch.db\nsources: []   # none yet\n",
        "# only a database for now\ndatabase: sqlite:///watch.db",
        "database: sqlite:///watch.db\nsources:\n  - {name: TASS, url: 'https://tass.com/rss/v2.xml'}",
        "database: sqlite:///watch.db\r\nsources:\r\n  - name: TASS\r\n"
        "    url: https://tass.com/rss/v2.xml\r\n    # polled often\r\n    interval: 5m\r\n"
        "  # more below\r\nalert_on_first_run: true",
    ],
    ids=[
        "indentless",
        "flow",
        "empty-flow",
        "no-sources",
        "last-line-unended",
        "crlf-block-mappings",
    ],
)
def test_import_only_inserts_text_whatever_the_shape_of_the_sources_list(
    tmp_path: Path, original: str
) -> None:
    config = tmp_path / "allywatch.yaml"
    config.write_bytes(original.encode("utf-8"))
    opml = tmp_path / "export.opml"
    opml.write_bytes(OPML)
    before = configured(config)

    code, output = cli(config, "feeds", "import", str(opml))
    assert code == 0, output

    after = configured(config)
    assert after[: len(before)] == before
    assert {url for _, url in after[len(before) :]} >= {url for _, url in ADDED}
    text = config.read_bytes().decode("utf-8")
    assert only_inserted(original, text)
    if "\r\n" in original:
        assert "\n" not in text.replace("\r\n", "")


def test_the_config_keeps_its_permissions(setup: tuple[Path, Path]) -> None:
    config, opml = setup
    config.chmod(0o600)
    assert cli(config, "feeds", "import", str(opml))[0] == 0
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert [p.name for p in config.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_symlinked_config_stays_a_symlink(setup: tuple[Path, Path]) -> None:
    config, opml = setup
    link = config.parent / "link.yaml"
    os.symlink(config.name, link)
    assert cli(link, "feeds", "import", str(opml))[0] == 0
    assert link.is_symlink()
    assert ("Moscow Times", ADDED[1][1]) in configured(config)


@pytest.mark.parametrize(
    ("opml_name", "content", "message"),
    [
        ("missing.opml", None, "missing.opml: no such file"),
        ("feed.xml", b"<rss version='2.0'><channel/></rss>", "root element is <rss>"),
        ("broken.opml", b"<opml><body><outline text='x'", "not well-formed"),
        ("folders.opml", b"<opml><body><outline text='Empty'/></body></opml>", "no feeds"),
        (
            "bad-url.opml",
            b"<opml><body><outline text='Local' xmlUrl='file:///etc/passwd'/></body></opml>",
            "'Local'",
        ),
    ],
    ids=["missing", "not-opml", "broken", "no-feeds", "bad-url"],
)
def test_a_bad_opml_file_is_refused_and_the_config_is_untouched(
    setup: tuple[Path, Path], opml_name: str, content: bytes | None, message: str
) -> None:
    config, _ = setup
    opml = config.parent / opml_name
    if content is not None:
        opml.write_bytes(content)
    code, output = cli(config, "feeds", "import", str(opml))
    assert code == 1
    assert message in output
    assert config.read_text(encoding="utf-8") == CONFIG


def test_a_missing_config_is_reported_and_not_created(setup: tuple[Path, Path]) -> None:
    _, opml = setup
    missing = opml.parent / "nowhere.yaml"
    code, output = cli(missing, "feeds", "import", str(opml))
    assert code == 1
    assert "nowhere.yaml: no such config file" in output
    assert not missing.exists()


def test_an_invalid_config_is_reported_and_left_as_it_is(setup: tuple[Path, Path]) -> None:
    config, opml = setup
    broken = CONFIG.replace("poll_interval: 30m", "poll_intervall: 30m")
    config.write_text(broken, encoding="utf-8")
    code, output = cli(config, "feeds", "import", str(opml))
    assert code == 1
    assert "poll_intervall: unknown key" in output
    assert config.read_text(encoding="utf-8") == broken


def test_a_config_it_cannot_extend_by_inserting_lines_is_left_alone(
    setup: tuple[Path, Path],
) -> None:
    config, opml = setup
    flow = '{database: "sqlite:///watch.db", poll_interval: 30m}\n'
    config.write_text(flow, encoding="utf-8")
    code, output = cli(config, "feeds", "import", str(opml))
    assert code == 1
    assert "add these lines to it by hand" in output
    assert "- {name: Moscow Times, url: 'https://www.themoscowtimes.com/rss/news'}" in output
    assert config.read_text(encoding="utf-8") == flow
