"""The announced alerts as an Atom feed (RFC 4287): `alerts.xml` in the report folder,
and `allywatch alerts --format atom`.

Each entry's id is derived from the alert's key, which names the change itself
(signal, entity, time, state), so the id stays the same however often the feed
is written, and in a copy of the database. Feed text is untrusted: the XML
writer escapes it, characters XML cannot carry are dropped, titles are folded
to one line, and only http(s) evidence links become links.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from allywatch.alerts.digest import SignalText, one_line, safe_link

if TYPE_CHECKING:
    from allywatch.store.reads import AlertRecord

ATOM = "http://www.w3.org/2005/Atom"
FEED_ID = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "allywatch:alerts"))
TITLE_LIMIT = 300

# Characters XML 1.0 cannot hold at all.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def entry_id(alert: AlertRecord) -> str:
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"allywatch:alert:{alert.key}"))


def alerts_feed(
    alerts: Sequence[AlertRecord],
    signals: Mapping[str, SignalText],
    now: datetime,
    *,
    page_of: Mapping[str, str] | None = None,
) -> bytes:
    """The feed, newest alert first. `page_of` maps a signal id to its report page
    (relative to the feed), which becomes each entry's link."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "title", "allywatch alerts")
    _text(feed, "id", FEED_ID)
    newest = max((a.created_at for a in alerts), default=now)
    _text(feed, "updated", _stamp(newest))
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "allywatch")
    _text(feed, "generator", "allywatch")
    for alert in sorted(alerts, key=lambda a: (a.created_at, a.id), reverse=True):
        feed.append(_entry(alert, signals, page_of or {}))
    ET.indent(feed)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _entry(
    alert: AlertRecord, signals: Mapping[str, SignalText], page_of: Mapping[str, str]
) -> ET.Element:
    entry = ET.Element(f"{{{ATOM}}}entry")
    signal = signals.get(alert.signal or "")
    _text(entry, "id", entry_id(alert))
    _text(entry, "title", f"[{alert.severity}] {one_line(_clean(alert.message))}"[:TITLE_LIMIT])
    _text(entry, "updated", _stamp(alert.created_at))
    _text(entry, "published", _stamp(alert.created_at))
    category = ET.SubElement(entry, f"{{{ATOM}}}category")
    category.set("term", alert.severity)
    page = page_of.get(alert.signal or "")
    if page:
        link = ET.SubElement(entry, f"{{{ATOM}}}link")
        link.set("rel", "alternate")
        link.set("href", page)
    lines = []
    if signal is not None:
        lines.append(signal.question)
    if alert.from_state is not None:
        entity = f"{alert.entity}: " if alert.entity else ""
        lines.append(f"{entity}{alert.from_state} -> {alert.to_state}, {_stamp(alert.at)}")
    for item in alert.evidence or []:
        if not isinstance(item, Mapping):
            continue
        href = safe_link(str(item.get("link") or ""))
        title = one_line(str(item.get("title") or "")) or "(untitled)"
        marks = "".join(
            f" [{mark}]"
            for mark, on in (
                ("against", item.get("polarity") == "against"),
                ("hedged", bool(item.get("hedged"))),
            )
            if on
        )
        lines.append(f"- {one_line(str(item.get('outlet') or ''))}: {title}{marks}")
        if href:
            related = ET.SubElement(entry, f"{{{ATOM}}}link")
            related.set("rel", "related")
            related.set("href", _clean(href))
            related.set("title", _clean(title)[:TITLE_LIMIT])
    summary = _text(entry, "summary", "\n".join(lines))
    summary.set("type", "text")
    return entry


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}")
    element.text = _clean(text)
    return element


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
