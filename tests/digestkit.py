"""Shared set-up for the digest tests: a config on disk, and alerts as evaluation stores them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner, Result

from allywatch.alerts.subscriptions import subscribe
from allywatch.alerts.unsubscribe import make_token
from allywatch.cli import main
from allywatch.config import load_config
from allywatch.store import queries
from allywatch.store import subscribers as store
from allywatch.store.engine import reading, writing
from allywatch.store.models import Alert
from allywatch.workspace import Workspace

SIGNAL = "su35-iran"  # a built-in signal: its id is fixed by the design
SECRET = "test-secret-0123456789"


def write_config(
    folder: Path,
    *,
    smtp_port: int = 2525,
    base_url: str | None = "https://watch.example.org/aw",
    extra: str = "",
    database: str = "sqlite:///watch.db",
) -> Path:
    path = folder / "allywatch.yaml"
    lines = [
        f"database: '{database}'",
        "sources: []",
        f"smtp: {{host: 127.0.0.1, port: {smtp_port}, from: 'allywatch <watch@example.org>',"
        " timeout: 5}",
        f"secret: {SECRET}",
    ]
    if base_url:
        lines.append(f"base_url: {base_url}")
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def workspace(config: Path) -> Workspace:
    return Workspace(load_config(config))


def cli(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], env=env)


def add_alert(
    ws: Workspace,
    *,
    signal: str = SIGNAL,
    entity: str = "",
    from_state: str = "none",
    to_state: str = "delivery-reported",
    at: datetime = datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    created_at: datetime | None = None,
    evidence: list[dict] | None = None,
    announced: bool = True,
) -> Alert:
    """Store an alert the way evaluation does, with one article behind it by default."""
    evidence = (
        evidence
        if evidence is not None
        else [
            {
                "link": f"https://news.example.com/{signal}/{entity or 'x'}/{to_state}",
                "title": f"Report: {entity or signal} {to_state}",
                "outlet": "Example News",
                "published": at.isoformat(),
            }
        ]
    )
    with writing(ws.engine) as session:
        key = f"transition:{signal}:{entity}:{at.isoformat()}:{to_state}"
        alert = queries.add_alert(
            session,
            key=key,
            kind="transition",
            signal=signal,
            entity=entity,
            from_state=from_state,
            to_state=to_state,
            severity="warning",
            at=at,
            message=f"{signal}: {from_state} -> {to_state}",
            evidence=evidence,
            transition_id=None,
            created_at=created_at or at,
            announced=announced,
        )
    assert alert is not None
    return alert


def subscribe_at(ws: Workspace, email: str, now: datetime, **options: object) -> int:
    """Add a subscriber as `subscribers add` does, at a chosen moment; returns its id."""
    options.setdefault("signals", None)
    with writing(ws.engine) as session:
        subscriber = subscribe(
            session, email, known_signals={s.id for s in ws.signals}, now=now, **options
        )
        return subscriber.id


def token_for(config: Path, email: str) -> str:
    """The unsubscribe token a digest to `email` carries."""
    with reading(workspace(config).engine) as session:
        subscriber = store.find_subscriber(session, email)
        assert subscriber is not None
        return make_token(SECRET, subscriber.id, subscriber.email)
