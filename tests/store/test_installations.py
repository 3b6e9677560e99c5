"""Installations: connect, reconnect without duplicates, tenant isolation, status, secrets."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from chimplink.store.audit import list_audit
from chimplink.store.crypto import DecryptionError, TokenCipher
from chimplink.store.installations import (
    InstallationNotFound,
    find_installation,
    get_access_token,
    get_installation,
    get_signing_secret,
    list_all_installations,
    list_installations,
    mark_needs_reconnect,
    save_installation,
    set_signing_secret,
    touch_last_used,
)
from chimplink.store.tables import InstallationRow, InstallationStatus
from chimplink.store.tenants import ensure_tenant, get_tenant, get_tenant_by_external_id
from tests.store.helpers import T0, Db, connect


async def test_connect_stores_installation_and_encrypted_token(db: Db, cipher: TokenCipher) -> None:
    saved = await connect(db, cipher, token="first-token")
    assert saved.created
    installation = saved.installation
    assert installation.status is InstallationStatus.ACTIVE
    assert installation.created_at == T0
    assert installation.last_used_at is None
    assert "owner@example.com" not in repr(installation)
    async with db.sessions() as session:
        token = await get_access_token(
            session=session, cipher=cipher, installation_id=installation.id
        )
        assert token.get_secret_value() == "first-token"
        assert "first-token" not in repr(token)
        audit = await list_audit(session=session, installation_id=installation.id)
    assert [entry.event for entry in audit] == ["connected"]


async def test_reconnect_updates_instead_of_duplicating(db: Db, cipher: TokenCipher) -> None:
    first = await connect(db, cipher, token="old-token", email="old@example.com")
    await _mark(db, first.installation.id)
    later = T0 + timedelta(days=3)
    second = await connect(db, cipher, token="new-token", email="new@example.com", now=later)
    assert not second.created
    assert second.installation.id == first.installation.id
    assert second.installation.login_email == "new@example.com"
    assert second.installation.status is InstallationStatus.ACTIVE
    assert second.installation.created_at == T0
    assert second.installation.updated_at == later
    async with db.sessions() as session:
        count = (await session.execute(select(func.count()).select_from(InstallationRow))).scalar()
        token = await get_access_token(
            session=session, cipher=cipher, installation_id=first.installation.id
        )
        events = [e.event for e in await list_audit(session=session)]
    assert count == 1
    assert token.get_secret_value() == "new-token"
    assert events == ["reconnected", "needs_reconnect", "connected"]


async def _mark(db: Db, installation_id: str) -> bool:
    async with db.sessions.begin() as session:
        return await mark_needs_reconnect(session=session, installation_id=installation_id, now=T0)


async def test_same_account_for_two_tenants_is_two_installations(
    db: Db, cipher: TokenCipher
) -> None:
    one = await connect(db, cipher, tenant="alice", account_id="shared")
    two = await connect(db, cipher, tenant="bob", account_id="shared")
    assert one.installation.id != two.installation.id
    assert one.installation.tenant_id != two.installation.tenant_id


async def test_concurrent_connects_of_one_account_make_one_row(db: Db, cipher: TokenCipher) -> None:
    await connect(db, cipher, tenant="alice", account_id="other")  # creates the tenant
    results = await asyncio.gather(
        *(connect(db, cipher, tenant="alice", token=f"token-{n}") for n in range(4))
    )
    assert len({r.installation.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    async with db.sessions() as session:
        assert (
            len(
                await list_installations(
                    session=session, tenant_id=results[0].installation.tenant_id
                )
            )
            == 2
        )


async def test_tenant_isolation(db: Db, cipher: TokenCipher) -> None:
    alice = (await connect(db, cipher, tenant="alice", account_id="a")).installation
    bob = (await connect(db, cipher, tenant="bob", account_id="b")).installation
    async with db.sessions() as session:
        assert (
            await get_installation(
                session=session, tenant_id=alice.tenant_id, installation_id=bob.id
            )
            is None
        )
        mine = await get_installation(
            session=session, tenant_id=alice.tenant_id, installation_id=alice.id
        )
        assert mine is not None and mine.id == alice.id
        assert [
            i.id for i in await list_installations(session=session, tenant_id=bob.tenant_id)
        ] == [bob.id]
        assert len(await list_all_installations(session=session)) == 2
        found = await find_installation(session=session, installation_id=bob.id)
        assert found is not None and found.tenant_id == bob.tenant_id
        assert await find_installation(session=session, installation_id="nope") is None


async def test_needs_reconnect_transition_is_recorded_once(db: Db, cipher: TokenCipher) -> None:
    installation = (await connect(db, cipher)).installation
    assert await _mark(db, installation.id) is True
    assert await _mark(db, installation.id) is False  # every worker may call it; one audit row
    assert await _mark(db, "unknown") is False
    async with db.sessions() as session:
        found = await find_installation(session=session, installation_id=installation.id)
        assert found is not None and found.status is InstallationStatus.NEEDS_RECONNECT
        assert [
            e.event for e in await list_audit(session=session, installation_id=installation.id)
        ] == ["needs_reconnect", "connected"]
        flagged = await list_all_installations(
            session=session, status=InstallationStatus.NEEDS_RECONNECT
        )
    assert [i.id for i in flagged] == [installation.id]


async def test_last_used_only_moves_forward(db: Db, cipher: TokenCipher) -> None:
    installation = (await connect(db, cipher)).installation
    for at in (T0 + timedelta(hours=2), T0 + timedelta(hours=1)):
        async with db.sessions.begin() as session:
            await touch_last_used(session=session, installation_id=installation.id, at=at)
    async with db.sessions() as session:
        found = await find_installation(session=session, installation_id=installation.id)
    assert found is not None and found.last_used_at == T0 + timedelta(hours=2)


async def test_signing_secret_round_trip(db: Db, cipher: TokenCipher) -> None:
    installation = (await connect(db, cipher)).installation
    async with db.sessions.begin() as session:
        assert (
            await get_signing_secret(
                session=session, cipher=cipher, installation_id=installation.id
            )
            is None
        )
        await set_signing_secret(
            session=session, cipher=cipher, installation_id=installation.id, signing_secret="whsec"
        )
    async with db.sessions.begin() as session:
        secret = await get_signing_secret(
            session=session, cipher=cipher, installation_id=installation.id
        )
        assert secret is not None and secret.get_secret_value() == "whsec"
        await set_signing_secret(
            session=session, cipher=cipher, installation_id=installation.id, signing_secret=None
        )
    async with db.sessions() as session:
        assert (
            await get_signing_secret(
                session=session, cipher=cipher, installation_id=installation.id
            )
            is None
        )
        with pytest.raises(InstallationNotFound):
            await set_signing_secret(
                session=session, cipher=cipher, installation_id="nope", signing_secret="x"
            )
        with pytest.raises(InstallationNotFound):
            await get_access_token(session=session, cipher=cipher, installation_id="nope")


async def test_wrong_key_cannot_read_tokens(db: Db, cipher: TokenCipher) -> None:
    installation = (await connect(db, cipher)).installation
    other = TokenCipher([TokenCipher.generate_key()])
    async with db.sessions() as session:
        with pytest.raises(DecryptionError):
            await get_access_token(session=session, cipher=other, installation_id=installation.id)


async def test_empty_token_is_refused(db: Db, cipher: TokenCipher) -> None:
    with pytest.raises(ValueError, match="empty"):
        await connect(db, cipher, token="")


async def test_tenants_are_created_once_and_renamed(db: Db) -> None:
    async with db.sessions.begin() as session:
        first = await ensure_tenant(session=session, external_id="user-9", name="Ann", now=T0)
        again = await ensure_tenant(session=session, external_id="user-9")
        renamed = await ensure_tenant(session=session, external_id="user-9", name="Anna")
    assert first.id == again.id == renamed.id
    assert again.name == "Ann"
    assert renamed.name == "Anna"
    async with db.sessions() as session:
        assert await get_tenant(session=session, tenant_id=first.id) == renamed
        assert await get_tenant_by_external_id(session=session, external_id="user-9") == renamed
        assert await get_tenant(session=session, tenant_id="nope") is None
    with pytest.raises(ValueError, match="external_id"):
        async with db.sessions.begin() as session:
            await ensure_tenant(session=session, external_id="")


async def test_concurrent_first_visits_make_one_tenant(db: Db) -> None:
    async def visit() -> str:
        async with db.sessions.begin() as session:
            return (await ensure_tenant(session=session, external_id="same-user")).id

    ids = await asyncio.gather(*(visit() for _ in range(4)))
    assert len(set(ids)) == 1


async def test_reads_in_one_transaction_see_its_own_writes(db: Db, cipher: TokenCipher) -> None:
    installation = (await connect(db, cipher, token="old")).installation
    async with db.sessions.begin() as session:
        assert await get_access_token(
            session=session, cipher=cipher, installation_id=installation.id
        )
        before = await get_installation(
            session=session, tenant_id=installation.tenant_id, installation_id=installation.id
        )
        assert before is not None and before.status is InstallationStatus.ACTIVE
        await mark_needs_reconnect(session=session, installation_id=installation.id, now=T0)
        after = await get_installation(
            session=session, tenant_id=installation.tenant_id, installation_id=installation.id
        )
        assert after is not None and after.status is InstallationStatus.NEEDS_RECONNECT
        await save_installation(
            session=session,
            cipher=cipher,
            tenant_id=installation.tenant_id,
            account_id=installation.account_id,
            login_id="l",
            login_email="e@example.com",
            account_name="n",
            dc="us1",
            api_base="https://us1.api.mailchimp.com",
            access_token="new",
            now=T0,
        )
        token = await get_access_token(
            session=session, cipher=cipher, installation_id=installation.id
        )
        assert token.get_secret_value() == "new"
