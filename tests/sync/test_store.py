"""The sync tables' repositories, on SQLite and PostgreSQL; uninstall removes all of it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from chimplink.store.crypto import TokenCipher
from chimplink.store.sync_config import (
    NoConsentPolicy,
    add_managed_tags,
    get_sync_config,
    save_sync_config,
)
from chimplink.store.sync_state import (
    INTERRUPTED,
    RecordOutcome,
    RecordUpdate,
    RunStatus,
    clear_checkpoints,
    count_records,
    delete_records,
    finish_run,
    get_checkpoint,
    get_run,
    linked_keys,
    list_records,
    list_runs,
    load_records,
    save_records,
    set_checkpoint,
    start_run,
    suppress,
    suppressed,
)
from chimplink.store.tables import SyncRecordRow
from chimplink.store.uninstall import purge_installation
from tests.store.helpers import T0, Db, connect, dump_tables, tables_mentioning


def update(key: str, email: str, **extra: object) -> RecordUpdate:
    values: dict[str, object] = {
        "platform_key": key,
        "email": email,
        "subscriber_hash": "0" * 32,
        "content_hash": "c" * 32,
        "outcome": RecordOutcome.SYNCED,
    }
    values.update(extra)
    return RecordUpdate(**values)  # type: ignore[arg-type]


async def test_records_upsert_load_and_list(db: Db, cipher: TokenCipher) -> None:
    installation = (await connect(db, cipher)).installation.id
    async with db.sessions.begin() as session:
        await save_sync_config(session=session, installation_id=installation, list_id="L1")
        await save_records(
            session=session,
            installation_id=installation,
            records=[
                update(f"k{n:04d}", f"p{n}@shop.com", subscriber_hash=f"{n:032d}")
                for n in range(1_500)
            ],
            now=T0,
        )
    async with db.sessions.begin() as session:
        await save_records(
            session=session,
            installation_id=installation,
            records=[
                update(
                    "k0001",
                    "new@shop.com",
                    outcome=RecordOutcome.PARKED,
                    reason="invalid email: " + "x" * 600,
                    attempts=2,
                    tags=frozenset({"b", "a"}),
                )
            ],
        )
    async with db.sessions() as session:
        loaded = await load_records(
            session=session, installation_id=installation, keys=["k0001", "k0002", "nope"]
        )
        counts = await count_records(session=session, installation_id=installation)
        page = await list_records(
            session=session,
            installation_id=installation,
            outcome=RecordOutcome.SYNCED,
            limit=3,
            after_key="k0000",
        )
        linked = await linked_keys(
            session=session, installation_id=installation, hashes=[f"{2:032d}", "f" * 32]
        )
    assert set(loaded) == {"k0001", "k0002"}
    parked = loaded["k0001"]
    assert parked.outcome is RecordOutcome.PARKED
    assert parked.email == "new@shop.com"
    assert parked.tags == {"a", "b"}
    assert parked.attempts == 2
    assert parked.reason is not None and len(parked.reason) == 500
    assert "new@shop.com" not in repr(parked)  # personal data stays out of logs
    assert counts[RecordOutcome.SYNCED] == 1_499 and counts[RecordOutcome.PARKED] == 1
    assert [r.platform_key for r in page] == ["k0002", "k0003", "k0004"]
    assert linked == {f"{2:032d}": {"k0002"}}

    async with db.sessions.begin() as session:
        assert (
            await delete_records(session=session, installation_id=installation, keys=["k0002"]) == 1
        )
    async with db.sessions() as session:
        assert "k0002" not in await load_records(
            session=session, installation_id=installation, keys=["k0002"]
        )


async def test_suppressions_and_checkpoints(db: Db, cipher: TokenCipher) -> None:
    installation = (await connect(db, cipher)).installation.id
    async with db.sessions.begin() as session:
        await suppress(session=session, installation_id=installation, hashes=["a" * 32, "b" * 32])
        await suppress(session=session, installation_id=installation, hashes=["a" * 32])
        await set_checkpoint(
            session=session, installation_id=installation, stream="contacts", cursor="0001"
        )
        await set_checkpoint(
            session=session, installation_id=installation, stream="contacts", cursor="0002"
        )
        await set_checkpoint(
            session=session, installation_id=installation, stream="erasures", cursor="9"
        )
    async with db.sessions() as session:
        found = await suppressed(
            session=session, installation_id=installation, hashes=["a" * 32, "c" * 32]
        )
        contacts = await get_checkpoint(
            session=session, installation_id=installation, stream="contacts"
        )
    assert found == {"a" * 32}
    assert contacts == "0002"
    async with db.sessions.begin() as session:
        await clear_checkpoints(session=session, installation_id=installation, stream="contacts")
    async with db.sessions() as session:
        assert (
            await get_checkpoint(session=session, installation_id=installation, stream="contacts")
            is None
        )
        assert (
            await get_checkpoint(session=session, installation_id=installation, stream="erasures")
            == "9"
        )


async def test_runs_and_interrupted_runs(db: Db, cipher: TokenCipher) -> None:
    installation = (await connect(db, cipher)).installation.id
    async with db.sessions.begin() as session:
        dead = await start_run(session=session, installation_id=installation, now=T0)
    async with db.sessions.begin() as session:
        run = await start_run(
            session=session, installation_id=installation, dry_run=True, now=T0 + timedelta(1)
        )
        await finish_run(
            session=session,
            run_id=run.id,
            status=RunStatus.COMPLETED,
            counts={"created": 3},
            now=T0 + timedelta(2),
        )
    async with db.sessions() as session:
        runs = await list_runs(session=session, installation_id=installation)
        closed = await get_run(session=session, run_id=dead.id)
    assert [r.id for r in runs] == [run.id, dead.id]
    assert runs[0].status is RunStatus.COMPLETED and runs[0].dry_run
    assert runs[0].counts == {"created": 3}
    assert closed is not None and closed.status is RunStatus.FAILED
    assert closed.message == INTERRUPTED


async def test_config_and_a_new_audience_starts_over(db: Db, cipher: TokenCipher) -> None:
    installation = (await connect(db, cipher)).installation.id
    async with db.sessions.begin() as session:
        saved = await save_sync_config(
            session=session,
            installation_id=installation,
            list_id="L1",
            field_map={"city": "CITY"},
            no_consent="skip",
            label_tags={"vip": "VIP"},
            plan_contact_limit=500,
        )
        await add_managed_tags(session=session, installation_id=installation, tags=["vip", "a"])
        await save_records(
            session=session, installation_id=installation, records=[update("k", "a@b.co")]
        )
        await set_checkpoint(
            session=session, installation_id=installation, stream="contacts", cursor="5"
        )
    assert saved.no_consent is NoConsentPolicy.SKIP
    async with db.sessions.begin() as session:
        same = await save_sync_config(session=session, installation_id=installation, list_id="L1")
        assert same.managed_tags == {"a", "vip"}
        assert await count_records(session=session, installation_id=installation) != {}
    async with db.sessions.begin() as session:
        await save_sync_config(session=session, installation_id=installation, list_id="L2")
    async with db.sessions() as session:
        config = await get_sync_config(session=session, installation_id=installation)
        remaining = (await session.execute(select(SyncRecordRow))).all()
        checkpoint = await get_checkpoint(
            session=session, installation_id=installation, stream="contacts"
        )
    assert config is not None and config.list_id == "L2"
    assert remaining == [] and checkpoint is None


async def test_config_rejects_bad_tags(db: Db, cipher: TokenCipher) -> None:
    installation = (await connect(db, cipher)).installation.id
    async with db.sessions.begin() as session:
        with pytest.raises(ValueError, match="merge tag"):
            await save_sync_config(
                session=session,
                installation_id=installation,
                list_id="L1",
                field_map={"city": "TOOLONGATAG"},
            )


async def test_uninstall_deletes_every_sync_row(db: Db, cipher: TokenCipher) -> None:
    installation = (await connect(db, cipher)).installation.id
    async with db.sessions.begin() as session:
        await save_sync_config(session=session, installation_id=installation, list_id="L1")
        await save_records(
            session=session,
            installation_id=installation,
            records=[update("k", "pii.person@shop.com")],
        )
        await suppress(session=session, installation_id=installation, hashes=["a" * 32])
        await set_checkpoint(
            session=session, installation_id=installation, stream="contacts", cursor="1"
        )
        await start_run(session=session, installation_id=installation)
    assert tables_mentioning(await dump_tables(db.engine), "pii.person@shop.com") == {
        "sync_records": 1
    }
    async with db.sessions.begin() as session:
        await purge_installation(session=session, cipher=cipher, installation_id=installation)
    dump = await dump_tables(db.engine)
    for table in (
        "sync_configs",
        "sync_records",
        "sync_suppressions",
        "sync_checkpoints",
        "sync_runs",
    ):
        assert dump[table] == [], table
    assert tables_mentioning(dump, "pii.person@shop.com") == {}
