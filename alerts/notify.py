"""Chat and webhook notifications through Apprise: what a message says, and sending it.

A subscriber whose address is an Apprise URL (`json://host/hook`, `tgram://...`)
gets its alerts as chat messages instead of an email digest; the config's
`notify:` URLs (the operator's channel) get every announced alert at once.
Which alerts go out, and the record that they did, is alerts/dispatch.py's
business, as for email; this module only renders a message and hands it to
Apprise.

Bodies come from templates/chat/: `alert.md.j2` (Markdown) for services that
take Markdown, `alert.txt.j2` (plain text) for the rest. Feed text is untrusted:
in Markdown every value a template prints is escaped (no markup, no links but
the http(s) ones the template builds from `safe_link`), and in both every piece
of feed text is folded to one line of printable characters.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from allywatch.alerts.addresses import OPERATOR_PREFIX, operator_address, redact
from allywatch.alerts.digest import SignalText, alert_changes, one_line

if TYPE_CHECKING:
    from markupsafe import Markup

    from allywatch.store.models import Alert

MARKDOWN_TEMPLATE = "chat/alert.md.j2"
TEXT_TEMPLATE = "chat/alert.txt.j2"
# The subscribers table keeps addresses in 320 characters (PostgreSQL enforces it).
URL_LIMIT = 320
TITLE_LIMIT = 250


def _apprise() -> ModuleType:
    """Apprise, imported on first use: it loads its many service plugins when imported,
    which commands that never notify (status, history) need not pay for."""
    import apprise

    return apprise


class NotifyError(Exception):
    """A message the service did not accept (the reason Apprise gave, when it gave one)."""


class NotifyUrlError(ValueError):
    """An address that is not an Apprise URL allywatch can use."""


@dataclass(frozen=True)
class ChatMessage:
    """A rendered notification: its title and body, and the alerts it carries."""

    recipient: str
    subject: str
    text: str
    markdown: bool
    message_id: str
    alert_ids: tuple[int, ...]
    quiet: bool = False


def check_url(text: str) -> str:
    """The URL as it will be stored, or NotifyUrlError saying what is wrong with it."""
    url = text.strip()
    if len(operator_address(url)) > URL_LIMIT:
        raise NotifyUrlError(
            f"Apprise URL is {len(url)} characters long; at most"
            f" {URL_LIMIT - len(OPERATOR_PREFIX)} fit (shorten it, e.g. with the service's"
            " own short form)"
        )
    if any(ch.isspace() for ch in url) or _apprise().Apprise.instantiate(url) is None:
        raise NotifyUrlError(
            f"{redact(url)!r} is not a URL Apprise knows"
            " (see https://github.com/caronc/apprise/wiki for the services and their URLs)"
        )
    return url


class AppriseSender:
    """Sends messages to Apprise URLs, one at a time."""

    def takes_markdown(self, url: str) -> bool:
        plugin = _apprise().Apprise.instantiate(url)
        formats = getattr(plugin, "notify_format", ())
        if not isinstance(formats, tuple | list):
            formats = (formats,)
        return _apprise().NotifyFormat.MARKDOWN in formats

    def send(self, url: str, message: ChatMessage) -> None:
        plugin = _apprise().Apprise.instantiate(url)
        if plugin is None:
            raise NotifyError(f"{redact(url)}: not a URL Apprise knows")
        with _apprise().LogCapture(level=logging.WARNING) as log:
            accepted = plugin.notify(
                body=message.text,
                title=message.subject,
                body_format=_apprise().NotifyFormat.MARKDOWN
                if message.markdown
                else _apprise().NotifyFormat.TEXT,
            )
            said = log.getvalue()
        if not accepted:
            reason = one_line(said)[-500:] or "the service did not accept the message"
            raise NotifyError(f"{redact(url)}: {reason}")


class ChatComposer:
    """Renders chat messages from the templates/chat/ templates."""

    def __init__(self, template_dir: Path, signals: Mapping[str, SignalText]):
        import jinja2  # only where messages are rendered: `status` and `alerts` never load it

        self.signals = signals
        self.envs = {
            markdown: jinja2.Environment(
                loader=jinja2.FileSystemLoader(str(template_dir)),
                undefined=jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                finalize=_markdown_text if markdown else _plain_text,
            )
            for markdown in (True, False)
        }
        self.envs[True].filters["md_link"] = _markdown_link

    def compose(
        self,
        *,
        subscriber_id: int,
        recipient: str,
        alerts: Sequence[Alert],
        markdown: bool,
        one_per_alert: bool,
        feed_health: str | None,
        timezone: str,
        now: datetime,
        quiet_since: datetime | None = None,
    ) -> list[ChatMessage]:
        """One message per alert (`one_per_alert`), else one for all of them; with no
        alerts, an "all quiet" note. A message's id depends only on its alerts."""
        zone = ZoneInfo(timezone)
        if not alerts:
            return [
                self._message(
                    subscriber_id, recipient, [], markdown, feed_health, zone, now, quiet_since
                )
            ]
        batches = [[a] for a in alerts] if one_per_alert else [list(alerts)]
        return [
            self._message(subscriber_id, recipient, batch, markdown, feed_health, zone, now, None)
            for batch in batches
        ]

    def _message(
        self,
        subscriber_id: int,
        recipient: str,
        alerts: list[Alert],
        markdown: bool,
        feed_health: str | None,
        zone: ZoneInfo,
        now: datetime,
        quiet_since: datetime | None,
    ) -> ChatMessage:
        changes = alert_changes(alerts, self.signals, zone)
        context: dict[str, Any] = {
            "changes": changes,
            "quiet": not alerts,
            "quiet_since": quiet_since.astimezone(zone).strftime("%Y-%m-%d")
            if quiet_since
            else None,
            "feed_health": feed_health,
        }
        template = MARKDOWN_TEMPLATE if markdown else TEXT_TEMPLATE
        text = self.envs[markdown].get_template(template).render(context).strip() + "\n"
        if alerts:
            key = "alerts:" + ",".join(str(a.id) for a in sorted(alerts, key=lambda a: a.id))
        else:
            key = f"quiet:{now.astimezone(zone).date().isoformat()}"
        digest = hashlib.sha256(f"{subscriber_id}:{key}".encode()).hexdigest()[:24]
        return ChatMessage(
            recipient=recipient,
            subject=_title(changes),
            text=text,
            markdown=markdown,
            message_id=f"chat.{subscriber_id}.{digest}",
            alert_ids=tuple(a.id for a in alerts),
            quiet=not alerts,
        )


def _day(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d")


def _title(changes: Sequence[Mapping[str, Any]]) -> str:
    if not changes:
        return "allywatch: all quiet"
    if len(changes) == 1:
        return one_line(f"allywatch: {changes[0]['headline']}")[:TITLE_LIMIT]
    return f"allywatch: {len(changes)} changes"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&\"'])")


def _plain_text(value: Any) -> str:
    """Every value the plain-text template prints: one line of printable characters."""
    return "" if value is None else one_line(str(value))


def _markdown_text(value: Any) -> str:
    """Every value the Markdown template prints: one line, every Markdown and HTML
    character escaped; only what `md_link` builds (Markup) is printed as it is."""
    # markupsafe (as Jinja2, which loads it too) only once a message is rendered: a cycle
    # with nothing to send builds an AppriseSender and renders nothing.
    from markupsafe import Markup

    if isinstance(value, Markup):
        return str(value)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _plain_text(value))


def _markdown_link(title: str, link: str | None) -> Markup:
    """`[title](link)` for an http(s) link (already checked by safe_link), else the title."""
    from markupsafe import Markup  # see _markdown_text

    text = _markdown_text(title)
    if not link:
        return Markup(text)
    return Markup(f"[{text}]({quote(link, safe=':/?#@!$&*+,;=%~.-_')})")
