"""`allywatch config check`: says what a config amounts to, exits 1 on any problem,
and touches nothing (a fresh database is not created, an old schema not upgraded)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from allywatch.cli import main

FEEDS = Path(__file__).resolve().parent.parent / "examples" / "feeds"


def check(config: Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), "config", "check"], env=env)


def test_a_fresh_starter_config_checks_clean_and_no_database_appears(tmp_path: Path) -> None:
    config = tmp_path / "allywatch.yaml"
    assert CliRunner().invoke(main, ["--config", str(config), "init"]).exit_code == 0
    result = check(config)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"config: {config.resolve()}"
    assert lines[1].startswith("sources: 16 (16 feeds)")
    assert lines[2].startswith("signals: ") and "from builtin" in lines[2]
    assert "su35-iran" in lines[2]
    assert lines[3].endswith("none yet, the first run would create it")
    assert lines[4] == "digests: ready (smtp localhost:25)"
    assert lines[-1] == "no problems found"
    assert list(tmp_path.iterdir()) == [config]


def test_every_problem_is_listed_and_the_status_is_1(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "broken.yaml").write_text("id: broken\nquestion: ?\nstates: 3\n")
    config = tmp_path / "allywatch.yaml"
    config.write_text("database: sqlite:///watch.db\nsignals: [mine]\nsources: []\n")
    result = check(config, env={"ALLYWATCH_SECRET": ""})
    assert result.exit_code == 1
    assert "no sources: `sources:` lists nothing to poll" in result.stdout
    assert "signal files: " in result.stdout and "broken.yaml" in result.stdout
    assert "digests: cannot be sent: no unsubscribe secret" in result.stdout


def test_an_existing_database_is_described_and_subscriptions_checked(tmp_path: Path) -> None:
    config = tmp_path / "allywatch.yaml"
    feed = FEEDS / "gulf-monitor.xml"
    config.write_text(
        f"database: sqlite:///watch.db\nsecret: s3\noutbox: out\n"
        f"sources:\n  - {{name: Gulf, path: '{feed}'}}\n"
    )
    runner = CliRunner()
    args = ["--config", str(config), "subscribers", "add", "ann@example.org"]
    assert runner.invoke(main, [*args, "--signals", "su35-iran"]).exit_code == 0
    result = check(config)
    assert result.exit_code == 0, result.output
    assert "schema current, 1 active subscriber" in result.stdout
    assert "sources: 1 (1 feed file)" in result.stdout
    assert f"digests: ready (outbox {tmp_path / 'out'})" in result.stdout

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "one.yaml").write_text(
        "id: one\nquestion: Q?\ninitial: a\nterms: {t: [x]}\nstates: {b: {when: t}}\n"
    )
    config.write_text(config.read_text() + "signals: [mine]\n")
    vanished = check(config)
    assert vanished.exit_code == 1
    assert "ann@example.org subscribes to su35-iran: no such signal" in vanished.stdout
