"""A tiny HTTP endpoint for unsubscribe links (standard library only).

    GET  .../unsubscribe?token=T   a page with one button that confirms (POST)
    POST .../unsubscribe?token=T   unsubscribes; this is also the RFC 8058
                                   one-click request mail clients send
                                   (body "List-Unsubscribe=One-Click")

A GET does not unsubscribe by itself: mail scanners and link previewers fetch
links in messages without anyone clicking, and RFC 8058 asks senders to answer
a GET with a confirmation step for that reason. A forged or altered token gets
400 and changes nothing.

Whatever reaches it is untrusted: a malformed request gets a 4xx page and no
traceback, a connection idle for IDLE_TIMEOUT seconds is closed, a client that
hangs up mid-reply is let go quietly, and the listen backlog holds a burst of
simultaneous requests (one thread each) instead of resetting them.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Engine

from allywatch.alerts.unsubscribe import TokenError, honour, verify
from allywatch.store.engine import reading, writing

MAX_BODY = 8192
IDLE_TIMEOUT = 30  # seconds a connection may stay silent (reading a request or its body)
LISTEN_BACKLOG = 128


class _Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up or went silent is no error of ours: nothing to print."""


def make_server(
    host: str,
    port: int,
    engine: Engine,
    secret: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    idle_timeout: float = IDLE_TIMEOUT,
) -> ThreadingHTTPServer:
    """A server (not yet serving) for unsubscribe requests; call serve_forever() on it."""

    class Handler(_Handler):
        pass

    Handler.engine, Handler.secret, Handler.clock = engine, secret, staticmethod(clock)
    Handler.timeout = idle_timeout
    return _Server((host, port), Handler)


class _Handler(BaseHTTPRequestHandler):
    engine: Engine
    secret: str
    clock: Callable[[], datetime]
    server_version = "allywatch-unsubscribe"
    sys_version = ""
    # The socket timeout: a silent client cannot hold its thread for ever.
    timeout: ClassVar[float | None] = IDLE_TIMEOUT

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError):  # hung up or went silent
            super().handle()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        token = self._route()
        if token is None:
            return
        try:
            with reading(self.engine) as session:
                subscriber = verify(session, self.secret, token)
                email, active = subscriber.email, subscriber.active
        except TokenError:
            self._invalid()
            return
        if not active:
            self._page(200, "Unsubscribed", f"{email} receives no allywatch digests.")
            return
        # No action: the form posts back to this page's own URL, whatever prefix a proxy adds.
        form = (
            '<form method="post">'
            f'<input type="hidden" name="token" value="{html.escape(token, quote=True)}">'
            '<button type="submit" style="font-size:16px;padding:8px 16px">Unsubscribe</button>'
            "</form>"
        )
        self._page(200, "Unsubscribe?", f"Stop sending allywatch digests to {email}?", form)

    def do_POST(self) -> None:  # noqa: N802
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._page(400, "Bad request", "That request's Content-Length is not a number.")
            return
        if length > MAX_BODY or length < 0:
            self._page(413, "Too large", "That request is too large.")
            return
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        form_token = parse_qs(body).get("token", [None])[0]
        token = self._route(form_token)
        if token is None:
            return
        try:
            with writing(self.engine) as session:
                result = honour(session, self.secret, token, self.clock())
        except TokenError:
            self._invalid()
            return
        note = " (it had unsubscribed already)" if result.already else ""
        self._page(
            200, "Unsubscribed", f"{result.email} will receive no more allywatch digests{note}."
        )

    def _route(self, fallback: str | None = None) -> str | None:
        """The token of a request to .../unsubscribe, or None after answering 404/400."""
        parts = urlsplit(self.path)
        if parts.path.rstrip("/").rsplit("/", 1)[-1] != "unsubscribe":
            self._page(404, "Not found", "There is nothing here.")
            return None
        token = parse_qs(parts.query).get("token", [fallback])[0]
        if not token:
            self._page(400, "No token", "This link has no unsubscribe token.")
            return None
        return token

    def _invalid(self) -> None:
        self._page(
            400, "Invalid link", "This unsubscribe link is not valid (it may have been altered)."
        )

    def _page(self, status: int, title: str, text: str, extra: str = "") -> None:
        body = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title></head>"
            "<body style='font-family:Arial,sans-serif;max-width:560px;margin:40px auto'>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{extra}</body></html>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet: request lines would put tokens into logs."""
