"""`chimplink uninstall INSTALLATION_ID [--yes]`, run as a user would, against a served emulator."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chimplink.emulator import create_app as create_emulator
from chimplink.emulator.testing import ServedEmulator, serve
from chimplink.store import (
    TokenCipher,
    ensure_tenant,
    make_engine,
    make_session_factory,
    record_remote_webhook,
    save_installation,
    upgrade_async,
)
from tests.store.helpers import dump_tables, tables_mentioning
from tests.web.harness import LIST_BODY

pytestmark = pytest.mark.served

CHIMPLINK = str(Path(sys.executable).with_name("chimplink"))
EMAIL = "owner@cli.example"


@pytest.fixture
def emulator() -> Iterator[ServedEmulator]:
    with serve(create_emulator()) as served:
        yield served


async def _install(database_url: str, key: str, emulator: ServedEmulator) -> tuple[str, str, str]:
    """An installation with one chimplink webhook at the emulator: (id, list id, token)."""
    async with httpx.AsyncClient(base_url=emulator.url) as mc:
        account = (
            await mc.post("/_emulator/accounts", json={"account_name": "CLI Co", "email": EMAIL})
        ).json()
        auth = {"Authorization": f"Bearer {account['access_token']}"}
        list_id = (
            await mc.post("/3.0/lists", headers=auth, json={"name": "People", **LIST_BODY})
        ).json()["id"]
        # Any URL that answers the validator's GET with 200 will do here.
        hook = await mc.post(
            f"/3.0/lists/{list_id}/webhooks",
            headers=auth,
            json={"url": f"{emulator.url}/_emulator/accounts?installation=cli"},
        )
        assert hook.status_code == 200, hook.text
    await upgrade_async(database_url)
    engine = make_engine(database_url)
    try:
        sessions = make_session_factory(engine)
        async with sessions.begin() as session:
            tenant = await ensure_tenant(session=session, external_id="cli-user")
            saved = await save_installation(
                session=session,
                cipher=TokenCipher([key]),
                tenant_id=tenant.id,
                account_id=account["account_id"],
                login_id="login-1",
                login_email=EMAIL,
                account_name="CLI Co",
                dc=account["dc"],
                api_base=f"{emulator.url}/{account['dc']}",
                access_token=account["access_token"],
            )
            await record_remote_webhook(
                session=session,
                installation_id=saved.installation.id,
                list_id=list_id,
                webhook_id=hook.json()["id"],
            )
    finally:
        await engine.dispose()
    return saved.installation.id, list_id, account["access_token"]


async def _dump(database_url: str) -> dict[str, list[dict[str, object]]]:
    engine = make_engine(database_url)
    try:
        return await dump_tables(engine)
    finally:
        await engine.dispose()


def _cli(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHIMPLINK, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_uninstall(database_url: str, emulator: ServedEmulator, tmp_path: Path) -> None:
    key = TokenCipher.generate_key()
    installation_id, list_id, token = asyncio.run(_install(database_url, key, emulator))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CHIMPLINK_")},
        "CHIMPLINK_DATABASE_URL": database_url,
        "CHIMPLINK_SECRET_KEYS": key,
        "CHIMPLINK_SESSION_SECRET": "session-secret-for-the-cli-test-0123456789",
        "CHIMPLINK_MAILCHIMP_API_URL": emulator.url,
        "CHIMPLINK_KEY_FILE": str(tmp_path / "keys"),
        "CHIMPLINK_LOG_FORMAT": "json",
    }
    before = asyncio.run(_dump(database_url))

    declined = _cli(["uninstall", installation_id], env, stdin="n\n")
    assert declined.returncode == 1, declined.stderr
    assert "Nothing changed." in declined.stdout
    assert asyncio.run(_dump(database_url)) == before

    done = _cli(["uninstall", installation_id, "--yes"], env)
    assert done.returncode == 0, done.stderr
    assert "Uninstalled" in done.stdout
    assert "1 webhook(s) deleted at Mailchimp" in done.stdout
    assert "Integrations/Connected apps and remove chimplink" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert token not in done.stdout + done.stderr
    with httpx.Client(base_url=emulator.url) as mc:
        hooks = mc.get(
            f"/3.0/lists/{list_id}/webhooks", headers={"Authorization": f"Bearer {token}"}
        ).json()["webhooks"]
    assert hooks == []
    dump = asyncio.run(_dump(database_url))
    assert tables_mentioning(dump, installation_id) == {"audit_log": 1}
    assert tables_mentioning(dump, EMAIL) == {}

    again = _cli(["uninstall", installation_id, "--yes"], env)
    assert again.returncode == 0
    assert "already uninstalled" in again.stdout
    assert asyncio.run(_dump(database_url)) == dump

    unknown = _cli(["uninstall", str(uuid.uuid4()), "--yes"], env)
    assert unknown.returncode == 1
    assert "No installation" in unknown.stdout
