"""`allywatch status --signal ID`: only the chosen signals' rows, as the full table has them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from allywatch.cli import main

FEEDS = Path(__file__).resolve().parent.parent / "examples" / "feeds"
CSTO = "csto-summit-attendance"


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config and SQLite database after one cycle over the sample feeds."""
    folder = tmp_path_factory.mktemp("watch")
    sources = "".join(
        f"  - {{name: {feed.stem}, path: '{feed}'}}\n" for feed in sorted(FEEDS.glob("*.xml"))
    )
    config = folder / "allywatch.yaml"
    config.write_text(f"database: sqlite:///watch.db\nsources:\n{sources}", encoding="utf-8")
    code, output = cli(config, "run", "--clock", "2025-09-10T00:00:00")
    assert code == 0, output
    return config


def rows(config: Path, *args: str) -> list[dict]:
    code, output = cli(config, "status", "--json", *args)
    assert code == 0, output
    return json.loads(output)


def test_one_signal_gives_its_entity_rows_exactly_as_the_full_status_has_them(
    watched: Path,
) -> None:
    everything = rows(watched)
    chosen = rows(watched, "--signal", CSTO)
    assert [r["entity"] for r in chosen] == [
        "Armenia",
        "Belarus",
        "Kazakhstan",
        "Kyrgyzstan",
        "Russia",
        "Tajikistan",
    ]
    assert chosen == [r for r in everything if r["signal"] == CSTO]
    # The cycle moved some of them, so the rows carry stored state, not just defaults.
    assert {r["entity"]: r["state"] for r in chosen}["Armenia"] == "suspended"
    assert len({r["signal"] for r in everything}) > 2


def test_the_option_repeats_and_keeps_the_order_of_the_full_table(watched: Path) -> None:
    everything = rows(watched)
    chosen = rows(watched, "--signal", "su35-iran", "--signal", "power-of-siberia-2")
    assert chosen == [r for r in everything if r["signal"] in {"su35-iran", "power-of-siberia-2"}]
    assert {r["signal"] for r in chosen} == {"su35-iran", "power-of-siberia-2"}


def test_the_table_lists_only_the_chosen_signal(watched: Path) -> None:
    code, output = cli(watched, "status", "--signal", "su35-iran")
    assert code == 0, output
    table = output.split("\n\n")[0].splitlines()
    assert table[0].startswith("SIGNAL")
    assert len(table) == 2
    assert table[1].split()[:3] == ["su35-iran", "-", "delivered"]
    assert "feeds: 4 configured" in output


@pytest.mark.parametrize(
    "args",
    [("--signal", "brics"), ("--signal", CSTO, "--signal", "africa")],
    ids=["alone", "mixed"],
)
def test_an_unknown_signal_is_refused_with_the_known_ids(
    watched: Path, args: tuple[str, ...]
) -> None:
    code, output = cli(watched, "status", *args)
    assert code == 1
    unknown = args[-1]
    assert f"no signal '{unknown}'" in output
    for known in ("brics-membership", "russian-forces-africa", CSTO, "su35-iran"):
        assert known in output
    assert "SIGNAL" not in output
