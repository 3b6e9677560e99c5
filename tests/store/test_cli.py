"""`chimplink db upgrade|current` and `chimplink keys generate|rotate`, on both databases.

The commands are mounted on a local Typer app the way cli/main.py mounts them.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from chimplink.cli import db as db_cli
from chimplink.cli import keys as keys_cli
from chimplink.config import load_secrets, load_settings
from chimplink.store.crypto import TokenCipher
from chimplink.store.db import make_engine, make_session_factory
from chimplink.store.installations import get_access_token
from chimplink.store.migrate import head_revision, upgrade
from tests.store.helpers import Db, connect

app = typer.Typer()
app.add_typer(db_cli.app, name="db")
app.add_typer(keys_cli.app, name="keys")
runner = CliRunner()
SESSION_SECRET = "s" * 40


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("CHIMPLINK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    assert "Traceback" not in result.output
    return result.exit_code, " ".join(result.output.split())  # Rich wraps long lines


async def _connect_many(url: str, cipher: TokenCipher, count: int) -> list[str]:
    engine = make_engine(url)
    try:
        db = Db(url=url, engine=engine, sessions=make_session_factory(engine))
        return [
            (await connect(db, cipher, account_id=f"acc-{n}", token=f"token-{n}")).installation.id
            for n in range(count)
        ]
    finally:
        await engine.dispose()


async def _tokens(url: str, cipher: TokenCipher, ids: list[str]) -> list[str]:
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as session:
            return [
                (
                    await get_access_token(session=session, cipher=cipher, installation_id=i)
                ).get_secret_value()
                for i in ids
            ]
    finally:
        await engine.dispose()


def test_db_upgrade_and_current(database_url: str) -> None:
    code, output = _invoke("db", "current", "--database-url", database_url)
    assert code == 1 and "chimplink db upgrade" in output
    code, output = _invoke("db", "upgrade", "--database-url", database_url)
    assert code == 0, output
    assert f"revision {head_revision()}" in output
    code, output = _invoke("db", "upgrade", env={"CHIMPLINK_DATABASE_URL": database_url})
    assert code == 0, output
    code, output = _invoke("db", "current", "--database-url", database_url)
    assert code == 0 and "newest" in output


def test_db_upgrade_defaults_to_the_embedded_sqlite_file(tmp_path: Path) -> None:
    code, output = _invoke("db", "upgrade")
    assert code == 0, output
    assert (tmp_path / "chimplink.db").is_file()


def test_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    code, output = _invoke("db", "upgrade", env={"CHIMPLINK_DATABASE_URL": "mysql://x/y"})
    assert code == 2 and "CHIMPLINK_DATABASE_URL" in output
    code, output = _invoke("db", "upgrade", env={"CHIMPLINK_DATABSE_URL": "sqlite:///x.db"})
    assert code == 2 and "did you mean CHIMPLINK_DATABASE_URL" in output
    code, output = _invoke("keys", "rotate", env={"CHIMPLINK_SECRET_KEYS": "not-a-key"})
    assert code == 2 and "CHIMPLINK_SECRET_KEYS" in output and "not-a-key" not in output


def test_unreachable_database_is_a_clear_error() -> None:
    code, output = _invoke(
        "db", "upgrade", "--database-url", "postgresql://chimplink:hunter2@127.0.0.1:1/nowhere"
    )
    assert code == 1
    assert "database" in output and "hunter2" not in output


def test_keys_generate_prints_a_usable_key() -> None:
    code, output = _invoke("keys", "generate")
    assert code == 0
    TokenCipher([output.strip()])


def test_rotate_with_keys_from_the_environment(database_url: str) -> None:
    old_key, new_key = TokenCipher.generate_key(), TokenCipher.generate_key()
    upgrade(database_url)
    ids = asyncio.run(_connect_many(database_url, TokenCipher([old_key]), 3))
    env = {
        "CHIMPLINK_DATABASE_URL": database_url,
        "CHIMPLINK_SECRET_KEYS": f"{new_key},{old_key}",
        "CHIMPLINK_SESSION_SECRET": SESSION_SECRET,
    }
    code, output = _invoke("keys", "rotate", env=env)
    assert code == 0, output
    assert "access tokens" in output and "3" in output
    assert "remove the 1 older key(s)" in output
    # The old key is gone from the configuration: everything still decrypts.
    assert asyncio.run(_tokens(database_url, TokenCipher([new_key]), ids)) == [
        "token-0",
        "token-1",
        "token-2",
    ]
    code, output = _invoke("keys", "rotate", "--new-key", env=env)
    assert code == 2 and "key file" in output


def test_rotate_with_the_embedded_key_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chimplink.db'}"
    upgrade(url)
    settings = load_settings()
    old = TokenCipher(load_secrets(settings).secret_keys)  # creates ./chimplink-keys
    ids = asyncio.run(_connect_many(url, old, 2))

    code, output = _invoke("keys", "rotate", "--new-key", "--retire-old-keys")
    assert code == 0, output
    assert "Removed 1 older key(s)" in output

    key_file = tmp_path / "chimplink-keys"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secrets = load_secrets(load_settings())
    assert len(secrets.secret_keys) == 1
    new = TokenCipher(secrets.secret_keys)
    assert new.current_key_id != old.current_key_id
    assert asyncio.run(_tokens(url, new, ids)) == ["token-0", "token-1"]


def test_rotate_needs_a_migrated_database(database_url: str) -> None:
    env = {
        "CHIMPLINK_DATABASE_URL": database_url,
        "CHIMPLINK_SECRET_KEYS": TokenCipher.generate_key(),
        "CHIMPLINK_SESSION_SECRET": SESSION_SECRET,
    }
    code, output = _invoke("keys", "rotate", env=env)
    assert code == 1 and "chimplink db upgrade" in output


def test_rotate_refuses_to_bless_unreadable_secrets(database_url: str) -> None:
    upgrade(database_url)
    asyncio.run(_connect_many(database_url, TokenCipher([TokenCipher.generate_key()]), 1))
    env = {
        "CHIMPLINK_DATABASE_URL": database_url,
        "CHIMPLINK_SECRET_KEYS": TokenCipher.generate_key(),
        "CHIMPLINK_SESSION_SECRET": SESSION_SECRET,
    }
    code, output = _invoke("keys", "rotate", env=env)
    assert code == 1 and "could not be decrypted" in output
