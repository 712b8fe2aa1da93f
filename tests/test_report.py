"""`allywatch report`: the static site, looked at through headless Chromium: no console
errors, every relative link resolves, one timeline segment per state period, hostile
feed text shown as text; screenshots at 390 and 1280 px land in the test's tmp_path."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from digestkit import add_alert, cli, workspace, write_config

from allywatch.alerts.report import timeline
from allywatch.store import queries
from allywatch.store.engine import writing

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="needs headless Chromium (Debian package `chromium`; .ci/run installs it)",
)
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
HOSTILE = "<script>alert(1)</script>\u202eevil" + "W" * 100_000


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.hrefs += [v for k, v in attrs if k in ("href", "src") and v]


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Path:
    config = write_config(tmp_path, database=database_url)
    ws = workspace(config)
    base = datetime(2026, 1, 5, tzinfo=UTC)
    with writing(ws.engine) as session:
        queries.start_run(session, base - timedelta(days=30))
        steps = [("none", "deal"), ("deal", "delivery-reported"), ("delivery-reported", "none")]
        for day, (old, new) in enumerate(steps):
            at = base + timedelta(days=10 * day)
            evidence = [
                {
                    "link": "javascript:alert(1)" if day == 0 else f"https://n.example/{day}",
                    "title": HOSTILE if day == 0 else f"Report {day}",
                    "outlet": "Example News",
                    "published": at.isoformat(),
                    "state": new,
                    "polarity": "against" if new == "none" else "for",
                    "hedged": day == 1,
                }
            ]
            queries.add_transition(
                session, signal="su35-iran", entity="", from_state=old, to_state=new, at=at,
                evidence=evidence, recorded_at=at,
            )  # fmt: skip
    add_alert(ws, evidence=[{"link": "javascript:x", "title": HOSTILE, "outlet": "o"}])
    result = cli(config, "report", "--out", str(tmp_path / "site"))
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("index.html")
    return tmp_path / "site"


def test_timeline_has_one_segment_per_period() -> None:
    class T:
        def __init__(self, i: int, at: datetime, old: str, new: str) -> None:
            self.id, self.at, self.from_state, self.to_state = i, at, old, new

    start = datetime(2026, 1, 1, tzinfo=UTC)
    moves = [T(1, start + timedelta(days=1), "a", "b"), T(2, start + timedelta(days=3), "b", "a")]
    segments = timeline("a", moves, start, start + timedelta(days=4), {})  # type: ignore[arg-type]
    assert [s.state for s in segments] == ["a", "b", "a"]
    assert sum(s.width for s in segments) == pytest.approx(1000)
    assert [s.state for s in timeline("a", [], start, start, {})] == ["a"]


def test_pages_are_static_and_escaped(site: Path) -> None:
    pages = [site / "index.html", *sorted((site / "signals").glob("*.html"))]
    assert len(pages) > 3 and (site / "alerts.xml").exists()
    for page in pages:
        html = page.read_text(encoding="utf-8")
        links = Links()
        links.feed(html)
        assert links.scripts == 0, page
        for href in links.hrefs:
            assert not href.lower().startswith(("javascript:", "data:text")), (page, href)
            if "://" in href or href.startswith(("data:", "#")):
                continue
            assert (page.parent / href.split("#")[0]).resolve().exists(), (page, href)
        assert "\u202e" not in html and "W" * 1000 not in html


@pytest.mark.slow
@needs_chromium
def test_chromium_renders_the_report(site: Path, tmp_path: Path) -> None:
    page = site / "signals" / "su35-iran.html"
    dumped = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    svg = re.search(r'<svg class="timeline".*?</svg>', dom, re.S)
    assert svg is not None
    assert len(re.findall(r'<rect class="segment"', svg.group(0))) == 4  # 3 changes, 4 periods
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom and "<script>" not in dom
    assert 'href="javascript' not in dom
    assert "hedged" in dom and "against" in dom
    shots = tmp_path / "screenshots"
    shots.mkdir()
    for target in (site / "index.html", page):
        for width in (390, 1280):
            out = shots / f"{target.stem}-{width}.png"
            logged = chromium(
                tmp_path, "--enable-logging=stderr", "--v=0",
                f"--screenshot={out}", f"--window-size={width},1600", target.as_uri(),
            )  # fmt: skip
            assert out.exists() and out.stat().st_size > 1000, logged.stderr[-2000:]
            console = [line for line in logged.stderr.splitlines() if "CONSOLE" in line]
            assert console == [], console
