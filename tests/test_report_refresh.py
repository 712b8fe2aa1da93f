"""A config with `report:` keeps the HTML report current: `run` writes it after a cycle
that changed something, and leaves it alone after a cycle that changed nothing."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from allywatch.cli import main


def rss(*titles: str) -> str:
    items = "".join(
        f"<item><title>{title}</title><link>https://wire.example/{n}</link>"
        "<pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate></item>"
        for n, title in enumerate(titles)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>W</title>{items}</channel></rss>'
    )


def run(config: Path, moment: str) -> None:
    result = CliRunner().invoke(main, ["--config", str(config), "run", "--now", "--clock", moment])
    assert result.exit_code == 0, result.output


def test_run_rewrites_the_report_after_a_changing_cycle_only(
    tmp_path: Path, database_url: str
) -> None:
    feed = tmp_path / "wire.xml"
    feed.write_text(rss("Kremlin hosts trade fair"), encoding="utf-8")
    config = tmp_path / "allywatch.yaml"
    config.write_text(
        f"database: '{database_url}'\nreport: site\nsources:\n  - {{name: Wire, path: wire.xml}}\n",
        encoding="utf-8",
    )
    index = tmp_path / "site" / "index.html"

    run(config, "2025-01-06T12:00:00+00:00")
    assert index.exists(), "the first cycle writes the report"
    assert "delivery-reported" not in index.read_text(encoding="utf-8")

    written = index.stat().st_mtime_ns
    run(config, "2025-01-06T13:00:00+00:00")  # nothing new: the report stays as it is
    assert index.stat().st_mtime_ns == written

    feed.write_text(
        rss("Kremlin hosts trade fair", "Iran takes delivery of first Su-35 jets"),
        encoding="utf-8",
    )
    run(config, "2025-01-06T14:00:00+00:00")
    assert "delivery-reported" in index.read_text(encoding="utf-8")
