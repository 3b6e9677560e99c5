"""The File Manager → the platform: images imported with their bytes, name and
dimensions; unchanged ones skipped; what chimplink sent from the platform not
imported twice; and the round trip PNG, JPEG, GIF byte for byte."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from PIL import Image

from chimplink.store.files import list_file_runs, load_imports, photo_states
from chimplink.store.sync_state import RunStatus
from chimplink.sync.files import FileAction
from tests.files.conftest import FilesEnv, image_bytes


def _dimensions(data: bytes) -> tuple[str, int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return str(image.format), image.width, image.height


@pytest.mark.parametrize(
    ("fmt", "ext", "size"),
    [("PNG", "png", (64, 48)), ("JPEG", "jpg", (120, 80)), ("GIF", "gif", (33, 17))],
)
async def test_round_trip_keeps_bytes_name_and_dimensions(
    env: FilesEnv, fmt: str, ext: str, size: tuple[int, int]
) -> None:
    data = image_bytes(fmt, size, color="orange")
    original = await env.platform.photos.add(f"sunrise.{ext}", data, album="Originals")
    pushed = await env.push(keys=[original.key])
    assert pushed.uploaded == 1
    async with env.db.sessions() as session:
        state = (await photo_states(session=session, installation_id=env.installation_id))[
            original.key
        ]
    assert state.file_id is not None

    pulled = await env.pull(file_ids=[state.file_id], album="Back from Mailchimp")
    assert pulled.status is RunStatus.COMPLETED, pulled.message
    assert pulled.imported == 1
    (back,) = await env.platform.photos.find(album="Back from Mailchimp")
    assert back.key != original.key
    assert await env.platform.photos.read(back.key) == data
    assert back.name == original.name == f"sunrise.{ext}"
    assert (back.width, back.height) == (original.width, original.height) == size
    assert back.content_type == original.content_type
    assert _dimensions(data) == (fmt, *size)


async def test_pull_imports_images_and_skips_them_while_unchanged(env: FilesEnv) -> None:
    logo = image_bytes("PNG", (50, 20), color="navy")
    banner = image_bytes("JPEG", (300, 100), color="gold")
    await env.upload_direct("logo.png", logo)
    await env.upload_direct("banner.jpg", banner)
    await env.upload_direct("notes.txt", b"not an image")

    report = await env.pull(album="From Mailchimp")
    assert report.status is RunStatus.COMPLETED, report.message
    assert (report.read, report.imported) == (2, 2)  # the text file is not an image
    imported = {p.name: p for p in await env.platform.photos.find(album="From Mailchimp")}
    assert set(imported) == {"logo.png", "banner.jpg"}
    assert await env.platform.photos.read(imported["logo.png"].key) == logo
    assert (imported["banner.jpg"].width, imported["banner.jpg"].height) == (300, 100)

    again = await env.pull(album="From Mailchimp")
    assert (again.imported, again.unchanged) == (0, 2)
    assert env.transport.downloads() == 2

    await env.platform.photos.delete(imported["logo.png"].key)
    restored = await env.pull(album="From Mailchimp")
    assert (restored.imported, restored.unchanged) == (1, 1)


async def test_import_all_leaves_out_what_chimplink_sent_from_the_platform(
    env: FilesEnv,
) -> None:
    await env.push(album="Team")
    await env.upload_direct("theirs.gif", image_bytes("GIF"))
    report = await env.pull()
    assert (report.imported, report.skipped) == (1, 3)
    skipped = [o.detail for o in report.outcomes if o.action is FileAction.SKIP]
    assert all(d and d.startswith("Sent from this platform (photo ") for d in skipped)
    assert await env.platform.photos.count() == 10


async def test_chosen_files_missing_or_not_images_are_reported_per_file(env: FilesEnv) -> None:
    photo = await env.upload_direct("map.png", image_bytes("PNG"))
    text = await env.upload_direct("readme.txt", b"hello")
    report = await env.pull(file_ids=[photo["id"], text["id"], 987654321])
    assert report.imported == 1
    assert report.skipped == 1
    assert report.rejected == {"not in Mailchimp": 1}
    by_key = {o.key: o for o in report.outcomes}
    assert by_key["987654321"].action is FileAction.REJECTED
    assert by_key[str(text["id"])].detail == "Only images are imported into the platform."
    async with env.db.sessions() as session:
        recorded = await load_imports(
            session=session, installation_id=env.installation_id, file_ids=[photo["id"]]
        )
    assert recorded[photo["id"]].size == photo["size"]


async def test_a_file_deleted_in_mailchimp_after_listing_fails_alone(env: FilesEnv) -> None:
    kept = await env.upload_direct("kept.png", image_bytes("PNG"))
    gone = await env.upload_direct("gone.png", image_bytes("PNG", color="red"))
    async with env.client() as client:
        listed = await client.file_manager.files.get(gone["id"])
    await env.api("DELETE", f"/file-manager/files/{gone['id']}")
    async with env.client() as client:
        with pytest.raises(Exception, match="refused"):
            await client.file_manager.files.download(listed)
    report = await env.pull(file_ids=[kept["id"], gone["id"]])
    assert report.imported == 1
    assert report.rejected == {"not in Mailchimp": 1}


async def test_a_pull_dry_run_downloads_and_writes_nothing(env: FilesEnv) -> None:
    await env.upload_direct("one.png", image_bytes("PNG"))
    before = await env.platform.photos.count()
    report = await env.pull(dry_run=True)
    assert report.dry_run and report.imported == 1
    assert await env.platform.photos.count() == before
    assert env.transport.downloads() == 0
    async with env.db.sessions() as session:
        runs = await list_file_runs(session=session, installation_id=env.installation_id)
    assert [(r.direction.value, r.dry_run) for r in runs] == [("pull", True)]
    assert Counter(o.action for o in report.outcomes) == {FileAction.IMPORT: 1}
