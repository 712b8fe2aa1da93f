"""Delivering digests to a real SMTP server: each alert reaches each subscriber
exactly once, whatever the server or the process does half-way."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from digestkit import SIGNAL, add_alert, cli, subscribe_at, workspace, write_config
from smtpserver import SmtpServer, self_signed

from allywatch.alerts.dispatch import send_due_digests
from allywatch.digests import digest_settings, open_mailer, send_due
from allywatch.resources import builtin_dir
from allywatch.store import subscribers as store
from allywatch.store.engine import reading

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path, smtp_server: SmtpServer, database_url: str) -> Path:
    return write_config(tmp_path, smtp_port=smtp_server.port, database=database_url)


def deliveries(ws, email: str) -> list[int]:
    with reading(ws.engine) as session:
        subscriber = store.find_subscriber(session, email)
        return sorted(d.alert_id for d in store.deliveries_for(session, subscriber.id))


def subscriber(ws, email: str):
    with reading(ws.engine) as session:
        return store.find_subscriber(session, email)


def test_a_digest_arrives_with_both_parts_and_the_right_headers(
    config: Path, smtp_server: SmtpServer
) -> None:
    ws = workspace(config)
    subscribe_at(ws, "ann@example.org", T0, cadence="immediate")
    add_alert(ws, created_at=T0 + timedelta(minutes=5))

    report = send_due(ws, T0 + timedelta(minutes=10))

    assert [s.email for s in report.sent] == ["ann@example.org"] and not report.failed
    [message] = smtp_server.messages
    assert smtp_server.envelopes == [("watch@example.org", ["ann@example.org"])]
    assert message["To"] == "ann@example.org"
    assert message["From"] == "allywatch <watch@example.org>"
    assert message["Subject"] == "Su-35/Iran: delivery reported"
    assert message["Message-ID"] == report.sent[0].message_id
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Has Russia delivered Su-35 fighters to Iran?" in part
        assert "Report: su35-iran delivery-reported" in part
        assert "Example News" in part
    assert 'href="https://news.example.com/su35-iran/x/delivery-reported"' in html
    unsubscribe = str(message["List-Unsubscribe"]).strip()  # may be folded
    assert unsubscribe.startswith("<https://watch.example.org/aw/unsubscribe?token=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe.strip("<>") in text and unsubscribe.strip("<>") in html


def test_each_alert_reaches_each_subscriber_once(config: Path, smtp_server: SmtpServer) -> None:
    ws = workspace(config)
    subscribe_at(ws, "ann@example.org", T0, cadence="immediate")
    first = add_alert(ws, created_at=T0 + timedelta(minutes=1))

    send_due(ws, T0 + timedelta(minutes=2))
    again = send_due(ws, T0 + timedelta(minutes=3))
    assert not again.sent and len(smtp_server.messages) == 1

    second = add_alert(ws, to_state="delivered", created_at=T0 + timedelta(minutes=4))
    send_due(ws, T0 + timedelta(minutes=5))

    assert len(smtp_server.messages) == 2
    later = smtp_server.messages[1].get_body(("plain",)).get_content()
    assert "delivery-reported -> " not in later and "none -> delivered" in later
    assert deliveries(ws, "ann@example.org") == [first.id, second.id]


def test_a_digest_holds_only_the_subscribers_signals_and_announced_alerts(
    config: Path, smtp_server: SmtpServer
) -> None:
    ws = workspace(config)
    subscribe_at(ws, "su35@example.org", T0, cadence="immediate", signals=[SIGNAL])
    subscribe_at(ws, "all@example.org", T0, cadence="immediate")
    created = T0 + timedelta(minutes=1)
    add_alert(ws, created_at=created)
    add_alert(ws, signal="csto-summit-attendance", entity="Kazakhstan", from_state="attending",
              to_state="absent", created_at=created)  # fmt: skip
    add_alert(ws, to_state="deal", announced=False, created_at=created)
    add_alert(ws, to_state="delivered", created_at=T0 - timedelta(days=1))  # before subscribing

    send_due(ws, T0 + timedelta(minutes=2))

    got = {to: m[0]["Subject"].strip() for to, m in smtp_server.by_recipient().items()}
    assert got == {
        "su35@example.org": "Su-35/Iran: delivery reported",
        "all@example.org": ("Su-35/Iran: delivery reported; CSTO: Kazakhstan absent"),
    }


def test_nothing_to_say_means_no_email(config: Path, smtp_server: SmtpServer) -> None:
    ws = workspace(config)
    subscribe_at(ws, "ann@example.org", T0, cadence="daily")
    report = send_due(ws, T0 + timedelta(days=1, hours=2))
    assert not report.sent and not smtp_server.messages
    assert subscriber(ws, "ann@example.org").last_digest_at == T0 + timedelta(days=1, hours=2)


def test_daily_digests_go_out_at_the_subscribers_local_time(
    config: Path, smtp_server: SmtpServer
) -> None:
    ws = workspace(config)
    # 07:00 in Berlin is 06:00 UTC in winter.
    subscribe_at(ws, "ann@example.org", T0, cadence="daily", send_time="07:00",
                 timezone="Europe/Berlin")  # fmt: skip
    add_alert(ws, created_at=T0 + timedelta(hours=1))

    assert not send_due(ws, T0 + timedelta(hours=23, minutes=59)).sent
    assert [s.email for s in send_due(ws, T0 + timedelta(hours=24, minutes=1)).sent] == [
        "ann@example.org"
    ]
    add_alert(ws, to_state="delivered", created_at=T0 + timedelta(hours=25))
    assert not send_due(ws, T0 + timedelta(hours=30)).sent  # next slot: tomorrow 07:00
    assert send_due(ws, T0 + timedelta(hours=48)).sent
    assert len(smtp_server.messages) == 2


def test_weekly_all_quiet_note_only_for_those_who_asked(
    config: Path, smtp_server: SmtpServer
) -> None:
    ws = workspace(config)
    subscribe_at(ws, "quiet@example.org", T0, cadence="daily", all_quiet=True)
    subscribe_at(ws, "silent@example.org", T0, cadence="daily")
    day = timedelta(days=1)
    sent = [send_due(ws, T0 + n * day + timedelta(minutes=1)).sent for n in range(1, 15)]

    notes = [(n + 1, s.email) for n, run in enumerate(sent) for s in run]
    assert notes == [(7, "quiet@example.org"), (14, "quiet@example.org")]
    assert smtp_server.messages[0]["Subject"] == "All quiet: no watched signal changed"


def test_a_server_failing_mid_run_loses_and_duplicates_nothing(
    config: Path, smtp_server: SmtpServer
) -> None:
    ws = workspace(config)
    emails = [f"user{n}@example.org" for n in range(5)]
    for email in emails:
        subscribe_at(ws, email, T0, cadence="immediate")
    add_alert(ws, created_at=T0 + timedelta(minutes=1))
    smtp_server.fail_after = 2

    first = send_due(ws, T0 + timedelta(minutes=2))

    assert len(first.sent) == 2 and len(first.failed) == 3
    assert all("451" in error for _, error in first.failed)
    failed = [email for email, _ in first.failed]
    for email in failed:
        record = subscriber(ws, email)
        assert record.failures == 1 and "451" in record.last_error
        assert record.next_attempt_at == T0 + timedelta(minutes=7)
        assert deliveries(ws, email) == []
    result = cli(ws.config.path, "subscribers", "list")
    assert result.output.count("FAILING") == 3

    smtp_server.fail_after = None
    assert not send_due(ws, T0 + timedelta(minutes=3)).sent  # backing off
    retry = send_due(ws, T0 + timedelta(minutes=8))

    assert sorted(s.email for s in retry.sent) == sorted(failed)
    assert sorted(smtp_server.by_recipient()) == sorted(emails)
    assert all(len(m) == 1 for m in smtp_server.by_recipient().values())
    assert subscriber(ws, failed[0]).failures == 0


def test_a_server_that_goes_away_mid_run_loses_and_duplicates_nothing(
    config: Path, smtp_server: SmtpServer
) -> None:
    ws = workspace(config)
    emails = [f"user{n}@example.org" for n in range(4)]
    for email in emails:
        subscribe_at(ws, email, T0, cadence="immediate")
    add_alert(ws, created_at=T0 + timedelta(minutes=1))
    smtp_server.drop_after = 1

    first = send_due(ws, T0 + timedelta(minutes=2))
    assert len(first.sent) == 1 and len(first.failed) == 3

    smtp_server.drop_after = None
    send_due(ws, T0 + timedelta(hours=1))
    assert sorted(smtp_server.by_recipient()) == sorted(emails)
    assert all(len(m) == 1 for m in smtp_server.by_recipient().values())


def test_a_run_killed_mid_send_resends_nothing_and_sends_the_rest_later(
    config: Path, smtp_server: SmtpServer
) -> None:
    ws = workspace(config)
    emails = [f"user{n}@example.org" for n in range(4)]
    for email in emails:
        subscribe_at(ws, email, T0, cadence="immediate")
    add_alert(ws, created_at=T0 + timedelta(minutes=1))
    smtp_server.hang_after = 2
    at = (T0 + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "allywatch"), "--config", str(config), "digest", "send",
         "--now", at],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while len(smtp_server.messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the third message is now waiting for the server's reply
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert len(smtp_server.messages) == 2
    smtp_server.hang_after = None

    soon = send_due(ws, T0 + timedelta(minutes=3))
    later = send_due(ws, T0 + timedelta(minutes=15))  # after the killed run's lease ran out

    assert len(soon.sent) == 1 and soon.busy  # one was still leased by the killed run
    assert len(later.sent) == 1
    assert sorted(smtp_server.by_recipient()) == sorted(emails)
    assert all(len(m) == 1 for m in smtp_server.by_recipient().values())


def test_overlapping_runs_send_each_digest_once(config: Path, smtp_server: SmtpServer) -> None:
    ws = workspace(config)
    emails = [f"user{n}@example.org" for n in range(6)]
    for email in emails:
        subscribe_at(ws, email, T0, cadence="immediate")
    add_alert(ws, created_at=T0 + timedelta(minutes=1))
    reports = []

    def run() -> None:
        reports.append(send_due(workspace(config), T0 + timedelta(minutes=2)))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(len(r.sent) for r in reports) == len(emails)
    assert sorted(smtp_server.by_recipient()) == sorted(emails)
    assert all(len(m) == 1 for m in smtp_server.by_recipient().values())


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login_comes_from_the_environment(tmp_path: Path) -> None:
    server = SmtpServer(require_auth=("digest-bot", "s3cret"))
    server.start()
    try:
        config = write_config(tmp_path, smtp_port=server.port)
        ws = workspace(config)
        subscribe_at(ws, "ann@example.org", T0, cadence="immediate")
        add_alert(ws, created_at=T0 + timedelta(minutes=1))
        now = (T0 + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S")

        refused = cli(config, "digest", "send", "--now", now)
        assert refused.exit_code == 1 and "ann@example.org" in refused.output
        env = {"ALLYWATCH_SMTP_USER": "digest-bot", "ALLYWATCH_SMTP_PASSWORD": "s3cret"}
        accepted = cli(config, "digest", "send", "--pending", "--now", now, env=env)

        assert accepted.exit_code == 0, accepted.output
        assert server.logins == ["digest-bot"] and len(server.messages) == 1
        assert "s3cret" not in config.read_text()
    finally:
        server.stop()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_mail_goes_over_tls_when_the_config_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test's own certificate
    server = SmtpServer(tls=(cert, key), implicit_tls=mode == "ssl")
    server.start()
    try:
        config = write_config(tmp_path, smtp_port=server.port)
        config.write_text(config.read_text().replace("timeout: 5}", f"timeout: 5, {mode}: true}}"))
        ws = workspace(config)
        subscribe_at(ws, "ann@example.org", T0, cadence="immediate")
        add_alert(ws, created_at=T0 + timedelta(minutes=1))
        report = send_due(ws, T0 + timedelta(minutes=2))
    finally:
        server.stop()
    assert not report.failed and len(server.messages) == 1


def test_outbox_mode_writes_eml_files_instead_of_sending(tmp_path: Path) -> None:
    config = write_config(tmp_path, smtp_port=1, extra="outbox: mail-out\n")
    ws = workspace(config)
    subscribe_at(ws, "ann@example.org", T0, cadence="immediate")
    add_alert(ws, created_at=T0 + timedelta(minutes=1))

    report = send_due(ws, T0 + timedelta(minutes=2))
    again = send_due(ws, T0 + timedelta(minutes=3))

    [path] = (tmp_path / "mail-out").glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=default)
    assert message["To"] == "ann@example.org"
    assert message["Message-ID"] == report.sent[0].message_id
    assert message.get_body(("html",)) is not None and message.get_body(("plain",)) is not None
    assert not again.sent


def test_allywatch_run_sends_due_digests_and_reports_failures(
    config: Path, smtp_server: SmtpServer
) -> None:
    ws = workspace(config)
    now = datetime.now(UTC).replace(microsecond=0)
    subscribe_at(ws, "ann@example.org", now - timedelta(hours=1), cadence="immediate")
    subscribe_at(ws, "bob@example.org", now - timedelta(hours=1), cadence="immediate")
    add_alert(ws, created_at=now - timedelta(minutes=30))
    smtp_server.fail_after = 1
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S")

    result = cli(config, "run", "--clock", stamp)

    assert len(smtp_server.messages) == 1
    failed = {"ann@example.org", "bob@example.org"} - set(smtp_server.by_recipient())
    assert f"digest for {failed.pop()} failed: SMTP server" in result.output
    status = cli(config, "status")
    assert "digests:" in status.output and "1 failing" in status.output


def test_preview_renders_without_sending_or_recording(
    config: Path, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    ws = workspace(config)
    subscribe_at(ws, "ann@example.org", T0, cadence="daily")
    subscribe_at(ws, "bob@example.org", T0, cadence="daily", signals=["csto-summit-attendance"])
    add_alert(ws, created_at=T0 + timedelta(minutes=1))
    before_slot = (T0 + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")

    assert "no digests due" in cli(config, "digest", "preview", "--now", before_slot).output
    shown = cli(config, "digest", "preview", "--pending", "--now", before_slot)
    assert "=== To: ann@example.org  Subject: Su-35/Iran: delivery reported" in shown.output
    assert "none -> delivery-reported" in shown.output and "bob@" not in shown.output
    out = tmp_path / "preview"
    written = cli(config, "digest", "preview", "--pending", "--out", str(out), "ann@example.org")
    assert written.exit_code == 0, written.output
    assert sorted(p.name for p in out.iterdir()) == [
        "ann@example.org.eml",
        "ann@example.org.html",
        "ann@example.org.txt",
    ]
    eml = message_from_bytes((out / "ann@example.org.eml").read_bytes(), policy=default)
    assert eml.get_body(("html",)).get_content() == (out / "ann@example.org.html").read_text()

    assert not smtp_server.messages and deliveries(ws, "ann@example.org") == []
    assert [s.email for s in send_due(ws, T0 + timedelta(days=1)).sent] == ["ann@example.org"]


def test_no_digest_leaves_without_an_unsubscribe_secret(
    config: Path, smtp_server: SmtpServer
) -> None:
    config.write_text(config.read_text().replace("secret:", "# secret:"))
    ws = workspace(config)
    subscribe_at(ws, "ann@example.org", T0, cadence="immediate")
    add_alert(ws, created_at=T0 + timedelta(minutes=1))
    now = (T0 + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S")

    refused = cli(config, "digest", "send", "--now", now)
    assert refused.exit_code == 1 and "no unsubscribe secret" in refused.output
    assert not smtp_server.messages

    sent = cli(config, "digest", "send", "--now", now, env={"ALLYWATCH_SECRET": "from-env"})
    assert sent.exit_code == 0 and len(smtp_server.messages) == 1


def test_a_broken_template_fails_the_digest_by_name_and_loses_nothing(
    config: Path, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    ws = workspace(config)
    subscribe_at(ws, "ann@example.org", T0, cadence="immediate")
    add_alert(ws, created_at=T0 + timedelta(minutes=1))
    broken = tmp_path / "templates"
    shutil.copytree(builtin_dir("templates"), broken)
    (broken / "digest.txt.j2").write_text("{{ no_such_value }}\n", encoding="utf-8")
    settings = replace(digest_settings(ws), template_dir=broken)

    mailer = open_mailer(ws.config)
    try:
        report = send_due_digests(ws.engine, settings, mailer, T0 + timedelta(minutes=2))
    finally:
        mailer.close()

    [(email, error)] = report.failed
    assert email == "ann@example.org"
    assert error.startswith("template: ") and "no_such_value" in error
    assert not report.sent and not smtp_server.messages
    # With the templates mended, the digest goes out after the backoff, once.
    later = send_due(ws, T0 + timedelta(hours=1))
    assert [s.email for s in later.sent] == ["ann@example.org"]
    assert len(smtp_server.messages) == 1
