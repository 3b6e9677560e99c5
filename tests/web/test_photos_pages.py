"""The Photos pages: the platform's photos with their Mailchimp status and Send, the Mailchimp
tab with Import, thumbnails, background transfers, and every kind of bad input.

Real app, real emulator (in-process), real database (SQLite and PostgreSQL), and the
demo platform as the connector with 30 generated photos (PNG, JPEG and GIF in three
albums). The job runner runs, as in `chimplink serve`, so "Send all" and "Import all"
really run in the background. What reached Mailchimp is read from the emulator's File
Manager API and its per-account request stats.
"""

from __future__ import annotations

import asyncio
import base64
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from chimplink.platforms.demo import DemoPlatform
from chimplink.store import mark_needs_reconnect
from chimplink.store.files import UploadStatus, set_upload, start_upload
from chimplink.web.routes.photos import PAGE_SIZE, THUMBNAIL_SIDE, transfer_job_name
from tests.web.harness import MAILCHIMP_URL, Browser, World, csrf_in, installations_of, open_world

EMAIL = "owner@photo-studio.example"
PHOTOS = 30
_PHOTO_ROW = re.compile(
    r'<li class="photo [^"]*" id="photo-([^"]+)" data-key="[^"]+" data-status="([^"]+)"'
)
_IMAGE_ROW = re.compile(r'id="image-(\d+)" data-file-id="\d+" data-imported="(true|false)"')


@pytest.fixture
async def platform_db(tmp_path: Path) -> Path:
    path = tmp_path / "platform.db"
    platform = await DemoPlatform.create(path, contacts=0, photos=PHOTOS)
    await platform.aclose()
    return path


@pytest.fixture
async def world(database_url: str, platform_db: Path) -> AsyncIterator[World]:
    async with open_world(
        database_url, run_jobs=True, connector="demo", connector_url=str(platform_db)
    ) as opened:
        yield opened


@pytest.fixture
async def platform(platform_db: Path) -> AsyncIterator[DemoPlatform]:
    opened = await DemoPlatform.open(platform_db)
    try:
        yield opened
    finally:
        await opened.aclose()


@dataclass
class Studio:
    """One tenant connected to one Mailchimp account, with a browser signed in."""

    world: World
    browser: Browser
    installation_id: str
    token: str
    account_id: str

    @property
    def base(self) -> str:
        return f"/installations/{self.installation_id}/photos"

    async def get(self, path: str = "", **kwargs: Any) -> httpx.Response:
        return await self.browser.get(self.base + path, **kwargs)

    async def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return await self.browser.post(self.base + path, data=data)

    async def csrf(self) -> str:
        return csrf_in(await self.browser.get(f"/installations/{self.installation_id}/uninstall"))

    async def send(self, key: str, **extra: str) -> httpx.Response:
        return await self.post("/send", {"csrf_token": await self.csrf(), "key": key, **extra})

    async def files(self) -> list[dict[str, Any]]:
        """Every file in the account's File Manager, as Mailchimp lists it."""
        response = await self.world.mailchimp.client.get(
            "/3.0/file-manager/files",
            params={"count": 1000},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 200, response.text
        files: list[dict[str, Any]] = response.json()["files"]
        return files

    async def upload(self, name: str, data: bytes) -> int:
        """A file the user put in their File Manager themselves."""
        response = await self.world.mailchimp.client.post(
            "/3.0/file-manager/files",
            headers={"Authorization": f"Bearer {self.token}"},
            json={"name": name, "file_data": base64.b64encode(data).decode()},
        )
        assert response.status_code == 200, response.text
        file_id: int = response.json()["id"]
        return file_id

    async def requests(self) -> dict[str, int]:
        """Calls the emulator answered for the account, by operation."""
        stats = await self.world.mailchimp.api_stats()
        found = stats["accounts"].get(self.account_id, {}).get("requests", {})
        return {operation: sum(statuses.values()) for operation, statuses in found.items()}

    async def wait_for_transfer(self) -> None:
        runner = self.world.app.state.chimplink.runner
        async with asyncio.timeout(60):
            while True:
                activity = runner.activity(transfer_job_name(self.installation_id))
                if activity is not None and not activity.running:
                    return
                await asyncio.sleep(0.02)


async def _connected(world: World, tenant: str = "studio-1", email: str = EMAIL) -> Studio:
    account = await world.mailchimp.account("Photo Studio", email)
    browser = world.browser()
    await browser.enter(tenant)
    assert (await browser.connect(email)).status_code == 303
    [installation] = await installations_of(world, tenant)
    return Studio(world, browser, installation.id, account["access_token"], account["account_id"])


def _statuses(page: httpx.Response) -> dict[str, str]:
    return dict(_PHOTO_ROW.findall(page.text))


def _flashes(page: httpx.Response) -> str:
    return " ".join(re.findall(r'<p class="flash flash-\w+">([^<]*)</p>', page.text))


def _png(size: tuple[int, int], color: str = "orange") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


# -- the photos page ------------------------------------------------------------------------


async def test_the_photos_page_lists_photos_not_sent_with_paging(
    world: World, platform: DemoPlatform
) -> None:
    studio = await _connected(world)
    home = await studio.browser.get("/")
    assert f'href="{studio.base}"' in home.text  # the card links to the Photos page

    page = await studio.get()
    assert page.status_code == 200, page.text
    first = _statuses(page)
    assert len(first) == PAGE_SIZE
    assert set(first.values()) == {"not sent"}
    assert page.text.count(">Send to Mailchimp</button>") == PAGE_SIZE
    first_photo = await platform.photos.get("1")
    assert first_photo is not None and first_photo.name in page.text
    assert re.search(r"(PNG|JPEG|GIF) · [\d.]+ (KB|bytes)", page.text)
    nxt = re.search(r'href="([^"]+)" id="next-page"', page.text)
    assert nxt is not None
    second = await studio.browser.get(nxt.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    rest = _statuses(second)
    assert len(rest) == PHOTOS - PAGE_SIZE and not set(rest) & set(first)
    assert 'id="next-page"' not in second.text and 'id="first-page"' in second.text


async def test_the_album_filter_shows_one_album(world: World, platform: DemoPlatform) -> None:
    studio = await _connected(world)
    summer = {p.key for p in await platform.photos.find(album="Summer")}
    assert 0 < len(summer) < PHOTOS
    page = await studio.get(params={"album": "Summer"})
    assert page.status_code == 200
    assert set(_statuses(page)) == summer
    assert "Send all of Summer" in page.text

    empty = await studio.get(params={"album": "No such album"})
    assert empty.status_code == 200 and _statuses(empty) == {}
    assert "has no photos" in empty.text


async def test_send_to_mailchimp_creates_exactly_one_file_and_marks_it_sent(
    world: World, platform: DemoPlatform
) -> None:
    studio = await _connected(world)
    photo = await platform.photos.get("3")
    assert photo is not None

    sent = await studio.send("3")
    assert sent.status_code == 303
    assert sent.headers["location"] == studio.base
    page = await studio.browser.get(sent.headers["location"])
    assert f"{photo.name} was sent to Mailchimp" in _flashes(page)
    assert _statuses(page)["3"] == "sent"
    [file] = await studio.files()
    assert file["size"] == photo.size
    assert file["name"].endswith(photo.name.rsplit(".", 1)[1])
    assert f'href="{file["full_size_url"]}" class="mailchimp-link"' in page.text
    assert sum(s == "sent" for s in _statuses(page).values()) == 1

    # Sending it again sends nothing: the same bytes are in Mailchimp already.
    again = await studio.browser.get((await studio.send("3")).headers["location"])
    assert "already in Mailchimp, unchanged" in _flashes(again)
    assert len(await studio.files()) == 1

    # Edited on the platform: marked changed, and the next Send uploads a new file.
    # (An edit moves the photo to the end of the platform's change order: look in its album.)
    await platform.photos.edit("3")
    album = {"album": photo.album or ""}
    changed = await studio.get(params=album)
    assert _statuses(changed)["3"] == "changed since sent"
    await studio.send("3")
    assert len(await studio.files()) == 2
    assert _statuses(await studio.get(params=album))["3"] == "sent"


async def test_send_keeps_the_album_and_page_the_button_was_on(world: World) -> None:
    studio = await _connected(world)
    sent = await studio.send("1", album="Summer")
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{studio.base}?album=Summer"

    nxt = re.search(r'href="[^"]+after=(\d+)" id="next-page"', (await studio.get()).text)
    assert nxt is not None
    second = await studio.get(params={"after": nxt.group(1)})
    assert f'<input type="hidden" name="after" value="{nxt.group(1)}">' in second.text
    key = next(iter(_statuses(second)))
    sent = await studio.send(key, after=nxt.group(1))
    assert sent.headers["location"] == f"{studio.base}?after={nxt.group(1)}"
    assert _statuses(await studio.browser.get(sent.headers["location"]))[key] == "sent"


async def test_an_oversized_photo_is_refused_before_any_call_with_the_limit_named(
    world: World, platform: DemoPlatform
) -> None:
    studio = await _connected(world)
    big = await platform.photos.add("poster.png", _png((50, 50)) + b"\0" * (10 << 20))
    before = await studio.requests()

    page = await studio.browser.get((await studio.send(big.key)).headers["location"])
    flash = _flashes(page)
    assert "poster.png was not sent" in flash
    assert "10 MB (10,485,760 bytes)" in flash
    assert await studio.requests() == before  # not one call, not even for the folder
    assert await studio.files() == []

    # The photo's row says so too, on the page that lists it (the second: it is the newest).
    nxt = re.search(r'href="([^"]+)" id="next-page"', (await studio.get()).text)
    assert nxt is not None
    listed = await studio.browser.get(nxt.group(1).replace("&amp;", "&"))
    assert _statuses(listed)[big.key] == "rejected"
    assert "accepts files of up to 10 MB" in listed.text


async def test_a_failed_upload_shows_its_reason_in_plain_words(
    world: World, platform: DemoPlatform
) -> None:
    """What the engine recorded for a photo it could not send is on the photo's row."""
    studio = await _connected(world)
    photo = await platform.photos.get("2")
    assert photo is not None and photo.content_hash is not None
    reason = "Mailchimp is busy right now. chimplink will try again on the next run."
    async with world.services.sessions.begin() as session:
        upload_id = await start_upload(
            session=session,
            installation_id=studio.installation_id,
            platform_key="2",
            content_hash=photo.content_hash,
            name=photo.name,
            size=photo.size,
        )
        await set_upload(
            session=session, upload_id=upload_id, status=UploadStatus.FAILED, message=reason
        )
    page = await studio.get()
    assert _statuses(page)["2"] == "failed"
    row = page.text[page.text.index('id="photo-2"') :].split("</li>", 1)[0]
    assert ">Failed</span>" in row
    assert f'<p class="photo-message">{reason}</p>' in row
    assert "Send to Mailchimp" in row  # the user may try again now


async def test_an_unknown_photo_key_sends_nothing(world: World) -> None:
    studio = await _connected(world)
    before = await studio.requests()
    for key in ("999999", "9" * 30, "not-a-key", "", "x" * 5000):
        refused = await studio.send(key)
        assert refused.status_code == 400, key
        assert "This photo is not on your platform" in refused.text
        assert "nothing was sent" in refused.text
    assert await studio.requests() == before
    assert await studio.files() == []


async def test_send_without_a_valid_csrf_token_changes_nothing(world: World) -> None:
    studio = await _connected(world)
    for data in ({"key": "1"}, {"key": "1", "csrf_token": "forged"}):
        for path in ("/send", "/send-all", "/mailchimp/import", "/mailchimp/import-all"):
            refused = await studio.post(path, {**data, "file_id": "1"})
            assert refused.status_code == 403, path
            assert "This form has expired" in refused.text
    assert await studio.files() == []
    assert (
        world.app.state.chimplink.runner.activity(transfer_job_name(studio.installation_id)) is None
    )


async def test_other_tenants_and_unknown_installations_get_the_one_404_page(
    world: World,
) -> None:
    owner = await _connected(world)
    other = await _connected(world, tenant="studio-2", email="someone@else.example")
    not_found = await other.browser.get("/no/such/page")
    assert not_found.status_code == 404
    token = await other.csrf()
    for installation_id in (owner.installation_id, "no-such-installation"):
        base = f"/installations/{installation_id}/photos"
        for path in ("", "/mailchimp", "/thumbnail?key=1"):
            answer = await other.browser.get(base + path)
            assert answer.status_code == 404, path
            assert answer.content == not_found.content
        for path in ("/send", "/send-all", "/mailchimp/import", "/mailchimp/import-all"):
            answer = await other.browser.post(
                base + path, data={"csrf_token": token, "key": "1", "file_id": "1"}
            )
            assert answer.status_code == 404, path
            assert answer.content == not_found.content
    assert await owner.files() == []


async def test_bad_page_links_get_a_clear_message(world: World) -> None:
    studio = await _connected(world)
    for params in ({"after": "not-a-cursor"}, {"after": "x" * 600}, {"album": "a" * 300}):
        answer = await studio.get(params=params)
        assert answer.status_code == 400, params
        assert "This list cannot be shown" in answer.text
    for offset in ("-1", "many", "99999999999"):
        answer = await studio.get("/mailchimp", params={"offset": offset})
        assert answer.status_code == 400, offset
        assert "Traceback" not in answer.text


# -- thumbnails ---------------------------------------------------------------------------


async def test_thumbnails_are_the_platform_photo_scaled_down(
    world: World, platform: DemoPlatform
) -> None:
    studio = await _connected(world)
    big = await platform.photos.add("wide.jpg", _jpeg((1600, 900)))
    page = await studio.get()
    assert f'src="{studio.base}/thumbnail?key=1"' in page.text

    answer = await studio.get("/thumbnail", params={"key": big.key})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/jpeg"
    assert "no-store" not in answer.headers["cache-control"]
    assert "private" in answer.headers["cache-control"]
    with Image.open(io.BytesIO(answer.content)) as image:
        assert image.size == (THUMBNAIL_SIDE, THUMBNAIL_SIDE * 900 // 1600)

    not_found = await studio.browser.get("/no/such/page")
    keys = ("999999", "9" * 30, "1" * 500, "nope", "")
    for params in [{"key": key} for key in keys] + [{}]:
        missing = await studio.get("/thumbnail", params=params)
        assert missing.status_code == 404, params
        assert missing.content == not_found.content
    not_an_image = await platform.photos.add("notes.png", b"this is not a picture")
    assert (await studio.get("/thumbnail", params={"key": not_an_image.key})).status_code == 404


def _jpeg(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "navy").save(out, "JPEG")
    return out.getvalue()


# -- Send all, in the background ------------------------------------------------------------


async def test_send_all_of_an_album_runs_in_the_background_with_progress_then_counts(
    world: World, platform: DemoPlatform
) -> None:
    studio = await _connected(world)
    summer = {p.key for p in await platform.photos.find(album="Summer")}
    started = await studio.post("/send-all", {"csrf_token": await studio.csrf(), "album": "Summer"})
    assert started.status_code == 303
    assert started.headers["location"] == f"{studio.base}?album=Summer"
    running = await studio.browser.get(started.headers["location"])
    assert "Sending the photos of Summer to Mailchimp has started" in _flashes(running)
    if 'data-running="true"' in running.text:
        assert running.headers["refresh"] == "2"
        assert "Sending photos to Mailchimp" in running.text

    await studio.wait_for_transfer()
    done = await studio.get(params={"album": "Summer"})
    assert "refresh" not in done.headers
    assert 'data-running="false"' in done.text
    assert f"Finished: {len(summer)} sent, 0 already in Mailchimp." in done.text
    assert set(_statuses(done).values()) == {"sent"}
    assert len(await studio.files()) == len(summer)
    others = _statuses(await studio.get(params={"album": "Team"}))
    assert set(others.values()) == {"not sent"}


async def test_buttons_start_nothing_while_a_transfer_runs(world: World) -> None:
    studio = await _connected(world)
    token = await studio.csrf()
    runner = world.app.state.chimplink.runner
    release = asyncio.Event()

    async def slow(report: Any) -> None:
        await release.wait()

    assert runner.spawn(transfer_job_name(studio.installation_id), slow)
    try:
        page = await studio.get()
        assert re.search(r'id="send-1" disabled', page.text)
        assert page.headers["refresh"] == "2"
        for path, data in (
            ("/send", {"key": "1"}),
            ("/send-all", {}),
            ("/mailchimp/import-all", {}),
        ):
            answer = await studio.post(path, {"csrf_token": token, **data})
            assert answer.status_code == 303, path
        flashed = await studio.get()
        assert "nothing new was started" in _flashes(flashed)
        assert await studio.files() == []
    finally:
        release.set()
        await studio.wait_for_transfer()


# -- the Mailchimp tab ----------------------------------------------------------------------


async def test_the_mailchimp_tab_lists_images_and_imports_one(
    world: World, platform: DemoPlatform
) -> None:
    studio = await _connected(world)
    data = _png((64, 48), "purple")
    file_id = await studio.upload("logo.png", data)
    await studio.upload("notes.txt", b"not an image")
    photos_before = await platform.photos.count()

    tab = await studio.get("/mailchimp")
    assert tab.status_code == 200, tab.text
    assert _IMAGE_ROW.findall(tab.text) == [(str(file_id), "false")]  # images only
    assert "64 × 48" in tab.text and "logo.png" in tab.text
    [file] = [f for f in await studio.files() if f["id"] == file_id]
    assert f'src="{file["thumbnail_url"]}"' in tab.text
    assert f'href="{file["full_size_url"]}" class="full-size"' in tab.text
    policy = tab.headers["content-security-policy"]
    assert f"img-src 'self' {MAILCHIMP_URL};" in policy
    assert "script-src" not in policy and "default-src 'none'" in policy
    # Only this tab's policy is widened.
    assert "img-src 'self';" in (await studio.get()).headers["content-security-policy"]

    imported = await studio.post(
        "/mailchimp/import",
        {"csrf_token": await studio.csrf(), "file_id": str(file_id), "offset": "0"},
    )
    assert imported.status_code == 303
    page = await studio.browser.get(imported.headers["location"])
    assert "logo.png was imported into your platform" in _flashes(page)
    assert _IMAGE_ROW.findall(page.text) == [(str(file_id), "true")]
    assert await platform.photos.count() == photos_before + 1
    [new] = [p for p in await platform.photos.find(limit=1000) if p.name == "logo.png"]
    assert await platform.photos.read(new.key) == data
    assert (new.width, new.height) == (64, 48)

    # Again: nothing changes.
    again = await studio.post(
        "/mailchimp/import", {"csrf_token": await studio.csrf(), "file_id": str(file_id)}
    )
    assert "already on your platform" in _flashes(
        await studio.browser.get(again.headers["location"])
    )
    assert await platform.photos.count() == photos_before + 1


async def test_a_sent_photo_shows_as_sent_from_the_platform_in_the_mailchimp_tab(
    world: World,
) -> None:
    studio = await _connected(world)
    await studio.send("1")
    tab = await studio.get("/mailchimp")
    assert "Sent from your platform" in tab.text


async def test_import_of_an_unknown_or_missing_image_imports_nothing(
    world: World, platform: DemoPlatform
) -> None:
    studio = await _connected(world)
    count = await platform.photos.count()
    for file_id in ("", "abc", "-3", "0", "9" * 40):
        refused = await studio.post(
            "/mailchimp/import", {"csrf_token": await studio.csrf(), "file_id": file_id}
        )
        assert refused.status_code == 400, file_id
        assert "nothing was imported" in refused.text
    gone = await studio.post(
        "/mailchimp/import", {"csrf_token": await studio.csrf(), "file_id": "424242"}
    )
    assert gone.status_code == 303
    page = await studio.browser.get(gone.headers["location"])
    assert "was not imported: No such file in Mailchimp." in _flashes(page)
    assert await platform.photos.count() == count


async def test_import_all_runs_in_the_background(world: World, platform: DemoPlatform) -> None:
    studio = await _connected(world)
    for number in range(3):
        await studio.upload(f"shot-{number}.png", _png((20 + number, 20), "green"))
    count = await platform.photos.count()
    started = await studio.post("/mailchimp/import-all", {"csrf_token": await studio.csrf()})
    assert started.status_code == 303
    assert started.headers["location"] == f"{studio.base}/mailchimp"
    await studio.wait_for_transfer()
    tab = await studio.get("/mailchimp")
    assert "Last import from Mailchimp: Finished: 3 imported" in tab.text
    assert {imported for _, imported in _IMAGE_ROW.findall(tab.text)} == {"true"}
    assert await platform.photos.count() == count + 3


async def test_the_mailchimp_tab_pages_through_images(world: World) -> None:
    studio = await _connected(world)
    for number in range(26):
        await studio.upload(f"p{number}.gif", _png((8, 8)))
    first = await studio.get("/mailchimp")
    assert len(_IMAGE_ROW.findall(first.text)) == 24
    assert f'href="{studio.base}/mailchimp?offset=24" id="next-page"' in first.text
    second = await studio.get("/mailchimp", params={"offset": 24})
    assert len(_IMAGE_ROW.findall(second.text)) == 2
    assert 'id="previous-page"' in second.text and 'id="next-page"' not in second.text


# -- platforms without photos, uninstall ----------------------------------------------------


async def test_a_platform_without_photos_says_so_plainly(database_url: str) -> None:
    async with open_world(database_url, run_jobs=True, connector="push") as world:
        studio = await _connected(world)
        for answer in (
            await studio.get(),
            await studio.get("/mailchimp"),
            await studio.send("1"),
            await studio.post("/send-all", {"csrf_token": await studio.csrf()}),
        ):
            assert answer.status_code == 409
            assert "This platform has no photos for Mailchimp" in answer.text
        thumbnail = await studio.get("/thumbnail", params={"key": "1"})
        assert thumbnail.status_code == 404


async def test_the_uninstall_page_says_files_stay_in_mailchimp(world: World) -> None:
    studio = await _connected(world)
    page = await studio.browser.get(f"/installations/{studio.installation_id}/uninstall")
    assert "stay in your Mailchimp File Manager" in page.text


async def test_a_paused_installation_asks_for_a_reconnect(world: World) -> None:
    studio = await _connected(world)
    async with world.services.sessions.begin() as session:
        await mark_needs_reconnect(session=session, installation_id=studio.installation_id)
    for answer in (await studio.get(), await studio.get("/mailchimp"), await studio.send("1")):
        assert answer.status_code == 409
        assert "Reconnect your Mailchimp account" in answer.text
        assert 'href="/connect"' in answer.text
    assert await studio.files() == []
