"""`allywatch explain` and `allywatch silence` on a real database and real signal files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_backtest import SIGNALS
from test_evaluate import store_report
from test_rules import DAY, T0, report

from allywatch.alerts.evaluate import evaluate
from allywatch.cli import main
from allywatch.store.engine import writing
from allywatch.workspace import Workspace


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    own = tmp_path / "signals"
    own.mkdir()
    for name, text in SIGNALS.items():
        (own / name).write_text(text, encoding="utf-8")
    path = tmp_path / "allywatch.yaml"
    path.write_text(f"database: '{database_url}'\nsignals: [signals]\n", encoding="utf-8")
    return path


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_explain_shows_the_state_why_and_what_would_change_it(config: Path):
    workspace = Workspace.open(config)
    with writing(workspace.engine) as session:
        for day, outlet in ((1, "a.com"), (2, "b.com")):
            item = report(day, "delivered", outlet)
            store_report(session, "jets", None, item, ("Su-35", "delivered"))
        denial = report(3, "delivered", "c.com", against=True)
        store_report(session, "jets", None, denial, ("Su-35", "not received"))
        evaluate(session, workspace.signals, T0 + 4 * DAY)

    code, output = cli(config, "explain", "jets")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == "jets: delivery-reported since 2025-01-02 00:00 UTC"
    assert "Why: it went from none to delivery-reported on 2025-01-02 00:00 UTC (evidence)" in lines
    delivered = lines.index(next(line for line in lines if line.startswith("delivered (")))
    section = lines[delivered : delivered + 6]
    assert any("a.com: a.com on delivered (matched: Su-35, delivered)" in line for line in section)
    assert any("b.com" in line for line in section)
    against = section.index("  reports against it:")
    assert (
        "c.com" in section[against + 1] and "(matched: Su-35, not received)" in section[against + 1]
    )
    changes = lines[lines.index("What would change it:") + 1 :]
    assert any(
        line.startswith("  - delivered: reached with 2 more independent reports within 2w")
        for line in changes
    )
    assert any(
        "delivery-reported: reports against it from 2 more independent outlets" in line
        for line in changes
    )

    code, output = cli(config, "explain", "jets", "--json")
    data = json.loads(output)
    assert data["state"] == "delivery-reported"
    delivered = next(s for s in data["states"] if s["name"] == "delivered")
    assert [a["outlet"] for a in delivered["supporting"]] == ["b.com", "a.com"]
    assert [a["outlet"] for a in delivered["opposing"]] == ["c.com"]


def test_explain_per_entity_and_for_an_aggregate(config: Path):
    workspace = Workspace.open(config)
    with writing(workspace.engine) as session:
        skipped = report(0, "absent", "a.am")
        store_report(session, "summit", "Armenia", skipped, ("skips",))
        evaluate(session, workspace.signals, T0 + DAY)

    code, output = cli(config, "explain", "summit", "armenia")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == "summit / Armenia: absent since 2025-01-01 00:00 UTC"
    assert "  - absent: expires on 2025-01-31 00:00 UTC unless reports renew it" in lines
    code, output = cli(config, "explain", "summit", "--json")
    assert [(e["entity"], e["state"]) for e in json.loads(output)] == [
        ("Armenia", "absent"),
        ("Kazakhstan", "attending"),
    ]
    code, output = cli(config, "explain", "summit-away")
    lines = output.splitlines()
    assert "  Armenia: absent" in lines and "  Kazakhstan: attending" in lines
    assert "  - all-away: reached when 2 members are away (1 is away now: Armenia)" in lines

    code, output = cli(config, "explain", "summit", "Narnia")
    assert code == 1
    assert "summit has no entity 'Narnia'" in output
    code, output = cli(config, "explain", "no-such-signal")
    assert code == 1 and "no signal 'no-such-signal'" in output


def test_silence_add_list_remove(config: Path):
    code, output = cli(config, "silence", "summit/armenia", "--for", "2d")
    assert code == 0, output
    assert output.startswith("silence #1: summit/Armenia unannounced for 2d")
    code, output = cli(config, "silence", "jets", "--for", "1w", "--note", "noisy")
    assert code == 0, output
    code, output = cli(config, "silence", "--list", "--json")
    listed = json.loads(output)
    assert [(s["signal"], s["entity"], s["note"]) for s in listed] == [
        ("summit", "Armenia", ""),
        ("jets", None, "noisy"),
    ]
    code, output = cli(config, "silence", "--remove", "1")
    assert code == 0 and "removed silence #1" in output
    code, output = cli(config, "silence", "--list")
    assert "jets" in output and "Armenia" not in output
    code, output = cli(config, "silence", "--remove", "1")
    assert code == 1 and "no silence #1" in output


def test_silence_refuses_bad_input(config: Path):
    code, output = cli(config, "silence", "jets", "--for", "soon")
    assert code == 2 and "--for" in output and "expected a duration" in output
    code, output = cli(config, "silence", "summit/Narnia")
    assert code == 1 and "no entity 'Narnia'" in output
    code, output = cli(config, "silence")
    assert code == 2 and "give SIGNAL[/ENTITY], or --list, or --remove ID" in output


def test_history_shows_each_transition_with_its_reason_and_articles(config: Path):
    workspace = Workspace.open(config)
    with writing(workspace.engine) as session:
        store_report(session, "jets", None, report(1, "delivery-reported", "a.com"))
        denial = report(2, "delivery-reported", "b.com", against=True)
        store_report(session, "jets", None, denial)
        evaluate(session, workspace.signals, T0 + 4 * DAY)
    code, output = cli(config, "history", "jets", "--tz", "UTC")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == "2025-01-03 00:00 UTC: delivery-reported -> none (denied)"
    assert lines[1].startswith("    2025-01-03 b.com: b.com on delivery-reported [against] <")
    assert lines[2] == "2025-01-02 00:00 UTC: none -> delivery-reported"
    code, output = cli(config, "history", "jets", "--json")
    assert [t["reason"] for t in json.loads(output)] == ["denied", "evidence"]
