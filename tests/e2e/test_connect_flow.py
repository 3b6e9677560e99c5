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

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from chimplink.emulator.testing import ServedEmulator, free_port
from chimplink.web import create_app, mint_link
from tests.e2e._stack import (
    ARTIFACTS,
    TIMEOUT_MS,
    chromium_page,
    fresh_shots,
    mailchimp_account,
    serve_web_app,
    served_settings,
    url,
)
from tests.web.harness import LIST_BODY

pytestmark = pytest.mark.served

CLIENT_ID = "e2e-client"
CLIENT_SECRET = "e2e-client-secret-6b0d9a"
PLATFORM_SECRET = "platform-secret-for-the-e2e-test-0123456789abcdef"
SESSION_SECRET = "session-secret-for-the-e2e-test-0123456789abcdef"
EMAIL = "owner@e2e-bakery.example"
ACCOUNT_NAME = "E2E Bakery"
AUDIENCE_NAME = "Bakery customers"
FINAL_SCREENSHOT = "08-home-after-disconnect.png"


def _webhooks(mc: httpx.Client, token: str, list_id: str) -> list[dict[str, Any]]:
    response = mc.get(
        f"/3.0/lists/{list_id}/webhooks", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    hooks: list[dict[str, Any]] = response.json()["webhooks"]
    return hooks


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.fixture
def artifacts() -> Path:
    return fresh_shots(ARTIFACTS)


def test_connect_choose_an_audience_and_disconnect_in_chromium(
    emulator: ServedEmulator,
    artifacts: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"

    with httpx.Client(base_url=emulator.url, timeout=30) as mc:
        account = mailchimp_account(
            mc,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            public_url=public_url,
            account_name=ACCOUNT_NAME,
            email=EMAIL,
        )
        api_token = account["access_token"]  # the test's own token, to look at the account
        created = mc.post(
            "/3.0/lists",
            headers={"Authorization": f"Bearer {api_token}"},
            json={"name": AUDIENCE_NAME, **LIST_BODY},
        )
        assert created.status_code == 200, created.text
        list_id = created.json()["id"]

        settings = served_settings(
            monkeypatch,
            tmp_path,
            public_url=public_url,
            emulator_url=emulator.url,
            mailchimp_client_id=CLIENT_ID,
            mailchimp_client_secret=CLIENT_SECRET,
            platform_secret=PLATFORM_SECRET,
            session_secret=SESSION_SECRET,
        )
        with serve_web_app(create_app(settings), port), chromium_page(artifacts) as page:
            _journey(page, mc, emulator, public_url, account, list_id)

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
    page.wait_for_url(url(public_url, "/"))
    expect(page.locator("#signed-in-as")).to_contain_text("Ann Baker", timeout=timeout)
    expect(page.locator("#no-accounts")).to_be_visible(timeout=timeout)
    _shot(page, "01-platform-home.png")

    # Connect → Mailchimp's consent page (the emulator, another origin).
    page.click("#connect-button")
    page.wait_for_url(url(emulator.url, "/oauth2/authorize"))
    expect(page.locator("#app-name")).to_be_visible(timeout=timeout)
    account_choice = page.locator(f'input[name="account_id"][value="{account["account_id"]}"]')
    account_choice.check()
    expect(account_choice).to_be_checked(timeout=timeout)
    _shot(page, "02-consent.png")

    # Allow → chimplink's callback → back home, off the URL with the code and state.
    page.click('button[name="decision"][value="allow"]')
    page.wait_for_url(url(public_url, "/"))
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
    page.wait_for_url(url(public_url, f"/installations/{installation_id}/audiences"))
    page.check(f"#audience-{list_id}")
    _shot(page, "04-choose-audience.png")
    page.click("#choose-audience")
    page.wait_for_url(url(public_url, "/"))
    expect(page.locator("#messages")).to_contain_text(
        f"now follows the audience {AUDIENCE_NAME}", timeout=timeout
    )
    expect(card.locator(".audience")).to_have_text("Chosen", timeout=timeout)
    [hook] = _webhooks(mc, api_token, list_id)
    assert hook["url"].startswith(f"{public_url}/webhooks/mailchimp/{installation_id}/")
    _shot(page, "05-audience-chosen.png")

    # Disconnect, confirmed.
    page.click(f"#disconnect-{installation_id}")
    page.wait_for_url(url(public_url, f"/installations/{installation_id}/uninstall"))
    expect(page.locator("#confirm-disconnect")).to_be_visible(timeout=timeout)
    _shot(page, "06-confirm-disconnect.png")
    page.click("#confirm-disconnect")
    page.wait_for_url(url(public_url, "/disconnected"))
    expect(page.locator("#disconnected-heading")).to_have_text(
        "Mailchimp account disconnected", timeout=timeout
    )
    expect(page.locator("#cleanup-done")).to_be_visible(timeout=timeout)
    expect(page.locator("#remove-app")).to_be_visible(timeout=timeout)
    _shot(page, "07-disconnected.png")

    # Gone: no account card, and no webhook left at Mailchimp.
    page.click("text=Back to your accounts")
    page.wait_for_url(url(public_url, "/"))
    expect(page.locator("article.account-card")).to_have_count(0, timeout=timeout)
    expect(page.locator("#no-accounts")).to_be_visible(timeout=timeout)
    _shot(page, FINAL_SCREENSHOT)
    assert _webhooks(mc, api_token, list_id) == []
    state = mc.get("/_emulator/state").json()
    hooks_left = state["accounts"][account["account_id"]]["stores"]["webhooks"]["webhooks"]
    assert all(not hooks for hooks in hooks_left.values())
