"""`chimplink files push|pull [INSTALLATION] [--album A] [--dry-run]`, run as an operator would.

A served emulator, a SQLite database with one installation, and the demo
platform's photos (CHIMPLINK_CONNECTOR=demo). Runs happen in their own
process, as `chimplink` on the command line (its logging setup and event
loop stay its own); usage errors that stop before anything runs are checked
in this process with Typer's runner.
"""

from __future__ import annotations

import asyncio
import os
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
from chimplink.platforms.demo import DemoPlatform
from chimplink.store import (
    TokenCipher,
    ensure_tenant,
    make_engine,
    make_session_factory,
    save_installation,
    upgrade_async,
)
from chimplink.store.files import list_file_runs, photo_states

pytestmark = pytest.mark.served

CHIMPLINK = str(Path(sys.executable).with_name("chimplink"))
ROOT = Path(__file__).resolve().parents[2]
PHOTOS = 6


@dataclass
class Setup:
    emulator: ServedEmulator
    database_url: str
    installation_id: str
    account_id: str
    token: str
    env: dict[str, str]
    demo_path: Path

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [CHIMPLINK, "files", *args],
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

    def files(self) -> list[dict[str, Any]]:
        return list(self.api("GET", "/file-manager/files", params={"count": 1000}).json()["files"])

    def calls(self) -> int:
        stats = httpx.get(f"{self.emulator.url}/_emulator/stats").json()
        requests = stats["accounts"].get(self.account_id, {}).get("requests", {})
        return sum(sum(statuses.values()) for statuses in requests.values())


async def _install(
    database_url: str, key: str, emulator: ServedEmulator, name: str
) -> tuple[str, ...]:
    async with httpx.AsyncClient(base_url=emulator.url) as mc:
        account = (await mc.post("/_emulator/accounts", json={"account_name": name})).json()
    await upgrade_async(database_url)
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine).begin() as session:
            tenant = await ensure_tenant(session=session, external_id=f"user-{name}")
            saved = await save_installation(
                session=session,
                cipher=TokenCipher([key]),
                tenant_id=tenant.id,
                account_id=account["account_id"],
                login_id=f"login-{name}",
                login_email=f"owner@{name.lower()}.example",
                account_name=name,
                dc=account["dc"],
                api_base=f"{emulator.url}/{account['dc']}",
                access_token=account["access_token"],
            )
    finally:
        await engine.dispose()
    return saved.installation.id, account["account_id"], account["access_token"]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    key = TokenCipher.generate_key()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'chimplink.db'}"
    demo_path = tmp_path / "demo.db"

    async def platform() -> None:
        await (await DemoPlatform.create(demo_path, contacts=5, photos=PHOTOS)).aclose()

    asyncio.run(platform())
    with serve(create_emulator()) as emulator:
        installation_id, account_id, token = asyncio.run(
            _install(database_url, key, emulator, "Photo Co")
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CHIMPLINK_")},
            "PYTHONPATH": os.pathsep.join(
                p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p
            ),
            "CHIMPLINK_DATABASE_URL": database_url,
            "CHIMPLINK_SECRET_KEYS": key,
            "CHIMPLINK_SESSION_SECRET": "session-secret-for-the-files-cli-test-0123",
            "CHIMPLINK_MAILCHIMP_API_URL": emulator.url,
            "CHIMPLINK_KEY_FILE": str(tmp_path / "keys"),
            "CHIMPLINK_LOG_FORMAT": "json",
            "COLUMNS": "250",  # tables on one line each, as in a wide terminal
            "CHIMPLINK_CONNECTOR": "demo",
            "CHIMPLINK_CONNECTOR_URL": str(demo_path),
        }
        yield Setup(emulator, database_url, installation_id, account_id, token, env, demo_path)


async def _state(setup: Setup) -> tuple[dict[str, Any], list[Any]]:
    engine = make_engine(setup.database_url)
    try:
        async with make_session_factory(engine)() as session:
            states = await photo_states(session=session, installation_id=setup.installation_id)
            runs = await list_file_runs(session=session, installation_id=setup.installation_id)
        return states, runs
    finally:
        await engine.dispose()


def _problem(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join(result.stderr.split())


def test_push_then_pull_with_a_summary(setup: Setup) -> None:
    dry = setup.run("push", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Dry run of the push: completed" in dry.stdout
    assert "would be uploaded" in dry.stdout and "Dry run: nothing was written" in dry.stdout
    assert setup.calls() == 0 and setup.files() == []  # (files() is a call: count first)

    pushed = setup.run("push")  # the only installation: no need to name it
    assert pushed.returncode == 0, pushed.stderr
    assert "Push: completed" in pushed.stdout
    assert f"│ uploaded │ {PHOTOS} │" in " ".join(pushed.stdout.split())
    assert len(setup.files()) == PHOTOS
    assert "chimplink – demo" in [
        f["name"] for f in setup.api("GET", "/file-manager/folders").json()["folders"]
    ]

    again = setup.run("push", setup.installation_id, "--album", "Team")
    assert again.returncode == 0 and "unchanged" in again.stdout
    assert len(setup.files()) == PHOTOS

    theirs = setup.api(
        "POST",
        "/file-manager/files",
        json={
            "name": "theirs.gif",
            "file_data": "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7",
        },
    ).json()
    preview = setup.run("pull", "--dry-run")
    assert preview.returncode == 0 and "theirs.gif" in preview.stdout
    pulled = setup.run("pull", "--album", "From Mailchimp", "--file", str(theirs["id"]))
    assert pulled.returncode == 0, pulled.stderr
    assert "Pull: completed" in pulled.stdout

    async def imported() -> list[str]:
        async with await DemoPlatform.open(setup.demo_path) as demo:
            return [p.name for p in await demo.photos.find(album="From Mailchimp")]

    assert asyncio.run(imported()) == ["theirs.gif"]
    states, runs = asyncio.run(_state(setup))
    assert len(states) == PHOTOS
    assert [(r.direction.value, r.dry_run) for r in runs] == [
        ("pull", False),
        ("pull", True),
        ("push", False),
        ("push", False),
        ("push", True),
    ]


def test_refused_photos_are_listed_and_the_exit_code_says_so(setup: Setup) -> None:
    async def add() -> str:
        async with await DemoPlatform.open(setup.demo_path) as demo:
            return (await demo.photos.add("cat.webp", b"RIFF\x10\0\0\0WEBPVP8 ")).key

    key = asyncio.run(add())
    result = setup.run("push", "--photo", key, "--photo", "1")
    assert result.returncode == 1
    assert "Files that failed in this run" in result.stdout
    assert "cat.webp: Mailchimp's File Manager does not accept .webp files" in result.stdout
    assert "1 file(s) refused (file type not accepted: 1)" in _problem(result)
    assert len(setup.files()) == 1


def test_bad_usage_exits_2_with_one_clear_line(setup: Setup) -> None:
    unknown = setup.run("push", "no-such-installation")
    assert unknown.returncode == 2
    assert "no installation no-such-installation exists" in _problem(unknown)

    no_platform = setup.run("push", CHIMPLINK_CONNECTOR="none")
    assert no_platform.returncode == 2
    assert "no platform connector is configured" in _problem(no_platform)

    no_photos = setup.run(
        "pull", CHIMPLINK_CONNECTOR="python:tests.files.cli_platforms:contacts_only"
    )
    assert no_photos.returncode == 2
    assert "platform has no photos" in _problem(no_photos)

    asyncio.run(
        _install(setup.database_url, setup.env["CHIMPLINK_SECRET_KEYS"], setup.emulator, "Other Co")
    )
    ambiguous = setup.run("push")
    assert ambiguous.returncode == 2
    assert "2 active installations; name one of:" in _problem(ambiguous)
    assert setup.installation_id in _problem(ambiguous)

    for result in (unknown, no_platform, no_photos, ambiguous):
        assert "Push:" not in result.stdout and "Pull:" not in result.stdout
    assert setup.calls() == 0
    states, runs = asyncio.run(_state(setup))
    assert states == {} and runs == []


def test_bad_arguments_exit_2_before_anything_runs(tmp_path: Path) -> None:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CHIMPLINK_")}
    env["CHIMPLINK_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'chimplink.db'}"
    runner = CliRunner()
    for args, expected in [
        (["files", "push", "--album", "Team", "--photo", "3"], "use --album or --photo, not both"),
        (["files", "push", "--album", " "], "--album needs an album name"),
        (["files", "push", "--photo", ""], "--photo needs a photo key"),
        (["files", "pull", "--album", ""], "--album needs an album name"),
        (["files", "pull", "--file", "abc"], "integer"),
        (["files", "pull", "--file", "0"], "greater than or equal to 1"),
        (["files", "push", "--no-such-flag"], "No such option"),
    ]:
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 2, (args, result.output)
        assert expected in " ".join(result.output.split()), (args, result.output)
        assert "Traceback" not in result.output
    assert not (tmp_path / "chimplink.db").exists()
