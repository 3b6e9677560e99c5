"""The push connector's storage, on SQLite and PostgreSQL: keys kept as digests, the change
sequence, upserts that change nothing, deletes and erasures, one tenant never another's."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from chimplink.store.audit import list_audit
from chimplink.store.crypto import TokenCipher
from chimplink.store.push import (
    MAX_BATCH,
    DeleteStatus,
    UpsertStatus,
    authenticate_push_key,
    create_push_key,
    delete_push_contacts,
    get_push_contacts,
    get_push_webhook,
    list_push_contacts,
    list_push_erasures,
    list_push_keys,
    remove_push_webhook,
    revoke_push_key,
    set_push_webhook,
)
from chimplink.store.rotation import count_secrets_by_key, rotate_secrets
from chimplink.store.tables import PushTenantRow
from tests.platforms.push.conftest import Platform, new_platform, person
from tests.store.helpers import T0, Db, dump_tables, leaks


async def _seqs(platform: Platform) -> dict[str, int]:
    async with platform.db.sessions() as session:
        found = await list_push_contacts(
            session=session, tenant_id=platform.tenant_id, limit=100_000
        )
    return {c.key: c.seq for c in found}


async def test_a_key_is_stored_as_a_digest_and_works_until_revoked(platform: Platform) -> None:
    db = platform.db
    async with db.sessions.begin() as session:
        issued = await create_push_key(
            session=session, tenant_id=platform.tenant_id, name="backend", now=T0
        )
    key = issued.key.get_secret_value()
    assert key.startswith("clk_") and len(key) >= 40
    assert key.startswith(issued.info.prefix) and len(issued.info.prefix) == 12
    assert key not in repr(issued)

    dump = repr(await dump_tables(db.engine)).encode()
    assert leaks(dump, key) == []

    async with db.sessions.begin() as session:
        found = await authenticate_push_key(session=session, key=key, now=T0)
        assert found is not None and found.tenant_id == platform.tenant_id
        assert found.last_used_at == T0
        for wrong in (key[:-1] + ("A" if key[-1] != "A" else "B"), key + "x", "", "clk_", "x" * 60):
            assert await authenticate_push_key(session=session, key=wrong, now=T0) is None

    async with db.sessions.begin() as session:
        revoked = await revoke_push_key(
            session=session, tenant_id=platform.tenant_id, key_id=issued.info.prefix, now=T0
        )
    assert revoked is not None and revoked.revoked_at == T0
    async with db.sessions.begin() as session:
        assert await authenticate_push_key(session=session, key=key, now=T0) is None
        [listed] = await list_push_keys(session=session, tenant_id=platform.tenant_id)
        assert not listed.active and listed.name == "backend"
        events = [e.event for e in await list_audit(session=session, tenant_id=platform.tenant_id)]
    assert events == ["push_key_revoked", "push_key_created"]


async def test_a_key_is_revoked_only_by_its_own_tenant(db: Db, cipher: TokenCipher) -> None:
    ours = await new_platform(db, cipher, "shop-1")
    theirs = await new_platform(db, cipher, "shop-2")
    async with db.sessions.begin() as session:
        issued = await create_push_key(session=session, tenant_id=ours.tenant_id, now=T0)
        assert (
            await revoke_push_key(
                session=session, tenant_id=theirs.tenant_id, key_id=issued.info.id
            )
            is None
        )
        assert (
            await authenticate_push_key(session=session, key=issued.key.get_secret_value())
            is not None
        )


async def test_last_use_is_written_at_most_once_a_minute(platform: Platform) -> None:
    async with platform.db.sessions.begin() as session:
        issued = await create_push_key(session=session, tenant_id=platform.tenant_id, now=T0)
    key = issued.key.get_secret_value()
    for seconds, expected in ((0, T0), (30, T0), (61, T0 + timedelta(seconds=61))):
        async with platform.db.sessions.begin() as session:
            found = await authenticate_push_key(
                session=session, key=key, now=T0 + timedelta(seconds=seconds)
            )
        assert found is not None and found.last_used_at == expected


async def test_upsert_takes_a_new_sequence_value_only_for_a_change(platform: Platform) -> None:
    statuses = await platform.push(person("a", first_name="Ann"), person("b", labels=["x", "y"]))
    assert statuses == [UpsertStatus.CREATED, UpsertStatus.CREATED]
    assert await _seqs(platform) == {"a": 1, "b": 2}

    statuses = await platform.push(
        person("b", labels=["y", "x", "y"]),  # same labels, another order: no change
        person("a", first_name="Ann"),
        person("c"),
    )
    assert statuses == [UpsertStatus.UNCHANGED, UpsertStatus.UNCHANGED, UpsertStatus.CREATED]
    assert await _seqs(platform) == {"a": 1, "b": 2, "c": 3}

    assert await platform.push(person("a", first_name="Anna")) == [UpsertStatus.UPDATED]
    assert await _seqs(platform) == {"a": 4, "b": 2, "c": 3}
    async with platform.db.sessions() as session:
        found = await get_push_contacts(session=session, tenant_id=platform.tenant_id, keys=["a"])
    assert dict(found["a"].fields) == {"first_name": "Anna"}


async def test_an_upsert_replaces_the_whole_contact(platform: Platform) -> None:
    await platform.push(person("a", first_name="Ann", score=3, labels=["vip"]))
    await platform.push(person("a", consent="withdrawn"))
    async with platform.db.sessions() as session:
        found = await get_push_contacts(session=session, tenant_id=platform.tenant_id, keys=["a"])
    assert dict(found["a"].fields) == {} and found["a"].labels == ()
    assert found["a"].consent == "withdrawn"


async def test_a_bad_batch_is_refused_whole(platform: Platform) -> None:
    with pytest.raises(ValueError, match="twice"):
        await platform.push(person("a"), person("a", first_name="Other"))
    with pytest.raises(ValueError, match=f"at most {MAX_BATCH}"):
        await platform.push(*(person(str(n)) for n in range(MAX_BATCH + 1)))
    assert await _seqs(platform) == {}


async def test_concurrent_writers_get_distinct_values_in_commit_order(platform: Platform) -> None:
    """Ten writers at once: values 1..N, none twice, none skipped, and the counter agrees."""

    async def writer(n: int) -> None:
        await platform.push(*(person(f"{n}-{i}") for i in range(20)))

    await asyncio.gather(*(writer(n) for n in range(10)))
    seqs = sorted((await _seqs(platform)).values())
    assert seqs == list(range(1, 201))
    async with platform.db.sessions() as session:
        last = (
            await session.execute(
                select(PushTenantRow.last_seq).where(PushTenantRow.tenant_id == platform.tenant_id)
            )
        ).scalar_one()
    assert last == 200
    # Each writer's contacts are contiguous: a writer held the counter for its whole batch.
    by_writer: dict[str, list[int]] = {}
    for key, seq in (await _seqs(platform)).items():
        by_writer.setdefault(key.split("-")[0], []).append(seq)
    for values in by_writer.values():
        assert max(values) - min(values) == len(values) - 1


async def test_delete_and_erase(platform: Platform) -> None:
    await platform.push(person("a"), person("b"), person("c"))
    async with platform.db.sessions.begin() as session:
        deleted = await delete_push_contacts(
            session=session, tenant_id=platform.tenant_id, keys=["a", "zz"], now=T0
        )
        erased = await delete_push_contacts(
            session=session, tenant_id=platform.tenant_id, keys=["b", "b"], erase=True, now=T0
        )
    assert deleted == {"a": DeleteStatus.DELETED, "zz": DeleteStatus.NOT_FOUND}
    assert erased == {"b": DeleteStatus.ERASED}
    assert await _seqs(platform) == {"c": 3}
    async with platform.db.sessions() as session:
        [tombstone] = await list_push_erasures(session=session, tenant_id=platform.tenant_id)
        assert (
            await list_push_erasures(
                session=session, tenant_id=platform.tenant_id, after=tombstone.seq
            )
            == []
        )
    assert (tombstone.key, tombstone.email, tombstone.seq) == ("b", "person.b@example.org", 4)
    # A new change comes after the tombstone: one sequence for both feeds.
    await platform.push(person("d"))
    assert (await _seqs(platform))["d"] == 5


async def test_a_tenant_never_reads_or_changes_another_tenants_contacts(
    db: Db, cipher: TokenCipher
) -> None:
    ours = await new_platform(db, cipher, "shop-1")
    theirs = await new_platform(db, cipher, "shop-2")
    await ours.push(person("a", "ann@example.org"))
    await theirs.push(person("a", "other@example.org"))
    async with db.sessions.begin() as session:
        assert await delete_push_contacts(
            session=session, tenant_id=theirs.tenant_id, keys=["a"], erase=True
        ) == {"a": DeleteStatus.ERASED}
    async with db.sessions() as session:
        mine = await get_push_contacts(session=session, tenant_id=ours.tenant_id, keys=["a"])
        assert mine["a"].email == "ann@example.org"
        assert await list_push_erasures(session=session, tenant_id=ours.tenant_id) == []


async def test_the_webhook_secret_is_encrypted_rotated_and_removed(platform: Platform) -> None:
    db = platform.db
    old_key, new_key = TokenCipher.generate_key(), TokenCipher.generate_key()
    old = TokenCipher([old_key])
    async with db.sessions.begin() as session:
        secret = await set_push_webhook(
            session=session,
            cipher=old,
            tenant_id=platform.tenant_id,
            url="https://shop.example/hooks",
            now=T0,
        )
        assert secret is not None and secret.get_secret_value().startswith("whsec_")
        # Changing the URL keeps the secret unless a new one is asked for.
        assert (
            await set_push_webhook(
                session=session,
                cipher=old,
                tenant_id=platform.tenant_id,
                url="https://shop.example/hooks/v2",
            )
            is None
        )
    value = secret.get_secret_value()
    assert leaks(repr(await dump_tables(db.engine)).encode(), value) == []

    both = TokenCipher([new_key, old_key])
    async with db.sessions.begin() as session:
        report = await rotate_secrets(session=session, cipher=both)
    assert report.rotated.get("push webhook secrets") == 1
    async with db.sessions() as session:
        assert await count_secrets_by_key(session=session) == {both.current_key_id: 1}
        endpoint = await get_push_webhook(
            session=session, cipher=TokenCipher([new_key]), tenant_id=platform.tenant_id
        )
    assert endpoint is not None and endpoint.secret.get_secret_value() == value
    assert endpoint.url == "https://shop.example/hooks/v2"

    async with db.sessions.begin() as session:
        again = await set_push_webhook(
            session=session,
            cipher=both,
            tenant_id=platform.tenant_id,
            url="https://shop.example/hooks/v2",
            new_secret=True,
        )
        assert again is not None and again.get_secret_value() != value
        assert await remove_push_webhook(session=session, tenant_id=platform.tenant_id)
        assert not await remove_push_webhook(session=session, tenant_id=platform.tenant_id)
        assert (
            await get_push_webhook(session=session, cipher=both, tenant_id=platform.tenant_id)
            is None
        )
