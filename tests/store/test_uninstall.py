"""Uninstall: everything about the installation goes but one PII-free audit row;
remote clean-up is durable, retried, and keeps the token no longer than needed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update

from chimplink.store.api_calls import ApiCallRecord, record_api_calls
from chimplink.store.audit import list_audit
from chimplink.store.cleanup import (
    abandon_expired_cleanups,
    claim_due_cleanups,
    complete_cleanup,
    count_pending_cleanups,
    fail_cleanup,
)
from chimplink.store.crypto import TokenCipher
from chimplink.store.installations import (
    find_installation,
    mark_needs_reconnect,
    set_signing_secret,
)
from chimplink.store.oauth_states import issue_oauth_state
from chimplink.store.remote_webhooks import (
    forget_remote_webhook,
    list_remote_webhooks,
    record_remote_webhook,
)
from chimplink.store.tables import PendingCleanupRow
from chimplink.store.uninstall import PurgeResult, purge_installation
from tests.store.helpers import T0, Db, connect, dump_tables, leaks, tables_mentioning

EMAIL = "Canary.Owner@Example.COM"
TOKEN = "canary-token-5f1d3a"


async def _installed_with_everything(db: Db, cipher: TokenCipher) -> str:
    saved = await connect(db, cipher, token=TOKEN, email=EMAIL)
    installation = saved.installation
    async with db.sessions.begin() as session:
        await set_signing_secret(
            session=session,
            cipher=cipher,
            installation_id=installation.id,
            signing_secret="whsec-1",
        )
        for webhook in ("wh-1", "wh-2"):
            await record_remote_webhook(
                session=session,
                installation_id=installation.id,
                list_id="list-1",
                webhook_id=webhook,
            )
        await record_remote_webhook(  # idempotent
            session=session, installation_id=installation.id, list_id="list-1", webhook_id="wh-1"
        )
        await record_api_calls(
            session=session,
            calls=[ApiCallRecord(installation.id, "GET /lists", 200, 80, T0)],
        )
        await mark_needs_reconnect(session=session, installation_id=installation.id, now=T0)
        await issue_oauth_state(
            session=session,
            cipher=cipher,
            tenant_id=installation.tenant_id,
            session_binding="browser",
            now=T0,
        )
    return installation.id


async def _purge(db: Db, cipher: TokenCipher, installation_id: str) -> PurgeResult:
    async with db.sessions.begin() as session:
        return await purge_installation(
            session=session, cipher=cipher, installation_id=installation_id, now=T0
        )


async def test_purge_leaves_only_the_audit_row(db: Db, cipher: TokenCipher) -> None:
    installation_id = await _installed_with_everything(db, cipher)
    async with db.sessions() as session:
        assert (
            len(await list_remote_webhooks(session=session, installation_id=installation_id)) == 2
        )

    result = await _purge(db, cipher, installation_id)
    assert result.purged
    assert len(result.cleanup_ids) == 2
    assert result.orphaned_webhooks == 0

    dump = await dump_tables(db.engine)
    assert tables_mentioning(dump, installation_id) == {"audit_log": 1}
    assert tables_mentioning(dump, EMAIL) == {}
    assert tables_mentioning(dump, "example.com") == {}
    assert not leaks(repr(dump).encode(), TOKEN)
    (audit,) = [row for row in dump["audit_log"] if row["installation_id"] == installation_id]
    assert audit["event"] == "uninstalled"
    for table in ("installations", "installation_secrets", "remote_webhooks", "api_calls"):
        assert dump[table] == [], table
    assert len(dump["pending_cleanups"]) == 2  # the remote deletes still owed, without PII


async def test_purge_twice_is_harmless(db: Db, cipher: TokenCipher) -> None:
    installation_id = await _installed_with_everything(db, cipher)
    await _purge(db, cipher, installation_id)
    again = await _purge(db, cipher, installation_id)
    assert again == PurgeResult(purged=False)
    async with db.sessions() as session:
        assert await find_installation(session=session, installation_id=installation_id) is None
        entries = await list_audit(session=session, installation_id=installation_id)
        assert [e.event for e in entries].count("uninstalled") == 1
        assert await count_pending_cleanups(session=session) == 2


async def test_concurrent_purges_clean_up_once(db: Db, cipher: TokenCipher) -> None:
    installation_id = await _installed_with_everything(db, cipher)
    results = await asyncio.gather(*(_purge(db, cipher, installation_id) for _ in range(3)))
    assert sum(r.purged for r in results) == 1
    async with db.sessions() as session:
        assert await count_pending_cleanups(session=session) == 2


async def test_webhooks_deleted_before_uninstall_need_no_cleanup(
    db: Db, cipher: TokenCipher
) -> None:
    installation_id = await _installed_with_everything(db, cipher)
    async with db.sessions.begin() as session:
        for webhook in ("wh-1", "wh-2"):
            assert await forget_remote_webhook(
                session=session,
                installation_id=installation_id,
                list_id="list-1",
                webhook_id=webhook,
            )
        assert not await forget_remote_webhook(
            session=session, installation_id=installation_id, list_id="list-1", webhook_id="wh-1"
        )
    result = await _purge(db, cipher, installation_id)
    assert result.purged and result.cleanup_ids == ()


async def test_cleanup_retries_until_done_then_forgets_the_token(
    db: Db, cipher: TokenCipher
) -> None:
    installation_id = await _installed_with_everything(db, cipher)
    await _purge(db, cipher, installation_id)

    # First attempt: Mailchimp answers 503 for wh-1, deletes wh-2.
    async with db.sessions.begin() as session:
        due = await claim_due_cleanups(session=session, cipher=cipher, now=T0)
        assert sorted(c.webhook_id for c in due) == ["wh-1", "wh-2"]
        assert all(c.access_token.get_secret_value() == TOKEN for c in due)
        assert all(c.api_base == "https://us6.api.mailchimp.com" for c in due)
        assert TOKEN not in repr(due)
        for cleanup in due:
            if cleanup.webhook_id == "wh-1":
                await fail_cleanup(
                    session=session,
                    cleanup_id=cleanup.id,
                    error="503 Service Unavailable for owner@example.com",
                    now=T0,
                )
            else:
                assert await complete_cleanup(session=session, cleanup_id=cleanup.id)

    async with db.sessions.begin() as session:
        # Leased or backing off: nothing is due right away.
        assert await claim_due_cleanups(session=session, cipher=cipher, now=T0) == []
        assert (
            await claim_due_cleanups(session=session, cipher=cipher, now=T0 + timedelta(seconds=10))
            == []
        )
    dump = await dump_tables(db.engine)
    (row,) = dump["pending_cleanups"]
    assert row["attempts"] == 1
    assert "503" in row["last_error"] and "example.com" not in row["last_error"]

    async with db.sessions.begin() as session:
        (retry,) = await claim_due_cleanups(
            session=session, cipher=cipher, now=T0 + timedelta(seconds=31)
        )
        assert retry.webhook_id == "wh-1" and retry.attempts == 1
        assert await complete_cleanup(session=session, cleanup_id=retry.id)
    dump = await dump_tables(db.engine)
    assert dump["pending_cleanups"] == []
    assert not leaks(repr(dump).encode(), TOKEN)


async def test_concurrent_claims_never_share_a_row(db: Db, cipher: TokenCipher) -> None:
    installation_id = await _installed_with_everything(db, cipher)
    await _purge(db, cipher, installation_id)

    async def claim() -> list[str]:
        async with db.sessions.begin() as session:
            return [c.id for c in await claim_due_cleanups(session=session, cipher=cipher, now=T0)]

    claims = await asyncio.gather(claim(), claim(), claim())
    everything = [cleanup for claimed in claims for cleanup in claimed]
    assert len(everything) == len(set(everything)) == 2


async def test_backoff_grows_and_is_capped(db: Db, cipher: TokenCipher) -> None:
    installation_id = await _installed_with_everything(db, cipher)
    result = await _purge(db, cipher, installation_id)
    cleanup_id = result.cleanup_ids[0]
    delays = []
    for _ in range(9):
        async with db.sessions.begin() as session:
            await fail_cleanup(session=session, cleanup_id=cleanup_id, error="503", now=T0)
        rows = (await dump_tables(db.engine))["pending_cleanups"]
        (row,) = [r for r in rows if r["id"] == cleanup_id]
        delays.append(row["next_attempt_at"])
    assert delays == sorted(delays)
    async with db.sessions.begin() as session:
        await fail_cleanup(session=session, cleanup_id="unknown", error="503", now=T0)


async def test_abandoned_cleanups_delete_the_token_and_are_audited(
    db: Db, cipher: TokenCipher
) -> None:
    installation_id = await _installed_with_everything(db, cipher)
    await _purge(db, cipher, installation_id)
    async with db.sessions.begin() as session:
        assert await abandon_expired_cleanups(session=session, now=T0 + timedelta(days=2)) == 0
        assert (
            await claim_due_cleanups(session=session, cipher=cipher, now=T0 + timedelta(days=3))
            == []
        )  # past give_up_at: never claimed again
        assert await abandon_expired_cleanups(session=session, now=T0 + timedelta(days=3)) == 2
    dump = await dump_tables(db.engine)
    assert dump["pending_cleanups"] == []
    assert [r["event"] for r in dump["audit_log"]].count("cleanup_abandoned") == 2
    assert tables_mentioning(dump, installation_id) == {"audit_log": 1}


async def test_undecryptable_cleanup_token_is_abandoned(db: Db, cipher: TokenCipher) -> None:
    installation_id = await _installed_with_everything(db, cipher)
    await _purge(db, cipher, installation_id)
    async with db.sessions.begin() as session:
        rows = (await dump_tables(db.engine))["pending_cleanups"]
        # Swap the two rows' ciphertexts: each is bound to its own row.
        first, second = rows
        for row, other in ((first, second), (second, first)):
            await session.execute(
                update(PendingCleanupRow)
                .where(PendingCleanupRow.id == row["id"])
                .values(token_ciphertext=other["token_ciphertext"])
            )
    async with db.sessions.begin() as session:
        assert await claim_due_cleanups(session=session, cipher=cipher, now=T0) == []
        assert await count_pending_cleanups(session=session) == 0


async def test_purge_without_readable_token_still_deletes_everything(
    db: Db, cipher: TokenCipher
) -> None:
    installation_id = await _installed_with_everything(db, cipher)
    other = TokenCipher([TokenCipher.generate_key()])
    async with db.sessions.begin() as session:
        result = await purge_installation(
            session=session, cipher=other, installation_id=installation_id, now=T0
        )
    assert result.purged and result.cleanup_ids == () and result.orphaned_webhooks == 2
    dump = await dump_tables(db.engine)
    assert tables_mentioning(dump, installation_id) == {"audit_log": 1}
