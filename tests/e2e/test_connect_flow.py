"""The whole journey in a real browser: platform link → Connect → Mailchimp's consent →
Allow → connected → choose an audience → Disconnect → gone, with no webhook left behind.

Issue 4's end-to-end test. Playwright drives Debian's Chromium
(`apt-get install chromium`; Playwright never downloads a browser here),
headless. Both sides listen on real sockets, as in production: the emulator
(uvicorn in a thread, `chimplink.emulator.testing.serve`) and chimplink's web
app (uvicorn in another thread, on an embedded SQLite database in tmp_path),
so the browser follows real redirects between two origins and the emulator
validates chimplink's webhook URL over the network.

Screenshots of each step go to `artifacts/e2e/` under the repository root
(git-ignored; CI keeps them as artifacts); on a failure, `failure.png` shows
where the browser was.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Page, expect, sync_playwright

from chimplink.config import load_settings
from chimplink.emulator import create_app as create_emulator
from chimplink.emulator.testing import ServedEmulator, free_port, serve
from chimplink.store import TokenCipher, upgrade
from chimplink.web import create_app, mint_link
from tests.web.harness import LIST_BODY

pytestmark = pytest.mark.served

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 30_000

CLIENT_ID = "e2e-client"
CLIENT_SECRET = "e2e-client-secret-6b0d9a"
PLATFORM_SECRET = "platform-secret-for-the-e2e-test-0123456789abcdef"
SESSION_SECRET = "session-secret-for-the-e2e-test-0123456789abcdef"
EMAIL = "owner@e2e-bakery.example"
ACCOUNT_NAME = "E2E Bakery"
AUDIENCE_NAME = "Bakery customers"
FINAL_SCREENSHOT = "08-home-after-disconnect.png"


@contextmanager
def _serve_web_app(app: FastAPI, port: int) -> Iterator[None]:
    """chimplink's web app under uvicorn on 127.0.0.1:`port`, in a background thread."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_config=None,  # leave the process's logging alone
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"chimplink:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # uvicorn has no readiness event to wait on
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("chimplink's web app did not start (see the log above)")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _webhooks(mc: httpx.Client, token: str, list_id: str) -> list[dict[str, Any]]:
    response = mc.get(
        f"/3.0/lists/{list_id}/webhooks", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    hooks: list[dict[str, Any]] = response.json()["webhooks"]
    return hooks


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _url(base: str, path: str) -> re.Pattern[str]:
    """The page at `base` + `path`, with or without a query string."""
    return re.compile(rf"^{re.escape(base + path)}(\?.*)?$")


@pytest.fixture
def emulator() -> Iterator[ServedEmulator]:
    with serve(create_emulator()) as served:
        yield served


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    return ARTIFACTS


def test_connect_choose_an_audience_and_disconnect_in_chromium(
    emulator: ServedEmulator,
    artifacts: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium", pytrace=False)
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"

    with httpx.Client(base_url=emulator.url, timeout=30) as mc:
        mc.post(
            "/_emulator/oauth-clients",
            json={
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [f"{public_url}/oauth/callback"],
            },
        ).raise_for_status()
        account = mc.post(
            "/_emulator/accounts", json={"account_name": ACCOUNT_NAME, "email": EMAIL}
        ).json()
        api_token = account["access_token"]  # the test's own token, to look at the account
        created = mc.post(
            "/3.0/lists",
            headers={"Authorization": f"Bearer {api_token}"},
            json={"name": AUDIENCE_NAME, **LIST_BODY},
        )
        assert created.status_code == 200, created.text
        list_id = created.json()["id"]

        for name in [name for name in os.environ if name.startswith("CHIMPLINK_")]:
            monkeypatch.delenv(name)  # load_settings reads the environment too
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'chimplink.db'}"
        settings = load_settings(
            database_url=database_url,
            public_url=public_url,
            mailchimp_client_id=CLIENT_ID,
            mailchimp_client_secret=CLIENT_SECRET,
            mailchimp_login_url=emulator.url,
            mailchimp_api_url=emulator.url,
            platform_secret=PLATFORM_SECRET,
            session_secret=SESSION_SECRET,
            secret_keys=TokenCipher.generate_key(),
            key_file=tmp_path / "keys",
        )
        upgrade(database_url)  # what `chimplink serve` does for an embedded SQLite

        with _serve_web_app(create_app(settings), port), sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_context().new_page()
                page.set_default_timeout(TIMEOUT_MS)
                page.set_default_navigation_timeout(TIMEOUT_MS)
                try:
                    _journey(page, mc, emulator, public_url, account, list_id)
                except BaseException:
                    with contextlib.suppress(Exception):  # never hide the real failure
                        _shot(page, "failure.png")
                    raise
            finally:
                browser.close()

    assert (artifacts / FINAL_SCREENSHOT).stat().st_size > 0


def _journey(
    page: Page,
    mc: httpx.Client,
    emulator: ServedEmulator,
    public_url: str,
    account: dict[str, Any],
    list_id: str,
) -> None:
    api_token = account["access_token"]
    timeout = TIMEOUT_MS

    # The platform sends its user with a signed link: a session opens, the link is left.
    link = mint_link(
        public_url=public_url, platform_secret=PLATFORM_SECRET, tenant="u-e2e", name="Ann Baker"
    )
    page.goto(link)
    page.wait_for_url(_url(public_url, "/"))
    expect(page.locator("#signed-in-as")).to_contain_text("Ann Baker", timeout=timeout)
    expect(page.locator("#no-accounts")).to_be_visible(timeout=timeout)
    _shot(page, "01-platform-home.png")

    # Connect → Mailchimp's consent page (the emulator, another origin).
    page.click("#connect-button")
    page.wait_for_url(_url(emulator.url, "/oauth2/authorize"))
    expect(page.locator("#app-name")).to_be_visible(timeout=timeout)
    account_choice = page.locator(f'input[name="account_id"][value="{account["account_id"]}"]')
    account_choice.check()
    expect(account_choice).to_be_checked(timeout=timeout)
    _shot(page, "02-consent.png")

    # Allow → chimplink's callback → back home, off the URL with the code and state.
    page.click('button[name="decision"][value="allow"]')
    page.wait_for_url(_url(public_url, "/"))
    assert "code=" not in page.url and "state=" not in page.url
    card = page.locator("article.account-card")
    expect(card).to_have_count(1, timeout=timeout)
    installation_id = card.get_attribute("data-installation-id")
    assert installation_id
    expect(card).to_have_attribute("data-status", "active", timeout=timeout)
    expect(card.locator("h2")).to_have_text(ACCOUNT_NAME, timeout=timeout)
    expect(card.locator(".login")).to_have_text(EMAIL, timeout=timeout)
    expect(page.locator(f"#status-{installation_id}")).to_have_text("Connected", timeout=timeout)
    expect(page.locator("#messages")).to_contain_text(
        f"{ACCOUNT_NAME} is connected.", timeout=timeout
    )
    _shot(page, "03-connected.png")

    # Choose the audience: chimplink registers its webhook on it.
    page.click(f"#choose-audience-{installation_id}")
    page.wait_for_url(_url(public_url, f"/installations/{installation_id}/audiences"))
    page.check(f"#audience-{list_id}")
    _shot(page, "04-choose-audience.png")
    page.click("#choose-audience")
    page.wait_for_url(_url(public_url, "/"))
    expect(page.locator("#messages")).to_contain_text(
        f"now follows the audience {AUDIENCE_NAME}", timeout=timeout
    )
    expect(card.locator(".audience")).to_have_text("Chosen", timeout=timeout)
    [hook] = _webhooks(mc, api_token, list_id)
    assert hook["url"].startswith(f"{public_url}/webhooks/mailchimp/{installation_id}/")
    _shot(page, "05-audience-chosen.png")

    # Disconnect, confirmed.
    page.click(f"#disconnect-{installation_id}")
    page.wait_for_url(_url(public_url, f"/installations/{installation_id}/uninstall"))
    expect(page.locator("#confirm-disconnect")).to_be_visible(timeout=timeout)
    _shot(page, "06-confirm-disconnect.png")
    page.click("#confirm-disconnect")
    page.wait_for_url(_url(public_url, "/disconnected"))
    expect(page.locator("#disconnected-heading")).to_have_text(
        "Mailchimp account disconnected", timeout=timeout
    )
    expect(page.locator("#cleanup-done")).to_be_visible(timeout=timeout)
    expect(page.locator("#remove-app")).to_be_visible(timeout=timeout)
    _shot(page, "07-disconnected.png")

    # Gone: no account card, and no webhook left at Mailchimp.
    page.click("text=Back to your accounts")
    page.wait_for_url(_url(public_url, "/"))
    expect(page.locator("article.account-card")).to_have_count(0, timeout=timeout)
    expect(page.locator("#no-accounts")).to_be_visible(timeout=timeout)
    _shot(page, FINAL_SCREENSHOT)
    assert _webhooks(mc, api_token, list_id) == []
    state = mc.get("/_emulator/state").json()
    hooks_left = state["accounts"][account["account_id"]]["stores"]["webhooks"]["webhooks"]
    assert all(not hooks for hooks in hooks_left.values())
