"""What goes wrong, per file and per run: Mailchimp refusing a file, a folder deleted
mid-run, a previous version that cannot be deleted, downloads that fail or come back
short, a platform that cannot be read or written, a broken progress bar."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from chimplink.platforms import ConnectorError, Photo
from chimplink.platforms.demo import DemoConnector
from chimplink.store.files import (
    UploadStatus,
    get_folder,
    list_file_runs,
    load_uploads,
    photo_states,
)
from chimplink.store.sync_state import RunStatus
from chimplink.sync.files import FileAction, FileOptions, FileProgress
from tests.files.conftest import UPLOAD, FilesEnv, Intercept, image_bytes


def _problem(status: int, title: str, detail: str, errors: list[dict[str, str]]) -> httpx.Response:
    return httpx.Response(
        status,
        json={"type": "about:blank", "title": title, "status": status, "detail": detail,
              "instance": "i-1", "errors": errors},
        headers={"content-type": "application/problem+json"},
    )  # fmt: skip


def _refuse(name_part: str, field: str = "file_data") -> Intercept:
    """Answer uploads whose name holds `name_part` with a 400 naming `field`."""

    def intercept(request: httpx.Request, body: bytes) -> httpx.Response | None:
        upload = request.method == "POST" and request.url.path.endswith("/file-manager/files")
        if not upload or name_part not in json.loads(body)["name"]:
            return None
        errors = [{"field": field, "message": "Corrupt image."}]
        return _problem(400, "Invalid Resource", "The resource could not be validated.", errors)

    return intercept


class Unhashed(DemoConnector):
    """A platform that keeps no content hash: chimplink hashes the bytes itself."""

    async def photos(
        self, *, after: str | None, page_size: int, album: str | None = None
    ) -> AsyncIterator[list[Photo]]:
        async for page in super().photos(after=after, page_size=page_size, album=album):
            yield [replace(p, content_hash=None) for p in page]


class Broken(DemoConnector):
    """Reading photo 2 fails; writing always fails; listing fails after `list_ok` pages."""

    list_ok = 10**6

    async def read_photo(self, key: str) -> bytes:
        if key == "2":
            raise ConnectorError("disk error")
        return await super().read_photo(key)

    async def write_photo(self, **kwargs: object) -> Photo:  # type: ignore[override]
        raise ConnectorError("the library is read-only")

    async def photos(
        self, *, after: str | None, page_size: int, album: str | None = None
    ) -> AsyncIterator[list[Photo]]:
        pages = 0
        async for page in super().photos(after=after, page_size=page_size, album=album):
            if pages >= self.list_ok:
                raise ConnectorError("the photo service is down")
            pages += 1
            yield page


async def test_a_file_mailchimp_refuses_is_final_until_it_changes(env: FilesEnv) -> None:
    target = (await env.platform.photos.find(limit=3))[2]
    stem = target.name.rsplit(".", 1)[0]
    env.transport.intercept = _refuse(stem)
    report = await env.push()
    assert (report.uploaded, report.rejected) == (8, {"refused by Mailchimp": 1})
    assert report.status is RunStatus.COMPLETED
    (refused,) = [o for o in report.outcomes if o.action is FileAction.REJECTED]
    assert refused.key == target.key
    assert (
        refused.detail
        and "Corrupt image" in refused.detail
        and "Invalid Resource" in refused.detail
    )

    posts = env.transport.paths[f"POST /3.0{UPLOAD.split()[1]}"]
    again = await env.push()
    assert again.rejected == {"refused by Mailchimp": 1} and again.uploaded == 0
    assert env.transport.paths[f"POST /3.0{UPLOAD.split()[1]}"] == posts  # not sent again
    env.transport.intercept = None
    await env.platform.photos.edit(target.key)
    fixed = await env.push()
    assert (fixed.uploaded, fixed.replaced) == (1, 0)  # the refused version never was live


async def test_a_folder_deleted_during_the_run_stops_it_and_is_made_again(env: FilesEnv) -> None:
    env.transport.intercept = _refuse("", field="folder_id")
    report = await env.push(options=FileOptions(workers=1))
    assert report.status is RunStatus.FAILED
    assert report.message and "folder was deleted" in report.message
    assert report.uploaded == 0
    env.transport.intercept = None
    async with env.db.sessions() as session:
        assert await get_folder(session=session, installation_id=env.installation_id) is None
    # As Mailchimp said (the answer above was the test's): the folder is gone.
    await env.api("DELETE", f"/file-manager/folders/{report.folder_id}")
    again = await env.push()
    assert again.status is RunStatus.COMPLETED and again.uploaded == 9
    assert again.folder_id != report.folder_id


async def test_previous_versions_already_gone_or_undeletable(env: FilesEnv) -> None:
    await env.push()
    options = FileOptions(workers=1, delete_replaced=True)
    async with env.db.sessions() as session:
        (first,) = (await load_uploads(session=session, installation_id=env.installation_id,
                                       keys=["1"]))["1"]  # fmt: skip
    await env.api("DELETE", f"/file-manager/files/{first.file_id}")  # the user deleted it
    await env.platform.photos.edit("1")
    gone = await env.push(options=options)
    assert (gone.replaced, gone.deleted_old) == (1, 1)

    await env.fault("503", operation="DELETE /file-manager/files/{file_id}", count=50)
    await env.platform.photos.edit("2")
    stuck = await env.push(options=options)
    assert stuck.status is RunStatus.COMPLETED
    assert (stuck.replaced, stuck.deleted_old) == (1, 0)
    async with env.db.sessions() as session:
        history = await load_uploads(
            session=session, installation_id=env.installation_id, keys=["1", "2"]
        )
    assert history["1"][0].status is UploadStatus.DELETED
    kept = history["2"][0]
    assert kept.status is UploadStatus.SUPERSEDED
    assert kept.message and kept.message.startswith("Replaced, but deleting it in Mailchimp failed")
    assert history["2"][1].replaces_id == kept.id


async def test_a_platform_without_hashes_is_hashed_by_chimplink(env: FilesEnv) -> None:
    library = Unhashed(env.platform)
    first = await env.push(library=library)
    assert first.uploaded == 9
    again = await env.push(library=library)
    assert (again.uploaded, again.unchanged) == (0, 9)
    await env.platform.photos.edit("4")
    edited = await env.push(library=library)
    assert (edited.uploaded, edited.replaced) == (1, 1)


async def test_platform_failures_per_photo_and_per_run(env: FilesEnv) -> None:
    library = Broken(env.platform)
    report = await env.push(library=library)
    assert report.uploaded == 8
    assert report.failed == {"platform could not read it": 1}
    assert report.status is RunStatus.FAILED
    library.list_ok = 0
    stopped = await env.push(library=library)
    assert stopped.status is RunStatus.FAILED
    assert stopped.message == "The platform's photos could not be read: the photo service is down"

    await env.upload_direct("theirs.png", image_bytes("PNG"))
    pulled = await env.pull(library=library)
    assert pulled.failed == {"platform could not store it": 1}
    assert pulled.imported == 0 and pulled.status is RunStatus.FAILED


async def test_downloads_that_fail_or_come_back_short(env: FilesEnv) -> None:
    short = await env.upload_direct("short.png", image_bytes("PNG", (30, 30)))
    down = await env.upload_direct("down.png", image_bytes("PNG", (31, 31)))

    def intercept(request: httpx.Request, body: bytes) -> httpx.Response | None:
        if request.url.path.startswith(f"/files/{env.account_id}/{short['id']}/"):
            return httpx.Response(200, content=b"\x89PNG")
        if request.url.path.startswith(f"/files/{env.account_id}/{down['id']}/"):
            return httpx.Response(503, text="busy")
        return None

    env.transport.intercept = intercept
    report = await env.pull()
    assert report.imported == 0 and report.status is RunStatus.FAILED
    assert report.failed == {"incomplete download": 1, "Mailchimp error": 1}
    assert await env.platform.photos.count(album=None) == 9
    env.transport.intercept = None
    again = await env.pull()
    assert again.imported == 2 and again.status is RunStatus.COMPLETED


async def test_a_revoked_token_stops_a_pull(env: FilesEnv) -> None:
    await env.http.post("/_emulator/tokens/revoke", json={"access_token": env.token})
    report = await env.pull()
    assert report.status is RunStatus.NEEDS_RECONNECT


async def test_a_broken_progress_bar_does_not_stop_the_push(env: FilesEnv) -> None:
    seen: list[FileProgress] = []

    def progress(update: FileProgress) -> None:
        seen.append(update)
        raise RuntimeError("the terminal went away")

    report = await env.push(progress=progress)
    assert report.status is RunStatus.COMPLETED and report.uploaded == 9
    assert [u.done for u in seen] == list(range(1, 10))
    assert seen[-1].total == 9 and seen[-1].transferred == 9 and seen[-1].bytes > 0


async def test_an_unexpected_error_fails_the_run_and_is_raised(env: FilesEnv) -> None:
    class Exploding(DemoConnector):
        async def read_photo(self, key: str) -> bytes:
            raise RuntimeError("a bug in the platform's connector")

    with pytest.raises(RuntimeError, match="a bug"):
        await env.push(library=Exploding(env.platform))
    async with env.db.sessions() as session:
        (run,) = await list_file_runs(session=session, installation_id=env.installation_id)
        assert await photo_states(session=session, installation_id=env.installation_id) == {}
    assert run.status is RunStatus.FAILED
    assert run.message and "unexpected error" in run.message


async def test_a_404_on_an_upload_is_tried_again_later(env: FilesEnv) -> None:
    def intercept(request: httpx.Request, body: bytes) -> httpx.Response | None:
        upload = request.method == "POST" and request.url.path.endswith("/file-manager/files")
        if upload and json.loads(body)["name"].startswith("shoe-0001"):
            return _problem(
                404, "Resource Not Found", "The requested resource could not be found.", []
            )
        return None

    env.transport.intercept = intercept
    report = await env.push()
    assert report.uploaded == 8 and report.status is RunStatus.FAILED
    assert report.failed == {"Mailchimp error": 1}
    env.transport.intercept = None
    again = await env.push()
    assert (again.uploaded, again.unchanged) == (1, 8)
