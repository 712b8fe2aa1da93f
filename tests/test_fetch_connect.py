"""A server that never completes the TCP handshake cannot hold a fetch past its connect timeout.

The silent server is a real listening socket on 127.0.0.1 whose accept queue is
full and never drained: Linux then drops further SYNs, so a client's connect()
neither succeeds nor fails (as with a firewalled or vanished host), until the
client gives up.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator

import pytest
from feedserver import FeedServer, Reply

from allywatch.watchers.fetch import FetchRequest, fetch_all_sync
from allywatch.watchers.fetch_settings import FetchSettings

RSS = b"<rss version='2.0'><channel><title>Fine</title></channel></rss>"
SLACK = 2.0  # seconds allowed on top of a limit for scheduling on a busy machine


def _handshake_completes(sock: socket.socket, wait: float) -> bool:
    _, writable, _ = select.select([], [sock], [], wait)
    return bool(writable) and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 where connect() hangs: a listener with a full, never-accepted queue."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(16):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            fillers.append(filler)
            filler.connect_ex(("127.0.0.1", port))
            if not _handshake_completes(filler, 0.3):
                break  # the queue is full: this SYN and every later one go unanswered
        else:
            pytest.skip("this kernel completes every handshake; cannot build a silent server")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_the_silent_server_really_never_completes_a_handshake(silent_port: int) -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        with pytest.raises(TimeoutError):
            probe.connect(("127.0.0.1", silent_port))
    finally:
        probe.close()


def test_a_silent_host_fails_as_a_connect_timeout_and_the_batch_goes_on(
    silent_port: int, feed_server: FeedServer
) -> None:
    # The deadline is far off, so only the connect timeout can end the silent fetch in time.
    settings = FetchSettings(connect_timeout=1, read_timeout=5, deadline=30, per_host=8)
    good = [FetchRequest(f"good-{i}", feed_server.route(f"/{i}", Reply(body=RSS))) for i in "abc"]
    silent = FetchRequest("silent", f"http://127.0.0.1:{silent_port}/feed.xml")
    started = time.monotonic()
    results = {r.name: r for r in fetch_all_sync([good[0], silent, *good[1:]], settings)}
    wall = time.monotonic() - started

    hung = results["silent"]
    assert hung.status == "error"
    assert hung.error_kind == "timeout"
    assert hung.error == "no connection within 1s"
    assert hung.body is None
    assert settings.connect_timeout - 0.1 <= hung.elapsed <= settings.connect_timeout + SLACK
    assert wall <= settings.connect_timeout + SLACK
    for request in good:
        assert results[request.name].status == "ok"
        assert results[request.name].body == RSS
