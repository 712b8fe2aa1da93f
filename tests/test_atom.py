"""alerts.xml and `allywatch alerts --format atom`: well-formed Atom, one entry per
announced alert with an id that stays the same, feed text kept as text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

from digestkit import add_alert, cli, workspace, write_config

ATOM = "{http://www.w3.org/2005/Atom}"


def entries(xml: str) -> list[ET.Element]:
    root = ET.fromstring(xml.encode("utf-8"))
    assert root.tag == f"{ATOM}feed" and root.find(f"{ATOM}id") is not None
    return root.findall(f"{ATOM}entry")


def test_one_entry_per_announced_alert_with_stable_ids(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database=database_url)
    ws = workspace(config)
    add_alert(ws, to_state="deal")
    add_alert(ws, to_state="delivered", at=datetime(2026, 3, 3, tzinfo=UTC))
    add_alert(ws, to_state="delivery-reported", announced=False)
    first = cli(config, "alerts", "--format", "atom")
    assert first.exit_code == 0, first.output
    found = entries(first.output)
    assert len(found) == 2
    ids = [e.findtext(f"{ATOM}id") for e in found]
    assert len(set(ids)) == 2 and all(i.startswith("urn:uuid:") for i in ids)
    assert ids == [
        e.findtext(f"{ATOM}id") for e in entries(cli(config, "alerts", "--format", "atom").output)
    ]
    for entry in found:
        assert entry.find(f"{ATOM}updated") is not None and entry.findtext(f"{ATOM}title")


def test_hostile_text_stays_text(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database=database_url)
    ws = workspace(config)
    evil = "<script>alert(1)</script>\x00\x1b[31m\u202e" + "x" * 100_000
    add_alert(
        ws,
        evidence=[
            {"link": "javascript:alert(1)", "title": evil, "outlet": "o", "published": "2026"},
            {"link": "https://ok.example/a", "title": "fine", "outlet": "o", "published": "2026"},
        ],
    )
    result = cli(config, "alerts", "--format", "atom")
    [entry] = entries(result.output)
    links = [link.get("href") for link in entry.findall(f"{ATOM}link")]
    assert links == ["https://ok.example/a"]
    summary = entry.findtext(f"{ATOM}summary")
    assert "<script>alert(1)</script>" in summary  # as text: the XML parser gave it back
    assert "\x00" not in result.output and "\x1b" not in result.output
