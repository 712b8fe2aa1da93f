"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), with ways to misbehave.

    def test_x(smtp_server):  # the fixture (tests/conftest.py) starts and stops one
        ...send to smtp_server.host, smtp_server.port...
        assert smtp_server.messages[0]["Subject"] == ...

`messages` holds what the server accepted (answered 250 to), parsed as
email.message.EmailMessage; `envelopes` the matching (mail_from, rcpt_tos).
Misbehaviour, settable at any time:

- `fail_after = n`: accept n messages, then answer `fail_reply` (451) to each DATA;
- `drop_after = n`: accept n messages, then drop the connection during DATA;
- `hang_after = n`: accept n messages, then never answer DATA (until stop());

Constructor options: `require_auth=(user, password)` refuses mail until the
client logs in; `tls=(cert, key)` offers STARTTLS and refuses mail without it,
or, with `implicit_tls=True`, speaks TLS from the first byte (SMTPS).
`self_signed(folder)` makes such a pair for 127.0.0.1 (clients trust it through
SSL_CERT_FILE).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class _Handler:
    def __init__(self, owner: SmtpServer):
        self.owner = owner

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        owner = self.owner
        with owner.lock:
            count = len(owner.messages)
            if owner.hang_after is not None and count >= owner.hang_after:
                hang = True
            else:
                hang = False
                if owner.drop_after is not None and count >= owner.drop_after:
                    server.transport.close()
                    return "421 4.3.2 going away"
                if owner.fail_after is not None and count >= owner.fail_after:
                    owner.refused += 1
                    return owner.fail_reply
                owner.messages.append(message_from_bytes(envelope.content, policy=default))
                owner.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if hang:
            await asyncio.Event().wait()
        return "250 2.0.0 OK"


class SmtpServer:
    """An aiosmtpd server in a background thread, on a free port of 127.0.0.1."""

    fail_reply = "451 4.3.0 Temporary failure, try again later"

    def __init__(
        self,
        require_auth: tuple[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
        implicit_tls: bool = False,
    ):
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.lock = threading.Lock()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refused = 0
        self.fail_after: int | None = None
        self.drop_after: int | None = None
        self.hang_after: int | None = None
        self.logins: list[str] = []
        kwargs: dict = {}
        if require_auth is not None:
            kwargs: dict = {
                "authenticator": self._authenticator(require_auth),
                "auth_required": True,
                "auth_require_tls": False,
            }
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            if implicit_tls:
                kwargs["ssl_context"] = context
            else:
                kwargs.update(tls_context=context, require_starttls=True)
        self.controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def by_recipient(self) -> dict[str, list[EmailMessage]]:
        out: dict[str, list[EmailMessage]] = {}
        for message in self.messages:
            out.setdefault(str(message["To"]), []).append(message)
        return out

    def _authenticator(self, expected: tuple[str, str]):
        def check(server, session, envelope, mechanism, auth_data) -> AuthResult:
            if isinstance(auth_data, LoginPassword):
                user = auth_data.login.decode()
                if (user, auth_data.password.decode()) == expected:
                    self.logins.append(user)
                    return AuthResult(success=True)
            return AuthResult(success=False, handled=False)

        return check


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, made with the openssl command."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
