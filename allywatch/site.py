"""The HTML report from a workspace: its signals, their explanations and its feeds
handed to alerts/report.py, and written where `--out` or the config's `report:` says."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from allywatch.workspace import Workspace

if TYPE_CHECKING:
    from allywatch.language.model import Signal

# Alerts alerts.xml holds, newest first.
FEED_ENTRIES = 200


def write_report(workspace: Workspace, out: Path, now: datetime) -> Path:
    """Write the report into `out`; the path of its index page."""
    # Imported here: every cycle asks refresh_report, few write a report.
    from allywatch.alerts.report import build_site, write_site
    from allywatch.digests import signal_texts
    from allywatch.explain import as_json, explain
    from allywatch.resources import builtin_dir
    from allywatch.store.engine import reading
    from allywatch.store.reads import list_alerts

    by_id = {s.id: s for s in workspace.signals}

    def explained(signal: Signal, entity: str | None) -> dict[str, Any]:
        members_of = by_id.get(signal.aggregate.of) if signal.aggregate else None
        return as_json(explain(session, signal, entity, members_of))

    with reading(workspace.engine) as session:
        site = build_site(
            session,
            workspace.signals,
            explained,
            [s.name for s in workspace.config.sources],
            now,
        )
        alerts = [a for a in list_alerts(session, limit=FEED_ENTRIES) if a.announced]
        return write_site(site, alerts, signal_texts(workspace), builtin_dir("templates"), out)


def refresh_report(workspace: Workspace, now: datetime, *, changed: bool) -> Path | None:
    """After a cycle: rewrite the config's `report:` folder when the cycle changed
    something, or when there is no report there yet."""
    out = workspace.config.report
    if out is None or not (changed or not (out / "index.html").exists()):
        return None
    return write_report(workspace, out, now)
