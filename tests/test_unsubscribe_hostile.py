"""The unsubscribe endpoint faces the internet: malformed requests, clients that hang
up or go silent, and bursts of connections get an answer or are let go, never a
traceback or a stuck thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from digestkit import SECRET, cli, workspace, write_config

from allywatch.alerts.unsubscribe_server import make_server


@pytest.fixture
def endpoint(tmp_path: Path, database_url: str) -> Iterator[tuple[str, int]]:
    config = write_config(tmp_path, database=database_url)
    cli(config, "subscribers", "add", "ann@example.org")
    httpd = make_server("127.0.0.1", 0, workspace(config).engine, SECRET, idle_timeout=1.0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield "127.0.0.1", httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def exchange(address: tuple[str, int], raw: bytes) -> bytes:
    """Send `raw` as it is and read the whole reply."""
    with socket.create_connection(address, timeout=10) as conn:
        conn.sendall(raw)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    return reply


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def test_a_non_numeric_content_length_is_a_bad_request(
    endpoint: tuple[str, int], capfd: pytest.CaptureFixture[str]
) -> None:
    reply = exchange(
        endpoint,
        b"POST /unsubscribe?token=1.x HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert status_of(reply) == 400
    assert b"Content-Length" in reply
    assert "Traceback" not in capfd.readouterr().err


def test_a_client_hanging_up_mid_request_leaves_no_traceback_and_the_server_serving(
    endpoint: tuple[str, int], capfd: pytest.CaptureFixture[str]
) -> None:
    for _ in range(5):
        with socket.create_connection(endpoint, timeout=10) as conn:
            conn.sendall(b"POST /unsubscribe HTTP/1.1\r\nContent-Length: 500\r\n\r\nto")
            conn.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    reply = exchange(endpoint, b"GET /unsubscribe HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert status_of(reply) == 400  # no token: the server still answers
    time.sleep(0.2)
    assert "Traceback" not in capfd.readouterr().err


def test_an_idle_connection_is_closed_after_the_idle_timeout(endpoint: tuple[str, int]) -> None:
    with socket.create_connection(endpoint, timeout=10) as conn:
        started = time.monotonic()
        assert conn.recv(1024) == b""  # the server closed it without a word
        assert time.monotonic() - started < 5


def test_a_burst_of_requests_behind_idle_connections_is_served(
    endpoint: tuple[str, int],
) -> None:
    idle = [socket.create_connection(endpoint, timeout=10) for _ in range(50)]
    try:
        request = b"GET /unsubscribe?token=1.forged HTTP/1.1\r\nConnection: close\r\n\r\n"
        with ThreadPoolExecutor(max_workers=64) as pool:
            replies = list(pool.map(lambda _: exchange(endpoint, request), range(64)))
    finally:
        for conn in idle:
            conn.close()
    assert [status_of(r) for r in replies] == [400] * 64  # every one answered, none reset
