"""What a Photos page shows: each photo's Mailchimp status, and the File Manager's
images with where they came from."""

from __future__ import annotations

from chimplink.sync.files import (
    FileOptions,
    PhotoSyncStatus,
    list_mailchimp_images,
    photo_states_page,
)
from tests.files.conftest import FilesEnv, image_bytes


async def _statuses(env: FilesEnv) -> dict[str, PhotoSyncStatus]:
    states = await photo_states_page(
        sessions=env.db.sessions, installation_id=env.installation_id, library=env.library
    )
    return {s.photo.key: s.status for s in states}


async def test_each_photo_shows_where_it_stands(env: FilesEnv) -> None:
    assert set((await _statuses(env)).values()) == {PhotoSyncStatus.NOT_SENT}
    webp = await env.platform.photos.add("cat.webp", b"RIFF\x10\0\0\0WEBPVP8 ")
    await env.fault("503")
    # One worker: photo 1's upload is the first, and the one answered 503.
    await env.push(keys=["1", "2", "3", webp.key], options=FileOptions(workers=1, retry_rounds=0))
    await env.platform.photos.edit("2")
    statuses = await _statuses(env)
    assert statuses == {
        "1": PhotoSyncStatus.SENDING,
        "2": PhotoSyncStatus.CHANGED,
        "3": PhotoSyncStatus.SENT,
        webp.key: PhotoSyncStatus.REJECTED,
        **{str(k): PhotoSyncStatus.NOT_SENT for k in range(4, 10)},
    }
    page = await photo_states_page(
        sessions=env.db.sessions,
        installation_id=env.installation_id,
        library=env.library,
        limit=2,
        after="000000000002",
    )
    assert [s.photo.key for s in page] == ["3", "4"]
    assert page[0].file_url is not None and page[0].file_url.startswith("http://mailchimp.test/")
    assert page[1].file_url is None and page[1].message is None
    rejected = await photo_states_page(
        sessions=env.db.sessions, installation_id=env.installation_id, library=env.library
    )
    (shown,) = [s for s in rejected if s.photo.key == webp.key]
    assert shown.message is not None and ".webp" in shown.message


async def test_mailchimp_images_say_where_they_came_from(env: FilesEnv) -> None:
    await env.push(keys=["1"])
    theirs = await env.upload_direct("theirs.png", image_bytes("PNG"))
    await env.upload_direct("notes.txt", b"text")
    await env.pull(file_ids=[theirs["id"]])
    async with env.client() as client:
        page = await list_mailchimp_images(
            sessions=env.db.sessions, installation_id=env.installation_id, client=client, count=10
        )
    assert page.total == 2  # images only
    newest, oldest = page.images
    assert newest.file.id == theirs["id"] and newest.imported_as is not None
    assert newest.sent_from is None
    assert oldest.sent_from == "1" and oldest.imported_as is None
    assert oldest.file.thumbnail_url
