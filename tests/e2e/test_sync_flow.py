"""Contact sync in a real browser: connect → audience → field mapping → preview → Sync now →
the run's counts and an "invalid email" outcome on the sync page.

Issue 5's end-to-end test, served like issue 4's (tests/e2e/test_connect_flow.py):
the emulator and chimplink's web app each on a real socket, Debian's Chromium
driven by Playwright. The platform is the demo platform (`CHIMPLINK_CONNECTOR=demo`)
with 40 contacts, 4 of them with an invalid or fake email. "Sync now" runs in
the app's embedded job runner; the sync page reloads itself (a `Refresh`
header, no script) until the run has finished.

Screenshots go to `artifacts/e2e/sync/` under the repository root.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from chimplink.emulator.testing import ServedEmulator, free_port
from chimplink.platforms.demo import DemoPlatform
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

SHOTS = ARTIFACTS / "sync"
CLIENT_ID = "e2e-sync-client"
CLIENT_SECRET = "e2e-sync-client-secret-4f1c7e"
PLATFORM_SECRET = "platform-secret-for-the-sync-e2e-test-0123456789ab"
SESSION_SECRET = "session-secret-for-the-sync-e2e-test-0123456789ab"
EMAIL = "owner@e2e-florist.example"
ACCOUNT_NAME = "E2E Florist"
AUDIENCE_NAME = "Florist customers"
CONTACTS = 40
INVALID = 4
FINAL_SCREENSHOT = "05-invalid-email-outcomes.png"


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / name), full_page=True)


@pytest.fixture
def shots() -> Path:
    return fresh_shots(SHOTS)


def _members(mc: httpx.Client, token: str, list_id: str) -> list[dict[str, Any]]:
    response = mc.get(
        f"/3.0/lists/{list_id}/members",
        params={"count": 1000},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    members: list[dict[str, Any]] = response.json()["members"]
    return members


def _writes(mc: httpx.Client, account_id: str) -> int:
    requests = mc.get("/_emulator/stats").json()["accounts"][account_id]["requests"]
    return sum(
        sum(statuses.values())
        for operation, statuses in requests.items()
        if not operation.startswith("GET ")
    )


def test_map_preview_and_sync_in_chromium(
    emulator: ServedEmulator,
    shots: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    platform_db = tmp_path / "platform.db"

    async def make_platform() -> None:
        platform = await DemoPlatform.create(
            platform_db, contacts=CONTACTS, invalid_share=INVALID / CONTACTS
        )
        await platform.aclose()

    asyncio.run(make_platform())

    with httpx.Client(base_url=emulator.url, timeout=30) as mc:
        account = mailchimp_account(
            mc,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            public_url=public_url,
            account_name=ACCOUNT_NAME,
            email=EMAIL,
        )
        created = mc.post(
            "/3.0/lists",
            headers={"Authorization": f"Bearer {account['access_token']}"},
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
            connector="demo",
            connector_url=str(platform_db),
        )
        with serve_web_app(create_app(settings), port), chromium_page(shots) as page:
            _journey(page, mc, emulator, public_url, account, list_id)

        members = _members(mc, account["access_token"], list_id)
        assert len(members) == CONTACTS - INVALID
    assert (shots / FINAL_SCREENSHOT).stat().st_size > 0


def _journey(
    page: Page,
    mc: httpx.Client,
    emulator: ServedEmulator,
    public_url: str,
    account: dict[str, Any],
    list_id: str,
) -> None:
    timeout = TIMEOUT_MS
    link = mint_link(
        public_url=public_url, platform_secret=PLATFORM_SECRET, tenant="u-sync", name="Flo Rist"
    )
    page.goto(link)
    page.wait_for_url(url(public_url, "/"))

    # Connect: Mailchimp's consent page (the emulator), Allow, back home.
    page.click("#connect-button")
    page.wait_for_url(url(emulator.url, "/oauth2/authorize"))
    page.locator(f'input[name="account_id"][value="{account["account_id"]}"]').check()
    page.click('button[name="decision"][value="allow"]')
    page.wait_for_url(url(public_url, "/"))
    card = page.locator("article.account-card")
    installation_id = card.get_attribute("data-installation-id")
    assert installation_id
    base = f"/installations/{installation_id}"

    # Choose the audience: the mapping form is the next step.
    page.click(f"#choose-audience-{installation_id}")
    page.check(f"#audience-{list_id}")
    page.click("#choose-audience")
    page.wait_for_url(url(public_url, f"{base}/sync/settings"))
    expect(page.locator("#messages")).to_contain_text(AUDIENCE_NAME, timeout=timeout)
    expect(page.locator('input[name="tag.first_name"]')).to_have_value("FNAME", timeout=timeout)
    expect(page.locator('input[name="tag.lifetime_value"]')).to_have_value(
        "LIFETIMEVA", timeout=timeout
    )
    expect(page.locator("#erase_permanently")).not_to_be_checked(timeout=timeout)

    # A wrong tag comes back with its message; nothing is saved.
    page.fill('input[name="tag.plan"]', "SUBSCRIPTION PLAN")
    page.click("#save-settings")
    expect(page.locator("#form-errors")).to_contain_text("Nothing was saved", timeout=timeout)
    expect(page.locator("#form-errors")).to_contain_text("at most 10", timeout=timeout)
    _shot(page, "01-mapping-with-an-error.png")
    page.fill('input[name="tag.plan"]', "plan")
    page.uncheck('input[name="sync.company"]')
    _shot(page, "02-mapping.png")

    # Save and preview: counts and samples, nothing written to Mailchimp.
    writes = _writes(mc, account["account_id"])
    page.click("#save-and-preview")
    expect(page.locator("#page-title")).to_have_text(
        "Preview: what a sync would do", timeout=timeout
    )
    expect(page.locator("#count-read")).to_have_text(str(CONTACTS), timeout=timeout)
    expect(page.locator("#sample-create")).to_be_visible(timeout=timeout)
    expect(page.locator("#sample-fail")).to_contain_text("Invalid email", timeout=timeout)
    assert _writes(mc, account["account_id"]) == writes
    assert _members(mc, account["access_token"], list_id) == []
    _shot(page, "03-preview.png")

    # Sync now: the page follows the run until it is complete.
    page.click("#sync-now")
    page.wait_for_url(url(public_url, f"{base}/sync"))
    status = page.locator("#sync-status")
    expect(status).to_have_attribute("data-state", "completed", timeout=timeout)
    expect(status).to_contain_text(
        f"{CONTACTS - INVALID} added, 0 updated, 0 unchanged, {INVALID} failed", timeout=timeout
    )
    expect(page.locator("#run-1")).to_have_attribute("data-status", "completed", timeout=timeout)
    _shot(page, "04-synced.png")

    # The failed records, by outcome: an "invalid email" each, with the address.
    page.click("#filter-parked")
    page.wait_for_url(url(public_url, f"{base}/sync"))
    rows = page.locator("tr.record")
    expect(rows).to_have_count(INVALID, timeout=timeout)
    for index in range(INVALID):
        row = rows.nth(index)
        expect(row.locator(".reason-category")).to_have_text("Invalid email", timeout=timeout)
        expect(row.locator(".email")).not_to_be_empty(timeout=timeout)
    _shot(page, FINAL_SCREENSHOT)

    # Home: the account's sync status line.
    page.click("#back-home")
    page.wait_for_url(url(public_url, "/"))
    expect(page.locator(f"#sync-status-{installation_id}")).to_contain_text(
        "complete", timeout=timeout
    )
