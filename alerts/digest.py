"""Composing a digest: the alerts a subscriber has not been sent, as an email.

The HTML and plain-text parts come from Jinja2 templates (digest.html.j2 and
digest.txt.j2 in the template folder the caller names). Feed text is untrusted:
the HTML template autoescapes everything, evidence links are kept only when
they are http(s), and every piece of text that reaches a header is folded to
one line of printable characters, so nothing a feed says can add a header,
markup or script.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from allywatch.store.models import Alert


SUBJECT_LIMIT = 160
EVIDENCE_LIMIT = 10
HTML_TEMPLATE = "digest.html.j2"
TEXT_TEMPLATE = "digest.txt.j2"


@dataclass(frozen=True)
class SignalText:
    """What the digest says about a signal: a short label for the subject, and its question."""

    label: str
    question: str


@dataclass(frozen=True)
class FeedProblem:
    name: str
    failing_since: datetime | None


@dataclass(frozen=True)
class Unsubscribe:
    """How a recipient leaves: the signed token, and the web link when there is a base URL."""

    token: str
    url: str | None


@dataclass(frozen=True)
class Digest:
    """A rendered digest, ready to become an email (or a preview)."""

    recipient: str
    subject: str
    text: str
    html: str
    message_id: str
    alert_ids: tuple[int, ...]
    unsubscribe: Unsubscribe
    quiet: bool = False


class Composer:
    """Renders digests from one template folder."""

    def __init__(self, template_dir: Path, signals: Mapping[str, SignalText], sender: str):
        import jinja2  # only where digests are rendered: `status` and `alerts` never load it

        self.signals = signals
        self.sender = sender
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(template_dir)),
            autoescape=lambda name: bool(name and name.endswith(".html.j2")),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def compose(
        self,
        *,
        subscriber_id: int,
        recipient: str,
        alerts: Sequence[Alert],
        feed_problems: Sequence[FeedProblem],
        feeds_total: int,
        unsubscribe: Unsubscribe,
        timezone: str,
        now: datetime,
        quiet_since: datetime | None = None,
    ) -> Digest:
        """A digest of `alerts`, or, when there are none, an "all quiet" note.

        The Message-ID depends only on the subscriber and the alerts it
        carries (or the day of a quiet note), so a digest that is retried
        keeps its Message-ID and a receiving client can drop a duplicate.
        """
        zone = ZoneInfo(timezone)
        quiet = not alerts
        groups = self._groups(alerts, zone)
        health = feed_health(feed_problems, feeds_total, zone)
        context: dict[str, Any] = {
            "groups": groups,
            "quiet": quiet,
            "quiet_since": _local(quiet_since, zone) if quiet_since else None,
            "feed_health": health,
            "unsubscribe_url": unsubscribe.url,
            "unsubscribe_token": unsubscribe.token,
            "unsubscribe_address": _address(self.sender),
            "recipient": recipient,
            "generated": _local(now, zone),
            "count": len(alerts),
        }
        if quiet:
            key = f"quiet:{now.astimezone(zone).date().isoformat()}"
        else:
            key = "alerts:" + ",".join(str(a.id) for a in sorted(alerts, key=lambda a: a.id))
        return Digest(
            recipient=recipient,
            subject=self._subject(groups) if not quiet else "All quiet: no watched signal changed",
            text=self.env.get_template(TEXT_TEMPLATE).render(context),
            html=self.env.get_template(HTML_TEMPLATE).render(context),
            message_id=_message_id(subscriber_id, key, self.sender),
            alert_ids=tuple(a.id for a in alerts),
            unsubscribe=unsubscribe,
            quiet=quiet,
        )

    def _groups(self, alerts: Sequence[Alert], zone: ZoneInfo) -> list[dict[str, Any]]:
        """Alerts grouped by signal, in order of each signal's first alert."""
        groups: dict[str, dict[str, Any]] = {}
        for change in alert_changes(alerts, self.signals, zone):
            group = groups.setdefault(
                change["signal"],
                {
                    "id": change["signal"],
                    "label": change["label"],
                    "question": change["question"],
                    "changes": [],
                },
            )
            group["changes"].append(change)
        return list(groups.values())

    @staticmethod
    def _subject(groups: Sequence[Mapping[str, Any]]) -> str:
        """ "CSTO: Kazakhstan absent; Su-35/Iran: delivery reported", cut to a sane length."""
        parts = []
        for group in groups:
            latest: dict[str, str] = {}
            for change in group["changes"]:
                latest.pop(change["entity"], None)
                latest[change["entity"]] = change["to_words"]
            phrases = [one_line(f"{entity} {words}") for entity, words in latest.items()]
            parts.append(f"{group['label']}: {', '.join(phrases)}")
        subject = ""
        for index, part in enumerate(parts):
            candidate = f"{subject}; {part}" if subject else part
            rest = len(parts) - index - 1
            if (
                len(candidate) + (len(f" (+{rest} more)") if rest else 0) > SUBJECT_LIMIT
                and subject
            ):
                return f"{subject} (+{len(parts) - index} more)"
            subject = candidate
        return subject[:SUBJECT_LIMIT]


def alert_changes(
    alerts: Sequence[Alert], signals: Mapping[str, SignalText], zone: ZoneInfo
) -> list[dict[str, Any]]:
    """Each alert as the digest and chat templates show it, feed text folded to one line
    and evidence links kept only when they are http(s). An alert about a feed (no
    signal) has its message as its headline and no states."""
    changes = []
    for alert in alerts:
        signal_id = alert.signal or ""
        text = signals.get(signal_id, SignalText(signal_id, ""))
        evidence = [_evidence(item, zone) for item in (alert.evidence or [])]
        entity = alert.entity or ""
        to_words = _words(alert.to_state or "")
        label = one_line(text.label) or signal_id
        changes.append(
            {
                "signal": signal_id,
                "label": label,
                "question": text.question,
                "headline": (
                    f"{label}: {entity + ' ' if entity else ''}{to_words}"
                    if signal_id
                    else one_line(alert.message)
                ),
                "entity": entity,
                "from_state": alert.from_state or "",
                "to_state": alert.to_state or "",
                "to_words": to_words,
                "at": _local(alert.at, zone),
                "severity": alert.severity,
                "evidence": evidence[:EVIDENCE_LIMIT],
                "more_evidence": max(0, len(evidence) - EVIDENCE_LIMIT),
            }
        )
    return changes


def build_message(digest: Digest, sender: str, now: datetime) -> EmailMessage:
    """The digest as a multipart/alternative email with unsubscribe headers."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = digest.recipient
    message["Subject"] = one_line(digest.subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = digest.message_id
    message["Auto-Submitted"] = "auto-generated"
    if digest.unsubscribe.url:
        message["List-Unsubscribe"] = f"<{digest.unsubscribe.url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    else:
        mailto = (
            f"mailto:{_address(sender)}?subject={quote('unsubscribe ' + digest.unsubscribe.token)}"
        )
        message["List-Unsubscribe"] = f"<{mailto}>"
    message.set_content(digest.text)
    message.add_alternative(digest.html, subtype="html")
    return message


def feed_health(problems: Sequence[FeedProblem], total: int, zone: ZoneInfo) -> str | None:
    """One line about failing feeds, or None when every feed is healthy."""
    if not problems:
        return None
    names = []
    for problem in problems:
        since = (
            f" since {problem.failing_since.astimezone(zone).strftime('%Y-%m-%d')}"
            if problem.failing_since
            else ""
        )
        names.append(f"{one_line(problem.name)}{since}")
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"{len(problems)} of {total} feeds failing: {shown}"


_INVISIBLE = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def one_line(text: str) -> str:
    """Text safe for a header or a subject: control and format characters become spaces,
    runs of whitespace one space."""
    cleaned = "".join(" " if unicodedata.category(ch) in _INVISIBLE else ch for ch in text)
    return " ".join(cleaned.split())


def _words(state: str) -> str:
    return state.replace("-", " ").replace("_", " ")


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _evidence(item: Any, zone: ZoneInfo) -> dict[str, str | None]:
    if not isinstance(item, Mapping):
        item = {}
    published = str(item.get("published") or "")
    try:
        date = datetime.fromisoformat(published).astimezone(zone).strftime("%Y-%m-%d")
    except ValueError:
        date = published[:10]
    title = one_line(str(item.get("title") or "")) or "(untitled)"
    return {
        "outlet": one_line(str(item.get("outlet") or "")) or "unknown outlet",
        "date": date,
        "title": title,
        "link": safe_link(str(item.get("link") or "")),
    }


def safe_link(link: str) -> str | None:
    """The link if it is a plain http(s) URL, else None (no javascript:, data:, ...)."""
    link = link.strip()
    if any(unicodedata.category(ch) in _INVISIBLE or ch.isspace() for ch in link):
        return None
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    return link if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _address(sender: str) -> str:
    return parseaddr(sender)[1] or sender


_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,250}[A-Za-z0-9])?$")


def _message_id(subscriber_id: int, key: str, sender: str) -> str:
    domain = _address(sender).rpartition("@")[2]
    if not _DOMAIN.match(domain):
        domain = "allywatch.invalid"
    digest = hashlib.sha256(f"{subscriber_id}:{key}".encode()).hexdigest()[:24]
    return f"<digest.{subscriber_id}.{digest}@{domain}>"
