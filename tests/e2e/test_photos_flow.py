"""Photos both ways in a real browser: connect → Photos → Send to Mailchimp on one photo → it
is marked sent → the Mailchimp tab → Import an image → it is marked imported and is on the
platform.

Issue 6's end-to-end test, served like issue 5's (tests/e2e/test_sync_flow.py): the
emulator and chimplink's web app each on a real socket, Debian's Chromium driven by
Playwright. The platform is the demo platform (`CHIMPLINK_CONNECTOR=demo`) with 12
generated photos; the Mailchimp account's File Manager holds one image the user uploaded
there themselves. The Mailchimp tab's thumbnails load from the emulator's host, which the
tab's Content-Security-Policy allows (and the test checks the browser really drew them).

Screenshots go to `artifacts/e2e/photos/` under the repository root.
"""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
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

pytestmark = pytest.mark.served

SHOTS = ARTIFACTS / "photos"
CLIENT_ID = "e2e-photos-client"
CLIENT_SECRET = "e2e-photos-client-secret-8a2d41"
PLATFORM_SECRET = "platform-secret-for-the-photos-e2e-test-0123456789"
SESSION_SECRET = "session-secret-for-the-photos-e2e-test-0123456789a"
EMAIL = "owner@e2e-photo-editor.example"
ACCOUNT_NAME = "E2E Photo Editor"
PHOTOS = 12
SENT_KEY = "2"
FINAL_SCREENSHOT = "04-imported-on-the-platform.png"


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / name), full_page=True)


@pytest.fixture
def shots() -> Path:
    return fresh_shots(SHOTS)


def _logo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (90, 60), "darkorange").save(out, "PNG")
    return out.getvalue()


def _files(mc: httpx.Client, token: str) -> list[dict[str, Any]]:
    response = mc.get(
        "/3.0/file-manager/files",
        params={"count": 1000},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    files: list[dict[str, Any]] = response.json()["files"]
    return files


def _platform_photos(path: Path) -> dict[str, bytes]:
    """Every photo on the demo platform: name → bytes."""

    async def read() -> dict[str, bytes]:
        platform = await DemoPlatform.open(path)
        try:
            found = await platform.photos.find(limit=1000)
            return {p.name: await platform.photos.read(p.key) for p in found}
        finally:
            await platform.aclose()

    return asyncio.run(read())


def test_send_a_photo_and_import_an_image_in_chromium(
    emulator: ServedEmulator,
    shots: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    platform_db = tmp_path / "platform.db"

    async def make_platform() -> None:
        platform = await DemoPlatform.create(platform_db, contacts=0, photos=PHOTOS)
        await platform.aclose()

    asyncio.run(make_platform())
    logo = _logo()

    with httpx.Client(base_url=emulator.url, timeout=30) as mc:
        account = mailchimp_account(
            mc,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            public_url=public_url,
            account_name=ACCOUNT_NAME,
            email=EMAIL,
        )
        token = account["access_token"]
        uploaded = mc.post(
            "/3.0/file-manager/files",
            headers={"Authorization": f"Bearer {token}"},
            json={"name": "campaign-logo.png", "file_data": base64.b64encode(logo).decode()},
        )
        assert uploaded.status_code == 200, uploaded.text
        logo_id = uploaded.json()["id"]

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
            _journey(page, mc, emulator, public_url, account, logo_id)

        files = _files(mc, token)
        assert len(files) == 2  # the user's logo and the one photo sent: no duplicate
    assert _platform_photos(platform_db)["campaign-logo.png"] == logo  # imported, byte for byte
    assert (shots / FINAL_SCREENSHOT).stat().st_size > 0


def _drawn(page: Page, selector: str) -> bool:
    """Whether the browser loaded and decoded the image (a CSP block leaves it at 0 wide)."""
    return bool(page.locator(selector).evaluate("img => img.complete && img.naturalWidth > 0"))


def _journey(
    page: Page,
    mc: httpx.Client,
    emulator: ServedEmulator,
    public_url: str,
    account: dict[str, Any],
    logo_id: int,
) -> None:
    timeout = TIMEOUT_MS
    link = mint_link(
        public_url=public_url, platform_secret=PLATFORM_SECRET, tenant="u-photos", name="Pat Oto"
    )
    page.goto(link)
    page.wait_for_url(url(public_url, "/"))

    # Connect: Mailchimp's consent page (the emulator), Allow, back home.
    page.click("#connect-button")
    page.wait_for_url(url(emulator.url, "/oauth2/authorize"))
    page.locator(f'input[name="account_id"][value="{account["account_id"]}"]').check()
    page.click('button[name="decision"][value="allow"]')
    page.wait_for_url(url(public_url, "/"))
    installation_id = page.locator("article.account-card").get_attribute("data-installation-id")
    assert installation_id
    base = f"/installations/{installation_id}/photos"

    # The Photos page: every photo, none sent yet, with its thumbnail.
    page.click(f"#photos-{installation_id}")
    page.wait_for_url(url(public_url, base))
    photos = page.locator("li.photo")
    expect(photos).to_have_count(PHOTOS, timeout=timeout)
    sent = page.locator(f"#photo-{SENT_KEY}")
    expect(sent).to_have_attribute("data-status", "not sent", timeout=timeout)
    expect(sent.locator(".badge")).to_have_text("Not sent", timeout=timeout)
    sent.locator("img").scroll_into_view_if_needed()
    expect(sent.locator("img")).to_have_js_property("complete", True, timeout=timeout)
    assert _drawn(page, f"#photo-{SENT_KEY} img")
    _shot(page, "01-photos-not-sent.png")

    # Send to Mailchimp on one photo: it is marked sent, with its link in Mailchimp.
    page.click(f"#send-{SENT_KEY}")
    page.wait_for_url(url(public_url, base))
    expect(page.locator("#messages")).to_contain_text(
        "was sent to Mailchimp's File Manager", timeout=timeout
    )
    expect(sent).to_have_attribute("data-status", "sent", timeout=timeout)
    expect(sent.locator(".badge")).to_have_text("Sent", timeout=timeout)
    link_in_mailchimp = sent.locator("a.mailchimp-link")
    expect(link_in_mailchimp).to_be_visible(timeout=timeout)
    href = link_in_mailchimp.get_attribute("href") or ""
    assert href.startswith(f"{emulator.url}/files/"), href
    expect(page.locator('li.photo[data-status="sent"]')).to_have_count(1, timeout=timeout)
    assert len(_files(mc, account["access_token"])) == 2
    _shot(page, "02-photo-sent.png")

    # The Mailchimp tab: the user's own image, not imported yet, its thumbnail drawn.
    page.click("#tab-mailchimp")
    page.wait_for_url(url(public_url, f"{base}/mailchimp"))
    image = page.locator(f"#image-{logo_id}")
    expect(image).to_have_attribute("data-imported", "false", timeout=timeout)
    expect(image).to_contain_text("90 × 60", timeout=timeout)
    expect(image.locator("img")).to_have_js_property("complete", True, timeout=timeout)
    assert _drawn(page, f"#image-{logo_id} img")
    expect(page.locator("li.photo")).to_have_count(2, timeout=timeout)
    expect(page.locator("li.photo", has_text="Sent from your platform")).to_have_count(
        1, timeout=timeout
    )

    # Import it: marked imported.
    page.click(f"#import-{logo_id}")
    page.wait_for_url(url(public_url, f"{base}/mailchimp"))
    expect(page.locator("#messages")).to_contain_text(
        "campaign-logo.png was imported into your platform", timeout=timeout
    )
    expect(image).to_have_attribute("data-imported", "true", timeout=timeout)
    expect(image.locator(".badge-imported")).to_have_text("Imported", timeout=timeout)
    _shot(page, "03-image-imported.png")

    # Back on the Photos tab: the imported image is one of the platform's photos now.
    page.click("#tab-photos")
    page.wait_for_url(url(public_url, base))
    expect(photos).to_have_count(PHOTOS + 1, timeout=timeout)
    expect(page.locator("li.photo", has_text="campaign-logo.png")).to_have_count(1, timeout=timeout)
    _shot(page, FINAL_SCREENSHOT)
