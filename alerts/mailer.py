"""Delivering messages: over SMTP (plain, STARTTLS or implicit TLS), or into an
outbox folder as .eml files.

A mailer's `send` returns only once the message is accepted (by the SMTP
server, or safely on disk); anything else raises MailError, and the caller
keeps the digest pending.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

# smtplib and the email package are imported where a message is sent: a cycle with
# nothing to deliver still opens a mailer, and sends nothing through it.
if TYPE_CHECKING:
    import smtplib
    from email.message import EmailMessage


class MailError(Exception):
    """A message that was not accepted; the text says by whom and why."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    timeout: float = 30.0
    username: str | None = None
    password: str | None = None


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...

    def close(self) -> None: ...


class SmtpMailer:
    """One SMTP connection, opened on the first message and reused for the rest."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        import smtplib

        where = f"SMTP server {self.settings.host}:{self.settings.port}"
        try:
            smtp = self._connection()
            refused = smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise MailError(f"{where} refused the message: {exc.smtp_code} {_text(exc)}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop()
            codes = "; ".join(f"{a}: {c} {_decode(m)}" for a, (c, m) in exc.recipients.items())
            raise MailError(f"{where} refused the recipient: {codes}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise MailError(f"{where}: {exc or type(exc).__name__}") from exc
        if refused:
            raise MailError(f"{where} refused recipients: {', '.join(refused)}")

    def close(self) -> None:
        if self._smtp is not None:
            import smtplib

            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _connection(self) -> smtplib.SMTP:
        import smtplib
        import ssl

        if self._smtp is not None:
            try:
                if self._smtp.noop()[0] == 250:
                    return self._smtp
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        s = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.ssl:
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.starttls and not s.ssl:
                smtp.starttls(context=context)
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None


class OutboxMailer:
    """Writes each message to DIR/<time>-<message id>.eml instead of sending it.

    The file appears whole or not at all (written beside it, then renamed).
    """

    def __init__(self, folder: Path):
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        from email.policy import SMTP

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{_file_part(message['Message-ID'])}.eml"
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(message.as_bytes(policy=SMTP))
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self.folder / name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise MailError(f"outbox {self.folder}: {exc}") from exc

    def close(self) -> None:
        """Nothing to close: every message is on disk once `send` returns."""


def _file_part(message_id: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9.@-]+", "_", (message_id or "message").strip("<>"))[:100]


def _text(exc: smtplib.SMTPResponseException) -> str:
    return _decode(exc.smtp_error)


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
