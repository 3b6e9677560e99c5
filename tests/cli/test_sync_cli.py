"""`chimplink sync [INSTALLATION] [--full] [--dry-run]`, run as an operator would.

A served emulator (a real socket), a SQLite database with one installation
and its sync settings, and the demo platform (CHIMPLINK_CONNECTOR=demo) with
a few invalid addresses on purpose. The command runs in its own process, as
`chimplink` on the command line: its logging setup and event loop stay its own,
and what it prints is what an operator sees.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from chimplink.cli.main import app
from chimplink.emulator import create_app as create_emulator
from chimplink.emulator.testing import ServedEmulator, serve
from chimplink.platforms import Consent
from chimplink.platforms.demo import DemoPlatform
from chimplink.store import (
    TokenCipher,
    ensure_tenant,
    make_engine,
    make_session_factory,
    save_installation,
    upgrade_async,
)
from chimplink.store.sync_config import save_sync_config
from chimplink.store.sync_state import RecordOutcome, list_records, list_runs
from tests.web.harness import LIST_BODY

pytestmark = pytest.mark.served

CHIMPLINK = str(Path(sys.executable).with_name("chimplink"))
CONTACTS = 60
INVALID_SHARE = 0.05  # 3 of 60
DEMO_MAP = {
    "first_name": "FNAME",
    "last_name": "LNAME",
    "company": "COMPANY",
    "phone": "",
    "birthday": "",
    "signup_date": "",
    "plan": "PLAN",
    "lifetime_value": "",
}


@dataclass
class Setup:
    emulator: ServedEmulator
    database_url: str
    installation_id: str
    list_id: str
    token: str
    account_id: str
    env: dict[str, str]
    demo_path: Path

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [CHIMPLINK, "sync", *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
        return result

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.emulator.url}/3.0{path}",
            headers={"Authorization": f"Bearer {self.token}"},
            **kwargs,
        )

    def members(self) -> dict[str, dict[str, Any]]:
        found = self.api("GET", f"/lists/{self.list_id}/members", params={"count": 1000}).json()
        return {m["email_address"].lower(): m for m in found["members"]}

    def writes(self) -> int:
        stats = httpx.get(f"{self.emulator.url}/_emulator/stats").json()
        requests = stats["accounts"].get(self.account_id, {}).get("requests", {})
        return sum(
            sum(statuses.values())
            for operation, statuses in requests.items()
            if not operation.startswith("GET ")
        )


async def _prepare(database_url: str, key: str, emulator: ServedEmulator) -> tuple[str, ...]:
    async with httpx.AsyncClient(base_url=emulator.url) as mc:
        account = (
            await mc.post(
                "/_emulator/accounts", json={"account_name": "Sync Co", "email": "o@sync.example"}
            )
        ).json()
        auth = {"Authorization": f"Bearer {account['access_token']}"}
        created = await mc.post("/3.0/lists", headers=auth, json={"name": "People", **LIST_BODY})
        assert created.status_code == 200, created.text
        list_id = created.json()["id"]
    await upgrade_async(database_url)
    engine = make_engine(database_url)
    try:
        sessions = make_session_factory(engine)
        async with sessions.begin() as session:
            tenant = await ensure_tenant(session=session, external_id="sync-user")
            saved = await save_installation(
                session=session,
                cipher=TokenCipher([key]),
                tenant_id=tenant.id,
                account_id=account["account_id"],
                login_id="login-1",
                login_email="o@sync.example",
                account_name="Sync Co",
                dc=account["dc"],
                api_base=f"{emulator.url}/{account['dc']}",
                access_token=account["access_token"],
            )
            await save_sync_config(
                session=session,
                installation_id=saved.installation.id,
                list_id=list_id,
                field_map=DEMO_MAP,
            )
    finally:
        await engine.dispose()
    return saved.installation.id, list_id, account["access_token"], account["account_id"]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'chimplink.db'}"
    demo_path = tmp_path / "demo.db"

    async def make_demo() -> None:
        platform = await DemoPlatform.create(
            demo_path, contacts=CONTACTS, seed=5, invalid_share=INVALID_SHARE
        )
        await platform.aclose()

    asyncio.run(make_demo())
    key = TokenCipher.generate_key()
    with serve(create_emulator()) as emulator:
        installation_id, list_id, token, account_id = asyncio.run(
            _prepare(database_url, key, emulator)
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CHIMPLINK_")},
            "CHIMPLINK_DATABASE_URL": database_url,
            "CHIMPLINK_SECRET_KEYS": key,
            "CHIMPLINK_SESSION_SECRET": "session-secret-for-the-sync-cli-test-0123456789",
            "CHIMPLINK_MAILCHIMP_API_URL": emulator.url,
            "CHIMPLINK_KEY_FILE": str(tmp_path / "keys"),
            "CHIMPLINK_LOG_FORMAT": "json",
            "CHIMPLINK_CONNECTOR": "demo",
            "CHIMPLINK_CONNECTOR_URL": str(demo_path),
            "COLUMNS": "200",  # Rich wraps tables at the terminal's width
        }
        yield Setup(
            emulator, database_url, installation_id, list_id, token, account_id, env, demo_path
        )


def _row(output: str, label: str) -> int:
    """The number on the summary table's row that starts with `label`."""
    match = re.search(rf"│ {re.escape(label)}\s*│\s*([\d,]+)", output)
    assert match, f"no row {label!r} in:\n{output}"
    return int(match.group(1).replace(",", ""))


async def _demo_contacts(path: Path) -> list[Any]:
    platform = await DemoPlatform.open(path)
    try:
        return await platform.find(limit=CONTACTS)
    finally:
        await platform.aclose()


async def _parked(setup: Setup) -> list[Any]:
    engine = make_engine(setup.database_url)
    try:
        async with make_session_factory(engine)() as session:
            return await list_records(
                session=session,
                installation_id=setup.installation_id,
                outcome=RecordOutcome.PARKED,
            )
    finally:
        await engine.dispose()


async def _runs(setup: Setup) -> list[Any]:
    engine = make_engine(setup.database_url)
    try:
        async with make_session_factory(engine)() as session:
            return await list_runs(session=session, installation_id=setup.installation_id)
    finally:
        await engine.dispose()


async def _touch_and_edit(path: Path, *, touch: list[str], edit: str) -> None:
    """On the platform: re-save some contacts unchanged, and rename one."""
    platform = await DemoPlatform.open(path)
    try:
        for key in touch:
            await platform.touch(key)
        await platform.edit(edit, first_name="Renamed")
    finally:
        await platform.aclose()


def test_dry_run_then_sync_then_only_what_changed(setup: Setup) -> None:
    contacts = asyncio.run(_demo_contacts(setup.demo_path))
    invalid = round(CONTACTS * INVALID_SHARE)  # the demo platform's promise
    before = setup.writes()

    dry = setup.run(setup.installation_id, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "Dry run: nothing was written" in dry.stdout
    would_create = _row(dry.stdout, "would be created")
    # Only Mailchimp can tell a fake address; a malformed one is caught before sending.
    would_fail = _row(dry.stdout, "would fail: invalid email")
    assert would_create + would_fail == CONTACTS and 1 <= would_fail <= invalid
    assert "What would happen" in dry.stdout
    assert "Merge fields that would be created" in dry.stdout
    assert setup.writes() == before and setup.members() == {}
    assert asyncio.run(_parked(setup)) == []

    first = setup.run(setup.installation_id)
    assert first.returncode == 1, first.stdout + first.stderr  # some records failed
    assert _row(first.stdout, "created") == CONTACTS - invalid
    assert _row(first.stdout, "failed: invalid email") == invalid
    assert f"{invalid} record(s) failed (invalid email: {invalid})" in " ".join(
        first.stderr.split()
    )
    members = setup.members()
    assert len(members) == CONTACTS - invalid
    parked = asyncio.run(_parked(setup))
    assert len(parked) == invalid
    assert all((r.reason or "").startswith("invalid email") for r in parked)
    for record in parked:  # each named, with its address and reason
        assert re.search(
            rf"│ {record.platform_key}\s+│ {re.escape(record.email)}\s+│", first.stdout
        )
        assert record.email.lower() not in members
    # What Mailchimp holds is what the platform has.
    by_email = {c.email.lower(): c for c in contacts}
    for email, member in members.items():
        contact = by_email[email]
        assert member["merge_fields"]["FNAME"] == (contact.fields["first_name"] or "")
        expected_status = "subscribed" if contact.consent is Consent.GRANTED else "transactional"
        assert member["status"] == expected_status
    # The summary's call counts are the emulator's.
    calls = re.search(r"│ API calls \(writes\)\s*│\s*([\d,]+) \(([\d,]+)\)", first.stdout)
    assert calls, first.stdout
    assert int(calls.group(2)) == setup.writes() - before
    assert int(calls.group(1)) > int(calls.group(2))
    assert "60/60 records" in first.stdout  # the progress bar's last state

    # The platform re-saves the invalid ones unchanged and renames someone: the next run
    # (no argument: every ready installation, here this one) sends only the rename.
    renamed = next(c for c in contacts if c.email.lower() in members)
    asyncio.run(
        _touch_and_edit(setup.demo_path, touch=[r.platform_key for r in parked], edit=renamed.key)
    )
    writes = setup.writes()
    second = setup.run()
    assert second.returncode == 0, second.stdout + second.stderr
    assert _row(second.stdout, "created") == 0
    assert _row(second.stdout, "updated") == 1
    assert _row(second.stdout, "not retried (failed before, unchanged since)") == invalid
    assert "failed: invalid email" not in second.stdout
    assert setup.writes() == writes + 1  # one batch call, for the rename
    assert setup.members()[renamed.email.lower()]["merge_fields"]["FNAME"] == "Renamed"
    runs = asyncio.run(_runs(setup))
    assert [run.status.value for run in runs] == ["completed", "completed", "completed"]
    assert [run.dry_run for run in runs] == [False, False, True]


def _problem(result: subprocess.CompletedProcess[str]) -> str:
    """The one line the command printed about what is wrong (log lines are JSON)."""
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(lines) == 1 and lines[0].startswith("chimplink: "), result.stderr
    return lines[0]


def test_bad_usage_exits_2_with_one_clear_line(setup: Setup, tmp_path: Path) -> None:
    before = setup.writes()
    unknown = setup.run("no-such-installation")
    assert unknown.returncode == 2
    assert "no installation no-such-installation exists" in _problem(unknown)

    no_platform = setup.run(setup.installation_id, CHIMPLINK_CONNECTOR="none")
    assert no_platform.returncode == 2
    assert "set CHIMPLINK_CONNECTOR" in _problem(no_platform)

    wrong_db = setup.run(setup.installation_id, CHIMPLINK_CONNECTOR_URL=str(tmp_path / "x.db"))
    assert wrong_db.returncode == 2
    assert "not a demo platform database" in _problem(wrong_db)

    old_schema = setup.run(
        setup.installation_id, CHIMPLINK_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"
    )
    assert old_schema.returncode == 2
    assert "run `chimplink db upgrade` first" in _problem(old_schema)

    for result in (unknown, no_platform, wrong_db, old_schema):
        assert result.stdout == ""
    assert setup.writes() == before and setup.members() == {}
    assert asyncio.run(_runs(setup)) == []


def test_bad_arguments_and_settings_exit_2_before_anything_runs(tmp_path: Path) -> None:
    # These fail before the command configures logging: safe to run in this process.
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CHIMPLINK_")}
    env["CHIMPLINK_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'chimplink.db'}"
    runner = CliRunner()

    usage = runner.invoke(app, ["sync", "--no-such-flag"], env=env)
    assert usage.exit_code == 2 and "No such option" in usage.output

    env["CHIMPLINK_CONNECTOR"] = "carrier-pigeon"
    setting = runner.invoke(app, ["sync"], env=env)
    assert setting.exit_code == 2
    assert "CHIMPLINK_CONNECTOR" in setting.output and "Traceback" not in setting.output
    assert not (tmp_path / "chimplink.db").exists()
