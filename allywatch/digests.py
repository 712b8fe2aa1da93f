"""Digests from a workspace: the config and signals turned into the plain values
the alerts package needs, and the mailer the config asks for.

The SMTP login comes only from ALLYWATCH_SMTP_USER / ALLYWATCH_SMTP_PASSWORD,
never from the config file; the unsubscribe secret as config.unsubscribe_secret says.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from datetime import datetime

from allywatch.alerts.digest import SignalText
from allywatch.alerts.digest_report import DigestReport
from allywatch.alerts.dispatch import DigestSettings, send_due_digests
from allywatch.alerts.mailer import Mailer, OutboxMailer, SmtpMailer, SmtpSettings
from allywatch.config import Config, unsubscribe_secret
from allywatch.resources import builtin_dir
from allywatch.workspace import Workspace

SMTP_USER_ENV = "ALLYWATCH_SMTP_USER"
SMTP_PASSWORD_ENV = "ALLYWATCH_SMTP_PASSWORD"


def signal_texts(workspace: Workspace) -> dict[str, SignalText]:
    """How alerts name each signal: its label and its question (from the outlines, so
    that sending digests never needs the signal files loaded)."""
    return {s.id: SignalText(label=s.label, question=s.question) for s in workspace.outlines}


def digest_settings(workspace: Workspace) -> DigestSettings:
    config = workspace.config
    return DigestSettings(
        template_dir=builtin_dir("templates"),
        signals=signal_texts(workspace),
        sender=config.smtp.sender,
        secret=unsubscribe_secret(config),
        base_url=config.base_url,
        feeds=[s.name for s in config.sources],
        notify=config.notify,
    )


def open_mailer(config: Config) -> Mailer:
    """The outbox folder when the config names one, else the SMTP server."""
    if config.outbox is not None:
        return OutboxMailer(config.outbox)
    smtp = config.smtp
    return SmtpMailer(
        SmtpSettings(
            host=smtp.host,
            port=smtp.port,
            starttls=smtp.starttls,
            ssl=smtp.ssl,
            timeout=smtp.timeout,
            username=os.environ.get(SMTP_USER_ENV) or None,
            password=os.environ.get(SMTP_PASSWORD_ENV) or None,
        )
    )


def send_due(
    workspace: Workspace,
    now: datetime,
    *,
    emails: Collection[str] | None = None,
    ignore_schedule: bool = False,
) -> DigestReport:
    """Send the digests due at `now` as the workspace's config says."""
    mailer = open_mailer(workspace.config)
    try:
        return send_due_digests(
            workspace.engine,
            digest_settings(workspace),
            mailer,
            now,
            emails=emails,
            ignore_schedule=ignore_schedule,
        )
    finally:
        mailer.close()
