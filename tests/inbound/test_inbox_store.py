"""The inbox repository on SQLite and PostgreSQL: dedupe, leases, retention, cascade."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import delete, select

from chimplink.store.crypto import TokenCipher
from chimplink.store.inbox import (
    DEAD_LETTER_BODY_LIMIT,
    DEAD_LETTER_RETENTION,
    FAILED_RETENTION,
    PROCESSED_RETENTION,
    InboxStatus,
    SeenMember,
    add_dead_letter,
    add_delivery,
    claim_inbox,
    count_inbox,
    fail_inbox_item,
    finish_inbox_items,
    get_seen_members,
    hashes_of_contacts,
    installations_with_pending_inbox,
    list_dead_letters,
    list_inbox,
    prune_inbox,
    record_seen_members,
    release_inbox_items,
    retry_inbox_item,
)
from chimplink.store.tables import InstallationRow
from tests.store.conftest import cipher, database_url, db, postgres_admin
from tests.store.helpers import T0, Db, connect, dump_tables

__all__ = ["cipher", "database_url", "db", "postgres_admin"]

BODY = "type=unsubscribe&fired_at=2026-01-02+03%3A04%3A05&data%5Bemail%5D=ann%40example.org"


async def _installation(db: Db, cipher: TokenCipher, account: str = "acc-1") -> str:
    saved = await connect(db, cipher, account_id=account)
    return saved.installation.id


async def _add(db: Db, installation_id: str, key: str, **kwargs: object) -> bool:
    async with db.sessions.begin() as session:
        return await add_delivery(
            session=session,
            installation_id=installation_id,
            dedupe_key=key,
            event_type="unsubscribe",
            body=BODY,
            now=kwargs.get("now", T0),  # type: ignore[arg-type]
        )


async def test_a_dedupe_key_is_stored_once_even_concurrently(db: Db, cipher: TokenCipher) -> None:
    installation_id = await _installation(db, cipher)
    other = await _installation(db, cipher, "acc-2")
    assert await _add(db, installation_id, "k1")
    assert not await _add(db, installation_id, "k1")
    results = await asyncio.gather(*(_add(db, installation_id, "k2") for _ in range(5)))
    assert sorted(results) == [False] * 4 + [True]
    assert await _add(db, other, "k1")  # the key is unique per installation only
    async with db.sessions() as session:
        items = await list_inbox(session=session, installation_id=installation_id)
        counts = await count_inbox(session=session, installation_id=installation_id)
    assert [i.dedupe_key for i in items] == ["k1", "k2"]
    assert counts[InboxStatus.PENDING] == 2
    assert "ann" not in repr(items[0])  # the body stays out of reprs (and logs)


async def test_claims_are_leases(db: Db, cipher: TokenCipher) -> None:
    installation_id = await _installation(db, cipher)
    for key in ("a", "b", "c"):
        await _add(db, installation_id, key)
    async with db.sessions.begin() as session:
        first = await claim_inbox(session=session, installation_id=installation_id, now=T0, limit=2)
    async with db.sessions.begin() as session:
        second = await claim_inbox(session=session, installation_id=installation_id, now=T0)
        pending = await installations_with_pending_inbox(session=session, now=T0)
    assert [i.dedupe_key for i in first] == ["a", "b"]
    assert [i.dedupe_key for i in second] == ["c"]
    assert pending == []  # everything is leased
    later = T0 + timedelta(minutes=6)  # the lease (5 min) has run out: a crashed worker
    async with db.sessions.begin() as session:
        again = await claim_inbox(session=session, installation_id=installation_id, now=later)
        await release_inbox_items(session=session, item_ids=[again[0].id], now=later)
    assert len(again) == 3
    async with db.sessions() as session:
        assert await installations_with_pending_inbox(session=session, now=later) == [
            installation_id
        ]


async def test_processing_deletes_the_body_and_failures_are_counted(
    db: Db, cipher: TokenCipher
) -> None:
    installation_id = await _installation(db, cipher)
    for key in ("done", "retry", "fail"):
        await _add(db, installation_id, key)
    async with db.sessions.begin() as session:
        done, retry, fail = await claim_inbox(
            session=session, installation_id=installation_id, now=T0
        )
        await finish_inbox_items(session=session, notes={done.id: "applied: x" * 100}, now=T0)
        await retry_inbox_item(
            session=session, item_id=retry.id, error="boom", retry_at=T0 + timedelta(minutes=1)
        )
        await fail_inbox_item(session=session, item_id=fail.id, error="e" * 900, now=T0)
    async with db.sessions() as session:
        items = {
            i.dedupe_key: i
            for i in await list_inbox(session=session, installation_id=installation_id)
        }
    assert items["done"].status is InboxStatus.PROCESSED and items["done"].body is None
    assert items["done"].note is not None and len(items["done"].note) == 200
    assert items["retry"].status is InboxStatus.PENDING and items["retry"].attempts == 1
    assert items["retry"].body == BODY and items["retry"].last_error == "boom"
    assert items["fail"].status is InboxStatus.FAILED and items["fail"].body == BODY
    assert items["fail"].last_error is not None and len(items["fail"].last_error) == 500


async def test_retention(db: Db, cipher: TokenCipher) -> None:
    installation_id = await _installation(db, cipher)
    old = T0 - FAILED_RETENTION - timedelta(hours=1)
    await _add(db, installation_id, "processed-old", now=T0 - PROCESSED_RETENTION - timedelta(1))
    await _add(db, installation_id, "processed-new", now=T0)
    await _add(db, installation_id, "pending-old", now=old)
    await _add(db, installation_id, "pending-new", now=T0)
    async with db.sessions.begin() as session:
        claimed = await claim_inbox(session=session, installation_id=installation_id, now=T0)
        by_key = {i.dedupe_key: i.id for i in claimed}
        await finish_inbox_items(
            session=session,
            notes={by_key["processed-old"]: "ok", by_key["processed-new"]: "ok"},
            now=T0,
        )
        for letter_at in (T0 - DEAD_LETTER_RETENTION - timedelta(1), T0):
            await add_dead_letter(
                session=session,
                installation_id=installation_id,
                reason="malformed",
                body=b"x" * (DEAD_LETTER_BODY_LIMIT * 2),
                now=letter_at,
            )
        result = await prune_inbox(session=session, now=T0)
    assert (result.processed, result.failed, result.dead_letters) == (1, 1, 1)
    async with db.sessions() as session:
        left = {
            i.dedupe_key for i in await list_inbox(session=session, installation_id=installation_id)
        }
        [letter] = await list_dead_letters(session=session, installation_id=installation_id)
    assert left == {"processed-new", "pending-new"}
    assert (
        len(letter.body) == DEAD_LETTER_BODY_LIMIT
        and letter.body_size == 2 * DEAD_LETTER_BODY_LIMIT
    )


async def test_seen_members_only_move_forwards(db: Db, cipher: TokenCipher) -> None:
    installation_id = await _installation(db, cipher)

    async def record(*seen: SeenMember) -> None:
        async with db.sessions.begin() as session:
            await record_seen_members(
                session=session, installation_id=installation_id, members=seen
            )

    await record(SeenMember("h1", "c1", T0), SeenMember("h2", None, None))
    await record(SeenMember("h1", None, T0 - timedelta(hours=1)))  # older: ignored
    await record(SeenMember("h2", "c2", T0), SeenMember("h3", "c1", T0))
    await asyncio.gather(
        *(record(SeenMember("h3", "c1", T0 + timedelta(seconds=s))) for s in (3, 1, 2))
    )
    async with db.sessions() as session:
        seen = await get_seen_members(
            session=session, installation_id=installation_id, hashes=["h1", "h2", "h3", "h4"]
        )
        contacts = await hashes_of_contacts(
            session=session, installation_id=installation_id, contact_ids=["c1", "c2", "c9"]
        )
    assert seen["h1"] == SeenMember("h1", "c1", T0)  # contact id kept, version not moved back
    assert seen["h2"] == SeenMember("h2", "c2", T0)
    assert seen["h3"].last_changed == T0 + timedelta(seconds=3)
    assert "h4" not in seen
    assert contacts == {"c1": {"h1", "h3"}, "c2": {"h2"}}


async def test_everything_goes_with_the_installation(db: Db, cipher: TokenCipher) -> None:
    installation_id = await _installation(db, cipher)
    await _add(db, installation_id, "k")
    async with db.sessions.begin() as session:
        await add_dead_letter(
            session=session, installation_id=installation_id, reason="bad", body=b"x", now=T0
        )
        await record_seen_members(
            session=session,
            installation_id=installation_id,
            members=[SeenMember("h", "c", T0)],
        )
    async with db.sessions.begin() as session:
        await session.execute(delete(InstallationRow).where(InstallationRow.id == installation_id))
    tables = await dump_tables(db.engine)
    for name in ("webhook_inbox", "webhook_dead_letters", "inbound_members"):
        assert tables[name] == [], name
    async with db.sessions() as session:
        assert (await session.execute(select(InstallationRow))).first() is None
