"""Setting up as a new operator does: `init`'s secret, warnings when digests cannot
leave, the built-in pack named beside one's own signals, and subscriptions to a
signal that no longer exists."""

from __future__ import annotations

import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result
from digestkit import add_alert, subscribe_at, workspace

from allywatch.cli import main
from allywatch.config import load_config
from allywatch.resources import builtin_dir

OWN_SIGNAL = """\
id: my-signal
question: Has the fair opened?
initial: closed
terms:
  fair: ["trade fair"]
  open: ["opens", "opened"]
states:
  open: {when: "fair and open", min_sources: 1}
"""


def cli(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], env=env)


def test_init_writes_a_fresh_secret_readable_by_its_owner_only(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert cli(first, "init").exit_code == 0
    assert cli(second, "init").exit_code == 0
    secrets = [load_config(path).secret for path in (first, second)]
    assert all(s and re.fullmatch("[0-9a-f]{64}", s) for s in secrets)
    assert secrets[0] != secrets[1]
    assert stat.S_IMODE(first.stat().st_mode) == 0o600


def test_adding_an_email_subscriber_warns_when_digests_cannot_leave(tmp_path: Path) -> None:
    config = tmp_path / "allywatch.yaml"
    config.write_text("database: sqlite:///watch.db\n")
    added = cli(config, "subscribers", "add", "ann@example.org", env={"ALLYWATCH_SECRET": ""})
    assert added.exit_code == 0, added.output
    assert "warning: digests cannot be sent yet: no unsubscribe secret" in added.stderr
    assert "neither `smtp:` nor `outbox:`" in added.stderr
    status = cli(config, "status", env={"ALLYWATCH_SECRET": ""})
    assert "warning: email digests cannot be sent: no unsubscribe secret" in status.stdout

    chat = cli(config, "subscribers", "add", "json://127.0.0.1:9/hook")
    assert chat.exit_code == 0 and "warning" not in chat.output  # chat needs neither


def test_a_digest_held_back_for_want_of_a_secret_counts_as_failing(tmp_path: Path) -> None:
    config = tmp_path / "allywatch.yaml"
    config.write_text(f"database: sqlite:///watch.db\noutbox: {tmp_path / 'out'}\n")
    ws = workspace(config)
    t0 = datetime(2025, 1, 6, tzinfo=UTC)
    subscribe_at(ws, "ann@example.org", t0, cadence="immediate")
    add_alert(ws, created_at=t0 + timedelta(hours=1))
    env = {"ALLYWATCH_SECRET": ""}
    ran = cli(config, "run", "--clock", "2025-01-07T00:00:00", env=env)
    assert ran.exit_code == 3
    assert "digest for ann@example.org failed: no unsubscribe secret" in ran.stderr
    digests = [
        line for line in cli(config, "status", env=env).stdout.splitlines() if "digests" in line
    ]
    assert digests[0].endswith(", 1 failing")
    # Once the secret is set the digest leaves at the next run, with no backoff to sit out.
    sent = cli(config, "run", "--clock", "2025-01-07T00:01:00", env={"ALLYWATCH_SECRET": "s3"})
    assert sent.exit_code == 0, sent.output
    assert len(list((tmp_path / "out").glob("*.eml"))) == 1


def test_builtin_names_the_pack_beside_ones_own_signals(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "my-signal.yaml").write_text(OWN_SIGNAL)
    config = tmp_path / "allywatch.yaml"
    config.write_text("database: sqlite:///watch.db\nsignals: [builtin, mine]\n")
    assert load_config(config).signals == [builtin_dir("signals"), tmp_path / "mine"]
    ids = {s.id for s in workspace(config).signals}
    assert {"my-signal", "su35-iran", "csto-summit-attendance"} <= ids


def test_a_subscription_to_a_vanished_signal_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "allywatch.yaml"
    config.write_text("database: sqlite:///watch.db\nsecret: s3\noutbox: out\n")
    added = cli(config, "subscribers", "add", "ann@example.org", "--signals", "su35-iran")
    assert added.exit_code == 0 and "warning" not in added.output
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "my-signal.yaml").write_text(OWN_SIGNAL)
    config.write_text(config.read_text() + "signals: [mine]\n")  # the built-in pack is gone

    listed = cli(config, "subscribers", "list")
    assert "warning: ann@example.org subscribes to su35-iran: no such signal" in listed.stdout
    as_json = cli(config, "subscribers", "list", "--format", "json")
    assert '"unknown_signals": [\n      "su35-iran"' in as_json.stdout
    status = cli(config, "status")
    assert "warning: ann@example.org subscribes to su35-iran: no such signal" in status.stdout
