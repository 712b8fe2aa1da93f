"""A real HTTP server on a loopback address that misbehaves on request.

Routes map a path to a `Reply` (or to a function of the request returning one).
A reply can wait before answering, drip its body a byte at a time, stream a
body of any size, fail with any status, redirect, answer conditional requests
with 304, or send any bytes at all. Every request's headers are recorded, so
tests can check what the client sent.

    with FeedServer() as server:
        server.route("/feed.xml", Reply(body=rss, etag='"v1"'))
        url = server.url("/feed.xml")

Tests get one per test from the `feed_server` fixture (tests/conftest.py);
benchmarks use the class directly.
"""

from __future__ import annotations

import sys
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    """How to answer one request.

    `stream` (a function returning an iterable of chunks) replaces `body` for
    bodies too big to hold; `length` is then the Content-Length to declare
    (None: no Content-Length, the body ends when the connection closes).
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drip: float | None = None
    stream: Callable[[], Iterable[bytes]] | None = None
    length: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    raw: bytes | None = None  # sent as is instead of an HTTP response


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    path: str
    headers: dict[str, str]


Route = Reply | Callable[[Seen], Reply]


def zeros(total: int, chunk: int = 1 << 16) -> Callable[[], Iterator[bytes]]:
    """A stream of `total` bytes (ASCII "0"), generated on the fly."""

    def generate() -> Iterator[bytes]:
        block = b"0" * chunk
        left = total
        while left > 0:
            yield block[: min(chunk, left)]
            left -= chunk

    return generate


def gzip_bomb(inflated: int) -> bytes:
    """A small gzip body that inflates to `inflated` bytes (a whole number of MiB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"\0" * (1 << 20)
    parts = [compressor.compress(block) for _ in range(inflated // len(block))]
    parts.append(compressor.flush())
    return b"".join(parts)


class FeedServer:
    """A threaded HTTP/1.1 server on `host` (a loopback address) and a free port."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._routes: dict[str, Route] = {}
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._in_flight = 0
        self.max_in_flight = 0  # the most requests answered at the same time
        self._server = _Server((host, 0), _handler_for(self))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def route(self, path: str, reply: Route) -> str:
        """Answer requests for `path` with `reply`; returns the path's URL."""
        with self._lock:
            self._routes[path] = reply
        return self.url(path)

    def requests_to(self, path: str) -> list[dict[str, str]]:
        """Headers (lower-case names) of every request for `path`, in order."""
        with self._lock:
            return [seen.headers for seen in self._seen if seen.path == path]

    def _reply_for(self, seen: Seen) -> Reply:
        with self._lock:
            self._seen.append(seen)
            route = self._routes.get(seen.path)
        if route is None:
            return Reply(status=404, body=b"no such feed")
        return route(seen) if callable(route) else route

    def _count(self, step: int) -> None:
        with self._lock:
            self._in_flight += step
            self.max_in_flight = max(self.max_in_flight, self._in_flight)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that give up mid-answer (as the fetcher is meant to) are not errors.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(feeds: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            seen = Seen(urlsplit(self.path).path, {k.lower(): v for k, v in self.headers.items()})
            reply = feeds._reply_for(seen)
            feeds._count(+1)
            try:
                self._answer(reply, seen)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            finally:
                feeds._count(-1)

        def _answer(self, reply: Reply, seen: Seen) -> None:
            if reply.delay and feeds._stopping.wait(reply.delay):
                return
            if reply.raw is not None:
                self.wfile.write(reply.raw)
                self.close_connection = True
                return
            status, body, stream = reply.status, reply.body, reply.stream
            if _not_modified(reply, seen.headers):
                status, body, stream = 304, b"", None
            self.send_response(status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.etag:
                self.send_header("ETag", reply.etag)
            if reply.last_modified:
                self.send_header("Last-Modified", reply.last_modified)
            length = reply.length if stream is not None else len(body)
            if length is not None:
                if status != 304:
                    self.send_header("Content-Length", str(length))
            else:  # the body ends when the connection closes
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if status == 304:
                return
            chunks: Iterable[bytes] = stream() if stream is not None else [body]
            for chunk in chunks:
                if feeds._stopping.is_set():
                    return
                if reply.drip:
                    for i in range(len(chunk)):
                        if feeds._stopping.wait(reply.drip):
                            return
                        self.wfile.write(chunk[i : i + 1])
                        self.wfile.flush()
                else:
                    self.wfile.write(chunk)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Handler


def _not_modified(reply: Reply, headers: dict[str, str]) -> bool:
    if reply.etag and reply.etag in headers.get("if-none-match", ""):
        return True
    return bool(reply.last_modified) and headers.get("if-modified-since") == reply.last_modified
