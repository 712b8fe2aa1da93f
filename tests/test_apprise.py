"""Notifications through Apprise, against a receiver on 127.0.0.1: an Apprise URL as a
subscriber, the config's `notify:` URLs, each alert delivered once per target after
any number of runs, retries with backoff, and feed text kept harmless."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from digestkit import SIGNAL, add_alert, cli, workspace, write_config

from allywatch.digests import send_due
from allywatch.store import reads
from allywatch.store.engine import reading

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class Receiver:
    """An HTTP server keeping every message it accepts; it answers the statuses in
    `fail_with` first (one request each), then 200."""

    def __init__(self) -> None:
        self.accepted: list[dict] = []
        self.refused = 0
        self.fail_with: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.fail_with:
                    receiver.refused += 1
                    self.send_response(receiver.fail_with.pop(0))
                    self.end_headers()
                    return
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    receiver.accepted.append(json.loads(body))
                else:
                    form = parse_qs(body.decode())
                    receiver.accepted.append({k: v[0] for k, v in form.items()})
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, scheme: str, path: str = "hook") -> str:
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}/{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


def config_with(tmp_path: Path, database_url: str, extra: str = "") -> Path:
    return write_config(tmp_path, database=database_url, extra=extra)


def test_an_apprise_subscriber_gets_each_alert_once(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    config = config_with(tmp_path, database_url)
    url = receiver.url("json")
    added = cli(config, "subscribers", "add", url, "--cadence", "immediate", "--signals", SIGNAL)
    assert added.exit_code == 0, added.output
    ws = workspace(config)
    with reading(ws.engine) as session:
        created = reads.list_subscribers(session)[0].created_at
    add_alert(ws, to_state="deal", created_at=created + timedelta(seconds=1))
    add_alert(
        ws,
        to_state="delivery-reported",
        at=datetime(2026, 3, 2, 11, tzinfo=UTC),
        created_at=created + timedelta(seconds=1),
    )
    add_alert(ws, signal="power-of-siberia-2", to_state="agreement", created_at=created)
    for run in range(3):
        report = send_due(ws, NOW + timedelta(minutes=run))
        assert not report.failed
    assert len(receiver.accepted) == 2  # one message per alert; the other signal is filtered out
    bodies = " ".join(m["message"] for m in receiver.accepted)
    assert "deal" in bodies and "delivery" in bodies
    assert all(m["title"].startswith("allywatch:") for m in receiver.accepted)


def test_a_refused_message_is_retried_with_backoff_and_sent_once(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    config = config_with(tmp_path, database_url, f"notify: ['{receiver.url('form')}']\n")
    ws = workspace(config)
    send_due(ws, NOW)  # the operator's channel is kept as a subscriber from now on
    add_alert(ws, created_at=NOW + timedelta(seconds=1))
    receiver.fail_with = [500]
    first = send_due(ws, NOW + timedelta(minutes=1))
    assert len(first.failed) == 1 and receiver.accepted == []
    status = cli(config, "status")
    assert "1 failing" in status.output
    # Too early: the backoff holds the retry back.
    send_due(ws, NOW + timedelta(minutes=2))
    assert receiver.refused == 1 and receiver.accepted == []
    later = send_due(ws, NOW + timedelta(minutes=10))
    assert not later.failed
    for minutes in (20, 30):
        send_due(ws, NOW + timedelta(minutes=minutes))
    assert len(receiver.accepted) == 1
    assert "delivery reported" in receiver.accepted[0]["title"]


def test_the_operator_channel_also_gets_feed_alerts(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    config = config_with(tmp_path, database_url, f"notify: ['{receiver.url('json')}']\n")
    ws = workspace(config)
    send_due(ws, NOW)
    add_alert(ws, signal=None, to_state=None, from_state=None, created_at=NOW, evidence=[])
    send_due(ws, NOW + timedelta(minutes=1))
    assert len(receiver.accepted) == 1


def test_hostile_feed_text_stays_text_in_markdown(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    config = config_with(tmp_path, database_url)
    url = receiver.url("json")
    cli(config, "subscribers", "add", url, "--cadence", "immediate")
    ws = workspace(config)
    hostile = [
        {
            "link": "javascript:alert(1)",
            "title": "<script>alert(1)</script> [click](javascript:alert(2)) \u202eevil",
            "outlet": "Bad *Outlet*",
            "published": NOW.isoformat(),
        }
    ]
    with reading(ws.engine) as session:
        created = reads.list_subscribers(session)[0].created_at
    add_alert(ws, evidence=hostile, created_at=created + timedelta(seconds=1))
    send_due(ws, created + timedelta(seconds=2))
    [message] = receiver.accepted
    body = message["message"]
    assert "<script>" not in body and "](javascript" not in body
    assert "\\<script\\>" in body and "\u202e" not in body


def test_bad_and_long_urls_are_refused(tmp_path: Path, database_url: str) -> None:
    config = config_with(tmp_path, database_url)
    unknown = cli(config, "subscribers", "add", "nosuchservice://x/y")
    assert unknown.exit_code == 1 and "not a URL Apprise knows" in unknown.output
    long = cli(config, "subscribers", "add", "json://127.0.0.1/" + "a" * 400)
    assert long.exit_code == 1 and "characters long" in long.output
    bad = write_config(tmp_path, database=database_url, extra="notify: ['nosuchservice://x']\n")
    assert cli(bad, "status").exit_code == 1


def test_list_hides_secrets_in_urls(tmp_path: Path, database_url: str) -> None:
    config = config_with(tmp_path, database_url)
    url = "json://user:hunter2secret@127.0.0.1:9/hook"
    assert cli(config, "subscribers", "add", url).exit_code == 0
    listing = cli(config, "subscribers", "list")
    assert "hunter2secret" not in listing.output and "json://" in listing.output
    assert cli(config, "subscribers", "remove", url).exit_code == 0
