"""Unsubscribing: the signed link in a digest works, from the command line and over
HTTP (RFC 8058 one-click included); a forged or altered one changes nothing."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from digestkit import SECRET, add_alert, cli, subscribe_at, token_for, workspace, write_config
from smtpserver import SmtpServer
from sqlalchemy import Engine

from allywatch.alerts.unsubscribe import make_token
from allywatch.alerts.unsubscribe_server import make_server
from allywatch.digests import send_due
from allywatch.store import reads
from allywatch.store.engine import reading

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    config = write_config(tmp_path, database=database_url)
    cli(config, "subscribers", "add", "ann@example.org")
    cli(config, "subscribers", "add", "bob@example.org")
    return config


@contextmanager
def serving(engine: Engine, port: int = 0) -> Iterator[str]:
    """The unsubscribe endpoint in a thread; yields its base URL."""
    httpd = make_server("127.0.0.1", port, engine, SECRET)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server(config: Path) -> Iterator[str]:
    with serving(workspace(config).engine) as url:
        yield url


def active(config: Path) -> dict[str, bool]:
    with reading(workspace(config).engine) as session:
        return {s.email: s.active for s in reads.list_subscribers(session)}


def request(url: str, data: bytes | None = None) -> tuple[int, str]:
    try:
        with urlopen(Request(url, data=data), timeout=10) as response:
            return response.status, response.read().decode()
    except HTTPError as exc:
        return exc.code, exc.read().decode()


def forgeries(token: str) -> list[str]:
    """Altered copies of a genuine token, and tokens signed with another secret."""
    sid, mac = token.split(".")
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    other_id = str(int(sid) % 2 + 1)
    return [
        f"{sid}.{flipped}",
        f"{other_id}.{mac}",
        make_token("not-the-secret", int(sid), "ann@example.org"),
        f"{sid}.",
        token + "x",
        "",
    ]


def test_the_command_honours_a_genuine_token(config: Path) -> None:
    result = cli(config, "unsubscribe", token_for(config, "ann@example.org"))
    assert result.exit_code == 0 and "unsubscribed ann@example.org" in result.output
    assert active(config) == {"ann@example.org": False, "bob@example.org": True}
    again = cli(config, "unsubscribe", token_for(config, "ann@example.org"))
    assert again.exit_code == 0 and "was unsubscribed already" in again.output


def test_the_command_refuses_forged_tokens(config: Path) -> None:
    for forged in forgeries(token_for(config, "ann@example.org")):
        result = cli(config, "unsubscribe", forged)
        assert result.exit_code != 0, forged
    assert active(config) == {"ann@example.org": True, "bob@example.org": True}


def test_tokens_need_a_secret(config: Path) -> None:
    config.write_text(config.read_text().replace(f"secret: {SECRET}\n", ""))
    result = cli(config, "unsubscribe", "1.AAAAAAAAAAAAAAAAAAAAAA")
    assert result.exit_code == 1 and "no unsubscribe secret" in result.output
    with_env = cli(
        config, "unsubscribe", make_token(SECRET, 1, "ann@example.org"),
        env={"ALLYWATCH_SECRET": SECRET},
    )  # fmt: skip
    assert with_env.exit_code == 0 and "unsubscribed ann@example.org" in with_env.output


def test_a_get_asks_first_and_the_button_unsubscribes(config: Path, server: str) -> None:
    url = f"{server}/unsubscribe?token={token_for(config, 'ann@example.org')}"

    status, page = request(url)
    assert status == 200 and "Stop sending allywatch digests to ann@example.org?" in page
    assert active(config)["ann@example.org"]  # a link scanner's GET changes nothing

    status, page = request(url, data=b"")  # the confirmation button posts to the same URL
    assert status == 200 and "ann@example.org will receive no more allywatch digests" in page
    assert active(config) == {"ann@example.org": False, "bob@example.org": True}


def test_one_click_post_from_a_mail_client(config: Path, server: str) -> None:
    url = f"{server}/unsubscribe?token={token_for(config, 'bob@example.org')}"
    status, _ = request(url, data=b"List-Unsubscribe=One-Click")
    assert status == 200
    assert active(config) == {"ann@example.org": True, "bob@example.org": False}


def test_the_endpoint_refuses_forged_tokens(config: Path, server: str) -> None:
    for forged in forgeries(token_for(config, "ann@example.org")):
        for data in (None, b"List-Unsubscribe=One-Click"):
            status, page = request(f"{server}/unsubscribe?token={forged}", data=data)
            assert status == 400, (forged, data)
    status, _ = request(f"{server}/elsewhere?token={token_for(config, 'ann@example.org')}", b"")
    assert status == 404
    assert active(config) == {"ann@example.org": True, "bob@example.org": True}


def test_the_link_in_a_sent_digest_works(tmp_path: Path, smtp_server: SmtpServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/allywatch"
    ws = workspace(write_config(tmp_path, smtp_port=smtp_server.port, base_url=base_url))
    subscribe_at(ws, "ann@example.org", T0, cadence="immediate")
    add_alert(ws, created_at=T0 + timedelta(minutes=1))
    send_due(ws, T0 + timedelta(minutes=2))
    message = smtp_server.messages[0]
    header = str(message["List-Unsubscribe"]).strip().strip("<>")
    html = message.get_body(("html",)).get_content()
    assert header.startswith(f"{base_url}/unsubscribe?token=")
    assert f'href="{header}"' in html

    with serving(ws.engine, port):
        asked, page = request(header)
        done, _ = request(header, data=b"List-Unsubscribe=One-Click")

    assert asked == 200 and "ann@example.org" in page and done == 200
    add_alert(ws, to_state="delivered", created_at=T0 + timedelta(minutes=3))
    assert not send_due(ws, T0 + timedelta(minutes=4)).sent
    assert len(smtp_server.messages) == 1
