"""Database faults end in one clear line and a telling exit status."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from allywatch.cli import main
from allywatch.store.engine import open_engine
from allywatch.store.migrate import upgrade


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "allywatch.yaml"
    path.write_text(f"database: 'sqlite:///{tmp_path}/watch.db'\nsources: []\n", encoding="utf-8")
    engine = open_engine(f"sqlite:///{tmp_path}/watch.db")
    upgrade(engine)
    with engine.connect() as connection:  # pages enough to damage one in the middle
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def test_db_check_passes_a_sound_database(config: Path) -> None:
    result = cli(config, "db", "check")
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("watch.db: ok")


def test_db_check_reports_a_damaged_page_in_one_line(config: Path) -> None:
    database = config.parent / "watch.db"
    data = bytearray(database.read_bytes())
    page = 4096
    assert len(data) >= 3 * page
    data[page + 8 : 2 * page] = b"\xa5" * (page - 8)  # the second page's cells: garbage
    database.write_bytes(bytes(data))

    result = cli(config, "db", "check")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "watch.db: damaged:" in lines[0]
    assert "Traceback" not in result.output
