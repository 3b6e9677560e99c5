"""Photos → the File Manager: every photo exactly once, in the installation's folder,
skipped while unchanged, sent again as a new, linked file when edited; limits checked
before any call; a 5xx on one file neither stops the others nor makes a duplicate."""

from __future__ import annotations

from collections import Counter
from typing import Any

from chimplink.mailchimp import LocalLimiter
from chimplink.store.files import (
    Upload,
    UploadStatus,
    list_file_runs,
    load_uploads,
    pending_uploads,
    photo_states,
)
from chimplink.store.installations import find_installation
from chimplink.store.sync_state import RunStatus
from chimplink.store.tables import InstallationStatus
from chimplink.sync.files import FileAction, FileOptions, push_photo, push_photos, token
from tests.files.conftest import UPLOAD, FilesEnv, image_bytes


async def _states(env: FilesEnv) -> dict[str, UploadStatus]:
    async with env.db.sessions() as session:
        states = await photo_states(session=session, installation_id=env.installation_id)
    return {key: state.status for key, state in states.items()}


async def _history(env: FilesEnv, key: str) -> list[Upload]:
    async with env.db.sessions() as session:
        found = await load_uploads(session=session, installation_id=env.installation_id, keys=[key])
    return found[key]


def _tokens(files: list[dict[str, Any]]) -> Counter[str]:
    return Counter(f["name"].rsplit(".", 1)[0].rsplit("-", 1)[1] for f in files)


async def _assert_each_photo_once(env: FilesEnv) -> None:
    """Every platform photo is in Mailchimp exactly once, as its current bytes."""
    photos = await env.platform.photos.find(limit=1000)
    files = await env.files()
    expected = {token(p.key, p.content_hash or ""): p for p in photos}
    assert _tokens(files) == Counter(set(expected))
    for found in files:
        photo = expected[found["name"].rsplit(".", 1)[0].rsplit("-", 1)[1]]
        assert found["size"] == photo.size


async def test_push_all_uploads_every_photo_once_into_one_folder(env: FilesEnv) -> None:
    report = await env.push()
    assert report.status is RunStatus.COMPLETED, report.message
    assert report.uploaded == report.read == 9
    folders = await env.folders()
    assert [f["name"] for f in folders] == ["Photos from demo"]
    assert report.folder_id == folders[0]["id"]
    files = await env.files(folders[0]["id"])
    assert len(files) == 9
    await _assert_each_photo_once(env)
    photos = await env.platform.photos.find(limit=100)
    async with env.db.sessions() as session:
        states = await photo_states(session=session, installation_id=env.installation_id)
    for photo in photos:
        state = states[photo.key]
        assert state.status is UploadStatus.UPLOADED
        assert state.content_hash == photo.content_hash
        (uploaded,) = [f for f in files if f["id"] == state.file_id]
        assert uploaded["name"].startswith(photo.name.rsplit(".", 1)[0] + "-")
        assert (uploaded["width"], uploaded["height"]) == (photo.width, photo.height)
        assert uploaded["full_size_url"] == state.url


async def test_unchanged_photos_are_skipped_without_any_call(env: FilesEnv) -> None:
    await env.push()
    calls = await env.calls()
    again = await env.push()
    assert again.status is RunStatus.COMPLETED
    assert (again.uploaded, again.unchanged, again.api_calls) == (0, 9, 0)
    assert await env.calls() == calls
    assert {o.action for o in again.outcomes} == {FileAction.UNCHANGED}


async def test_an_edited_photo_is_a_new_file_linked_to_the_one_it_replaces(env: FilesEnv) -> None:
    await env.push()
    (old,) = await _history(env, "2")
    edited = await env.platform.photos.edit("2")
    assert edited.content_hash != old.content_hash

    report = await env.push()
    assert (report.uploaded, report.replaced, report.unchanged, report.deleted_old) == (1, 1, 8, 0)
    previous, current = await _history(env, "2")
    assert previous.id == old.id and previous.status is UploadStatus.SUPERSEDED
    assert current.status is UploadStatus.UPLOADED
    assert current.replaces_id == previous.id
    assert current.content_hash == edited.content_hash
    assert current.file_id != previous.file_id
    ids = {f["id"] for f in await env.files()}
    assert {previous.file_id, current.file_id} <= ids  # the old file stays by default
    assert len(ids) == 10


async def test_the_replaced_file_is_deleted_only_when_enabled(env: FilesEnv) -> None:
    await env.push()
    await env.platform.photos.edit("5")
    report = await env.push(options=FileOptions(workers=4, delete_replaced=True))
    assert (report.replaced, report.deleted_old) == (1, 1)
    previous, current = await _history(env, "5")
    assert previous.status is UploadStatus.DELETED
    assert current.replaces_id == previous.id  # the link outlives the old file
    ids = {f["id"] for f in await env.files()}
    assert previous.file_id not in ids and current.file_id in ids
    await _assert_each_photo_once(env)


async def test_files_over_a_limit_fail_before_any_call_with_the_limit_named(
    env: FilesEnv,
) -> None:
    big = await env.platform.photos.add("poster.png", image_bytes("PNG") + b"\0" * (10 << 20))
    webp = await env.platform.photos.add("cat.webp", b"RIFF\x10\0\0\0WEBPVP8 ")
    nameless = await env.platform.photos.add("scan", b"%PDF-1.4 not an image")
    keys = [big.key, webp.key, nameless.key]

    report = await env.push(keys=keys)
    assert await env.calls() == Counter()  # not one call, not even for the folder
    assert report.rejected == {"over 10 MB": 1, "file type not accepted": 2}
    # Final for these photos (sent again only once they change): the run itself completed.
    assert report.uploaded == 0 and report.status is RunStatus.COMPLETED
    messages = {o.key: o.detail or "" for o in report.outcomes}
    assert "10 MB (10,485,760 bytes)" in messages[big.key]
    assert f"({big.size:,} bytes)" in messages[big.key]
    assert ".webp" in messages[webp.key] and ".png" in messages[webp.key]
    assert "no file type" in messages[nameless.key]
    states = await _states(env)
    assert [states[k] for k in keys] == [UploadStatus.REJECTED] * 3

    again = await env.push(keys=keys)
    assert again.rejected == report.rejected
    assert await env.calls() == Counter()
    assert [len(await _history(env, k)) for k in keys] == [1, 1, 1]  # nothing new recorded


async def test_a_5xx_on_one_file_does_not_stop_the_others(env: FilesEnv) -> None:
    await env.fault("503")  # turned away before Mailchimp stores anything
    report = await env.push(options=FileOptions(workers=4, retry_rounds=0))
    assert report.uploaded == 8
    assert report.failed == {"upload not confirmed": 1}
    assert report.status is RunStatus.FAILED
    assert len(await env.files()) == 8
    assert Counter((await _states(env)).values()) == {
        UploadStatus.UPLOADED: 8,
        UploadStatus.PENDING: 1,
    }

    again = await env.push()  # looks in the folder first: not there, so sent again
    assert again.status is RunStatus.COMPLETED, again.message
    assert (again.uploaded, again.reconciled, again.unchanged) == (1, 0, 8)
    await _assert_each_photo_once(env)
    assert (await env.calls())[UPLOAD] == 10


async def test_an_upload_whose_answer_was_lost_is_found_not_sent_twice(env: FilesEnv) -> None:
    await env.fault("500")  # Mailchimp stores the file, then the answer is a 500
    report = await env.push()
    assert report.status is RunStatus.COMPLETED, report.message
    assert (report.uploaded, report.reconciled) == (9, 1)
    assert [o.action for o in report.outcomes].count(FileAction.RECONCILED) == 1
    await _assert_each_photo_once(env)
    assert (await env.calls())[UPLOAD] == 9


async def test_a_5xx_answered_before_storing_is_sent_again_in_the_same_run(
    env: FilesEnv,
) -> None:
    await env.fault("503", count=2)
    report = await env.push()
    assert report.status is RunStatus.COMPLETED, report.message
    assert (report.uploaded, report.reconciled) == (9, 0)
    await _assert_each_photo_once(env)
    assert (await env.calls())[UPLOAD] == 11


async def test_an_unconfirmed_upload_left_by_a_run_is_found_by_the_next(env: FilesEnv) -> None:
    await env.fault("500")
    first = await env.push(options=FileOptions(workers=4, retry_rounds=0))
    assert first.failed == {"upload not confirmed": 1}
    async with env.db.sessions() as session:
        (left,) = await pending_uploads(session=session, installation_id=env.installation_id)

    second = await env.push()
    assert second.status is RunStatus.COMPLETED, second.message
    assert (second.uploaded, second.reconciled, second.unchanged) == (0, 1, 8)
    assert (await env.calls())[UPLOAD] == 9  # found, not uploaded again
    (found,) = await _history(env, left.platform_key)
    assert found.status is UploadStatus.UPLOADED and found.file_id is not None
    await _assert_each_photo_once(env)


async def test_send_one_photo(env: FilesEnv) -> None:
    async with env.client() as client:
        report = await push_photo(
            sessions=env.db.sessions,
            installation_id=env.installation_id,
            client=client,
            library=env.library,
            key="4",
        )
        missing = await push_photo(
            sessions=env.db.sessions,
            installation_id=env.installation_id,
            client=client,
            library=env.library,
            key="999",
        )
    assert (report.read, report.uploaded, report.status) == (1, 1, RunStatus.COMPLETED)
    assert list(await _states(env)) == ["4"]
    assert len(await env.files()) == 1
    assert missing.rejected == {"not on the platform": 1}
    assert missing.outcomes[0].detail == "The platform has no photo 999."


async def test_push_one_album(env: FilesEnv) -> None:
    team = {p.key for p in await env.platform.photos.find(album="Team")}
    report = await env.push(album="Team")
    assert report.uploaded == len(team) == 3
    assert set(await _states(env)) == team


async def test_a_dry_run_sends_and_records_nothing(env: FilesEnv) -> None:
    await env.platform.photos.add("cat.webp", b"RIFF\x10\0\0\0WEBPVP8 ")
    report = await env.push(dry_run=True)
    assert report.dry_run and report.status is RunStatus.COMPLETED
    assert (report.uploaded, report.rejected_total) == (9, 1)
    assert await env.calls() == Counter()
    assert await _states(env) == {}
    await env.push()
    await env.platform.photos.edit("3")
    preview = await env.push(dry_run=True)
    assert (preview.uploaded, preview.replaced, preview.unchanged) == (1, 1, 8)
    assert preview.rejected == {"file type not accepted": 1}
    assert [o.key for o in preview.outcomes if o.action is FileAction.REPLACE] == ["3"]
    async with env.db.sessions() as session:
        runs = await list_file_runs(session=session, installation_id=env.installation_id)
    assert [r.dry_run for r in runs] == [True, False, True]


async def test_uploads_run_up_to_the_clients_per_account_limit(env: FilesEnv) -> None:
    await env.http.post("/_emulator/config", json={"latency_ms": 30})
    async with env.client(limiter=LocalLimiter(limit=3)) as client:
        report = await push_photos(
            sessions=env.db.sessions,
            installation_id=env.installation_id,
            client=client,
            library=env.library,
        )
    assert report.uploaded == 9
    stats = (await env.http.get("/_emulator/stats")).json()["accounts"][env.account_id]
    assert stats["peak_concurrent_requests"] == 3
    assert stats["throttled"] == 0


async def test_a_revoked_token_stops_the_run_and_pauses_the_installation(env: FilesEnv) -> None:
    await env.http.post("/_emulator/tokens/revoke", json={"access_token": env.token})
    report = await env.push()
    assert report.status is RunStatus.NEEDS_RECONNECT
    assert report.uploaded == 0
    async with env.db.sessions() as session:
        found = await find_installation(session=session, installation_id=env.installation_id)
        assert found is not None and found.status is InstallationStatus.NEEDS_RECONNECT
        assert await pending_uploads(session=session, installation_id=env.installation_id) == []


async def test_a_folder_deleted_in_mailchimp_is_made_again(env: FilesEnv) -> None:
    first = await env.push(keys=["1"])
    deleted = await env.api("DELETE", f"/file-manager/folders/{first.folder_id}")
    assert deleted.status_code == 204
    second = await env.push(keys=["2"])
    assert second.uploaded == 1 and second.folder_id != first.folder_id
    assert [f["name"] for f in await env.folders()] == ["Photos from demo"]


async def test_a_folder_made_before_a_crash_is_adopted_not_duplicated(env: FilesEnv) -> None:
    made = await env.api("POST", "/file-manager/folders", json={"name": "Photos from demo"})
    report = await env.push(keys=["1"])
    assert report.folder_id == made.json()["id"]
    assert len(await env.folders()) == 1
