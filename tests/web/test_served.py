"""`chimplink serve` for real: a subprocess on a socket, the emulator served on another,
the whole flow over the network (what the Playwright e2e drives with a browser)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chimplink.emulator import create_app as create_emulator
from chimplink.emulator.testing import ServedEmulator, free_port, serve
from chimplink.store import TokenCipher, upgrade_async
from chimplink.web import mint_link, verify_link
from tests.web.harness import LIST_BODY

pytestmark = pytest.mark.served

CLIENT_ID = "served-client"
CLIENT_SECRET = "served-client-secret-4f2a"
PLATFORM_SECRET = "platform-secret-for-the-served-test-0123456789"
EMAIL = "owner@served.example"
CHIMPLINK = str(Path(sys.executable).with_name("chimplink"))


@pytest.fixture
def emulator() -> Iterator[ServedEmulator]:
    with serve(create_emulator()) as served:
        yield served


def _env(database_url: str, public_url: str, emulator: ServedEmulator, tmp: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("CHIMPLINK_")}
    return {
        **keep,
        "CHIMPLINK_DATABASE_URL": database_url,
        "CHIMPLINK_PUBLIC_URL": public_url,
        "CHIMPLINK_MAILCHIMP_CLIENT_ID": CLIENT_ID,
        "CHIMPLINK_MAILCHIMP_CLIENT_SECRET": CLIENT_SECRET,
        "CHIMPLINK_MAILCHIMP_LOGIN_URL": emulator.url,
        "CHIMPLINK_MAILCHIMP_API_URL": emulator.url,
        "CHIMPLINK_PLATFORM_SECRET": PLATFORM_SECRET,
        "CHIMPLINK_SECRET_KEYS": TokenCipher.generate_key(),
        "CHIMPLINK_SESSION_SECRET": "session-secret-for-the-served-test-0123456789",
        "CHIMPLINK_KEY_FILE": str(tmp / "keys"),
        "CHIMPLINK_LOG_FORMAT": "json",
    }


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"chimplink serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("chimplink serve did not become healthy")


def test_serve_runs_the_whole_flow_against_a_served_emulator(
    database_url: str, emulator: ServedEmulator, tmp_path: Path
) -> None:
    if not database_url.startswith("sqlite"):
        asyncio.run(upgrade_async(database_url))  # serve upgrades an embedded SQLite only
    port = free_port()
    with httpx.Client(base_url=emulator.url, timeout=10) as mc:
        _run_flow(database_url, emulator, tmp_path, mc, port)


def _run_flow(
    database_url: str, emulator: ServedEmulator, tmp_path: Path, mc: httpx.Client, port: int
) -> None:
    public_url = f"http://127.0.0.1:{port}"
    mc.post(
        "/_emulator/oauth-clients",
        json={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [f"{public_url}/oauth/callback"],
        },
    ).raise_for_status()
    account = mc.post("/_emulator/accounts", json={"account_name": "Served", "email": EMAIL}).json()
    auth = {"Authorization": f"Bearer {account['access_token']}"}
    list_id = mc.post("/3.0/lists", headers=auth, json={"name": "People", **LIST_BODY}).json()["id"]

    process = subprocess.Popen(
        [CHIMPLINK, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(database_url, public_url, emulator, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_healthy(public_url, process)
        with httpx.Client(base_url=public_url, timeout=20) as browser:
            _browse(browser, mc, emulator, public_url, auth, list_id)
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    logged = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    events = {line["event"] for line in logged}
    assert {"connect.connected", "connect.uninstalled", "web.request"} <= events
    assert account["access_token"] not in stderr.decode()
    assert EMAIL not in stderr.decode()


def _browse(
    browser: httpx.Client,
    mc: httpx.Client,
    emulator: ServedEmulator,
    public_url: str,
    auth: dict[str, str],
    list_id: str,
) -> None:
    link = mint_link(public_url=public_url, platform_secret=PLATFORM_SECRET, tenant="u-1")
    assert browser.get(link).status_code == 303
    started = browser.get("/connect")
    assert started.status_code == 303
    authorize = httpx.URL(started.headers["location"])
    assert authorize.host == "127.0.0.1" and authorize.port == emulator.port
    consent = mc.get(str(authorize))
    assert consent.status_code == 200  # the consent page a browser would show
    decided = mc.post(
        "/oauth2/authorize",
        data={**dict(authorize.params), "decision": "allow", "login_hint": EMAIL},
    )
    callback = browser.get(decided.headers["location"])
    assert callback.status_code == 303
    home = browser.get("/")
    match = re.search(r'data-installation-id="([^"]+)"', home.text)
    assert match, home.text
    installation_id = match.group(1)

    page = browser.get(f"/installations/{installation_id}/audiences")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    chosen = browser.post(
        f"/installations/{installation_id}/audiences",
        data={"csrf_token": csrf.group(1), "list_id": list_id},
    )
    assert chosen.status_code == 303, chosen.text
    hooks = mc.get(f"/3.0/lists/{list_id}/webhooks", headers=auth).json()["webhooks"]
    assert [hook["url"].startswith(public_url) for hook in hooks] == [True]

    confirm = browser.get(f"/installations/{installation_id}/uninstall")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', confirm.text)
    assert csrf
    done = browser.post(
        f"/installations/{installation_id}/uninstall", data={"csrf_token": csrf.group(1)}
    )
    assert done.status_code == 303
    assert "Mailchimp account disconnected" in browser.get("/disconnected").text
    assert mc.get(f"/3.0/lists/{list_id}/webhooks", headers=auth).json()["webhooks"] == []


def test_serve_refuses_to_start_without_its_configuration(tmp_path: Path) -> None:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("CHIMPLINK_")}
    result = subprocess.run(
        [CHIMPLINK, "serve"],
        env={**keep, "CHIMPLINK_KEY_FILE": str(tmp_path / "keys")},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert b"CHIMPLINK_MAILCHIMP_CLIENT_ID" in result.stderr
    assert b"Traceback" not in result.stderr


def test_platform_link_prints_a_verifiable_link(tmp_path: Path) -> None:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("CHIMPLINK_")}
    result = subprocess.run(
        [CHIMPLINK, "platform-link", "--tenant", "u-42", "--name", "Ann Example"],
        env={
            **keep,
            "CHIMPLINK_PLATFORM_SECRET": PLATFORM_SECRET,
            "CHIMPLINK_PUBLIC_URL": "https://chimplink.example",
        },
        capture_output=True,
        timeout=60,
        check=True,
    )
    link = httpx.URL(result.stdout.decode().strip())
    assert str(link).startswith("https://chimplink.example/platform/enter?")
    identity = verify_link(platform_secret=PLATFORM_SECRET, **dict(link.params))
    assert (identity.tenant, identity.name) == ("u-42", "Ann Example")
