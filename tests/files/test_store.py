"""File state in the store (SQLite and PostgreSQL): uploads with their history, the
folder, imports, runs; and uninstall removes all of it."""

from __future__ import annotations

from datetime import timedelta

from chimplink.store.crypto import TokenCipher
from chimplink.store.files import (
    FILE_TABLES,
    TransferDirection,
    UploadStatus,
    count_uploads,
    file_owners,
    finish_file_run,
    forget_folder,
    get_folder,
    get_upload,
    list_file_runs,
    load_imports,
    load_uploads,
    pending_uploads,
    photo_states,
    save_folder,
    save_import,
    set_upload,
    start_file_run,
    start_upload,
)
from chimplink.store.sync_state import INTERRUPTED, RunStatus
from chimplink.store.uninstall import purge_installation
from tests.store.helpers import T0, Db, connect, dump_tables, tables_mentioning

H1, H2 = "a" * 64, "b" * 64


async def _installation(db: Db, cipher: TokenCipher, account_id: str = "acc-1") -> str:
    saved = await connect(db, cipher, account_id=account_id)
    return saved.installation.id


async def _with_file_state(db: Db, installation_id: str) -> None:
    async with db.sessions.begin() as session:
        await save_folder(
            session=session, installation_id=installation_id, folder_id=77, name="Photos", now=T0
        )
        first = await start_upload(
            session=session,
            installation_id=installation_id,
            platform_key="p1",
            content_hash=H1,
            name="beach-1.png",
            size=10,
            now=T0,
        )
        await set_upload(
            session=session,
            upload_id=first,
            status=UploadStatus.UPLOADED,
            file_id=501,
            url="https://mcusercontent.com/x/beach.png",
            width=4,
            height=3,
            now=T0,
        )
        await save_import(
            session=session,
            installation_id=installation_id,
            file_id=900,
            platform_key="p9",
            name="logo.png",
            size=20,
            content_hash=H2,
            now=T0,
        )
        run = await start_file_run(
            session=session,
            installation_id=installation_id,
            direction=TransferDirection.PUSH,
            now=T0,
        )
        await finish_file_run(
            session=session, run_id=run.id, status=RunStatus.COMPLETED, counts={"uploaded": 1}
        )


async def test_versions_of_a_photo_and_its_current_state(db: Db, cipher: TokenCipher) -> None:
    installation_id = await _installation(db, cipher)
    await _with_file_state(db, installation_id)
    async with db.sessions.begin() as session:
        (old,) = (
            await load_uploads(session=session, installation_id=installation_id, keys=["p1"])
        )["p1"]
        new = await start_upload(
            session=session,
            installation_id=installation_id,
            platform_key="p1",
            content_hash=H2,
            name="beach-2.png",
            size=12,
            replaces_id=old.id,
            now=T0 + timedelta(minutes=1),
        )
        assert [
            u.id for u in await pending_uploads(session=session, installation_id=installation_id)
        ] == [new]
        # Re-arming the same intent counts an attempt, adds no row.
        again = await start_upload(
            session=session,
            installation_id=installation_id,
            platform_key="p1",
            content_hash=H2,
            name="beach-2.png",
            size=12,
            reuse_id=new,
        )
        assert again == new
        await set_upload(
            session=session, upload_id=new, status=UploadStatus.FAILED, message="x" * 900
        )
    async with db.sessions() as session:
        history = await load_uploads(
            session=session, installation_id=installation_id, keys=["p1", "nope"]
        )
        assert list(history) == ["p1"]
        first, second = history["p1"]
        assert (first.status, first.file_id, first.width, first.height) == (
            UploadStatus.UPLOADED,
            501,
            4,
            3,
        )
        assert (second.status, second.replaces_id, second.attempts) == (
            UploadStatus.FAILED,
            first.id,
            2,
        )
        assert second.file_id is None and second.message == "x" * 500
        states = await photo_states(session=session, installation_id=installation_id)
        assert {k: s.id for k, s in states.items()} == {"p1": second.id}
        assert (
            await photo_states(session=session, installation_id=installation_id, keys=["zz"]) == {}
        )
        assert (await count_uploads(session=session, installation_id=installation_id))[
            UploadStatus.FAILED
        ] == 1
        owners = await file_owners(
            session=session, installation_id=installation_id, file_ids=[501, 502]
        )
        assert list(owners) == [501] and owners[501].platform_key == "p1"
        assert (await get_upload(session=session, upload_id=first.id)) == first
        assert await get_upload(session=session, upload_id=10**9) is None


async def test_state_is_per_installation(db: Db, cipher: TokenCipher) -> None:
    mine = await _installation(db, cipher, "acc-1")
    theirs = await _installation(db, cipher, "acc-2")
    await _with_file_state(db, mine)
    async with db.sessions() as session:
        assert await photo_states(session=session, installation_id=theirs) == {}
        assert await file_owners(session=session, installation_id=theirs, file_ids=[501]) == {}
        assert await load_imports(session=session, installation_id=theirs, file_ids=[900]) == {}
        assert await get_folder(session=session, installation_id=theirs) is None
        assert (await get_folder(session=session, installation_id=mine)).folder_id == 77  # type: ignore[union-attr]


async def test_folder_and_imports_are_replaced_in_place(db: Db, cipher: TokenCipher) -> None:
    installation_id = await _installation(db, cipher)
    await _with_file_state(db, installation_id)
    async with db.sessions.begin() as session:
        await save_folder(
            session=session, installation_id=installation_id, folder_id=78, name="New"
        )
        await save_import(
            session=session,
            installation_id=installation_id,
            file_id=900,
            platform_key="p10",
            name="logo2.png",
            size=21,
            content_hash=H1,
        )
    async with db.sessions() as session:
        folder = await get_folder(session=session, installation_id=installation_id)
        assert folder is not None and (folder.folder_id, folder.name) == (78, "New")
        found = await load_imports(session=session, installation_id=installation_id, file_ids=[900])
        assert (found[900].platform_key, found[900].size) == ("p10", 21)
    async with db.sessions.begin() as session:
        await forget_folder(session=session, installation_id=installation_id)
    async with db.sessions() as session:
        assert await get_folder(session=session, installation_id=installation_id) is None


async def test_a_new_run_closes_a_dead_one_of_the_same_direction_only(
    db: Db, cipher: TokenCipher
) -> None:
    installation_id = await _installation(db, cipher)
    async with db.sessions.begin() as session:
        dead_push = await start_file_run(
            session=session,
            installation_id=installation_id,
            direction=TransferDirection.PUSH,
            now=T0,
        )
        pull = await start_file_run(
            session=session,
            installation_id=installation_id,
            direction=TransferDirection.PULL,
            now=T0,
        )
        await start_file_run(
            session=session,
            installation_id=installation_id,
            direction=TransferDirection.PUSH,
            dry_run=True,
            now=T0 + timedelta(seconds=1),
        )
    async with db.sessions() as session:
        runs = {
            r.id: r for r in await list_file_runs(session=session, installation_id=installation_id)
        }
        pushes = await list_file_runs(
            session=session, installation_id=installation_id, direction=TransferDirection.PUSH
        )
    assert (runs[dead_push.id].status, runs[dead_push.id].message) == (
        RunStatus.FAILED,
        INTERRUPTED,
    )
    assert runs[pull.id].status is RunStatus.RUNNING
    assert [r.dry_run for r in pushes] == [True, False]


async def test_uninstall_removes_every_file_row(db: Db, cipher: TokenCipher) -> None:
    installation_id = await _installation(db, cipher)
    other = await _installation(db, cipher, "acc-2")
    await _with_file_state(db, installation_id)
    await _with_file_state(db, other)
    async with db.sessions.begin() as session:
        result = await purge_installation(
            session=session, cipher=cipher, installation_id=installation_id, now=T0
        )
    assert result.purged
    dump = await dump_tables(db.engine)
    assert tables_mentioning(dump, installation_id) == {"audit_log": 1}
    for table in FILE_TABLES:
        rows = dump[table.__tablename__]
        assert rows and all(row["installation_id"] == other for row in rows), table
