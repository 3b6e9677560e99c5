"""`chimplink serve` refuses to start on a broken platform configuration, saying why."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chimplink.cli.main import app


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHIMPLINK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    monkeypatch.setenv("CHIMPLINK_KEY_FILE", str(tmp_path / "keys"))
    monkeypatch.setenv("CHIMPLINK_MAILCHIMP_CLIENT_ID", "client")
    monkeypatch.setenv("CHIMPLINK_MAILCHIMP_CLIENT_SECRET", "client-secret")
    monkeypatch.setenv("CHIMPLINK_PLATFORM_SECRET", "p" * 32)
    return tmp_path


def test_a_broken_mapping_file_stops_serve_with_the_line_named(
    configured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = configured / "shop.db"
    import sqlite3

    with sqlite3.connect(platform) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, at TEXT)")
    mapping = configured / "mapping.toml"
    mapping.write_text('table = "customers"\nkey = "id"\nemail = "mail"\nupdated_at = "at"\n')
    monkeypatch.setenv("CHIMPLINK_CONNECTOR", "sql")
    monkeypatch.setenv("CHIMPLINK_CONNECTOR_URL", f"sqlite:///{platform}")
    monkeypatch.setenv("CHIMPLINK_CONNECTOR_MAPPING", str(mapping))
    result = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 2, result.output
    assert "mapping.toml" in result.output and "line 3" in result.output
    assert "mail" in result.output
    assert "Traceback" not in result.output
    assert not (configured / "c.db").exists()  # stopped before touching the database


def test_a_demo_connector_without_its_database_is_named(
    configured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHIMPLINK_CONNECTOR", "demo")
    result = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 2, result.output
    assert "CHIMPLINK_CONNECTOR_URL" in result.output
