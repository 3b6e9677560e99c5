"""OAuth state: single use, expiry, session binding, atomic consumption, no secret at rest."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from chimplink.store.crypto import TokenCipher
from chimplink.store.oauth_states import (
    ConsumedState,
    IssuedState,
    StateRejected,
    consume_oauth_state,
    delete_stale_oauth_states,
    issue_oauth_state,
)
from chimplink.store.tables import OAuthStateRow
from chimplink.store.tenants import ensure_tenant
from tests.store.helpers import T0, Db, dump_tables, leaks

SESSION = "browser-session-1"


async def _issue(
    db: Db,
    cipher: TokenCipher,
    *,
    return_to: str = "/installations",
    ttl: timedelta = timedelta(minutes=10),
) -> tuple[str, IssuedState]:
    async with db.sessions.begin() as session:
        tenant = await ensure_tenant(session=session, external_id="user-1", now=T0)
        issued = await issue_oauth_state(
            session=session,
            cipher=cipher,
            tenant_id=tenant.id,
            session_binding=SESSION,
            return_to=return_to,
            ttl=ttl,
            now=T0,
        )
    return tenant.id, issued


async def _consume(
    db: Db,
    cipher: TokenCipher,
    state: str,
    *,
    binding: str = SESSION,
    after: timedelta = timedelta(minutes=1),
) -> ConsumedState:
    async with db.sessions.begin() as session:
        return await consume_oauth_state(
            session=session, cipher=cipher, state=state, session_binding=binding, now=T0 + after
        )


async def test_issue_then_consume_once(db: Db, cipher: TokenCipher) -> None:
    tenant_id, issued = await _issue(db, cipher)
    assert len(issued.state) >= 43  # 256 random bits
    assert 43 <= len(issued.code_verifier.get_secret_value()) <= 128
    assert issued.expires_at == T0 + timedelta(minutes=10)
    assert issued.state not in repr(issued)
    consumed = await _consume(db, cipher, issued.state)
    assert consumed.tenant_id == tenant_id
    assert consumed.return_to == "/installations"
    assert consumed.code_verifier == issued.code_verifier
    with pytest.raises(StateRejected) as replay:
        await _consume(db, cipher, issued.state)
    assert replay.value.reason == "used"


async def test_only_digests_and_ciphertext_are_stored(db: Db, cipher: TokenCipher) -> None:
    _, issued = await _issue(db, cipher)
    async with db.sessions() as session:
        row = (await session.execute(select(OAuthStateRow))).scalar_one()
    assert row.state_hash == hashlib.sha256(issued.state.encode()).hexdigest()
    assert row.session_hash == hashlib.sha256(SESSION.encode()).hexdigest()
    dump = repr(await dump_tables(db.engine)).encode()
    assert not leaks(dump, issued.state)
    assert not leaks(dump, issued.code_verifier.get_secret_value())
    assert not leaks(dump, SESSION)


async def test_expired_state_is_rejected(db: Db, cipher: TokenCipher) -> None:
    _, issued = await _issue(db, cipher, ttl=timedelta(minutes=10))
    with pytest.raises(StateRejected) as expired:
        await _consume(db, cipher, issued.state, after=timedelta(minutes=10))
    assert expired.value.reason == "expired"


@pytest.mark.parametrize("state", ["", "x", "A" * 43, "A" * 10_000])
async def test_unknown_states_are_rejected(db: Db, cipher: TokenCipher, state: str) -> None:
    await _issue(db, cipher)
    with pytest.raises(StateRejected) as unknown:
        await _consume(db, cipher, state)
    assert unknown.value.reason == "unknown"


async def test_bit_flipped_state_is_unknown(db: Db, cipher: TokenCipher) -> None:
    _, issued = await _issue(db, cipher)
    flipped = issued.state[:-1] + ("A" if issued.state[-1] != "A" else "B")
    with pytest.raises(StateRejected) as unknown:
        await _consume(db, cipher, flipped)
    assert unknown.value.reason == "unknown"
    assert (await _consume(db, cipher, issued.state)).return_to == "/installations"


async def test_other_session_is_rejected_without_burning_the_state(
    db: Db, cipher: TokenCipher
) -> None:
    _, issued = await _issue(db, cipher)
    for binding in ("attacker-session", ""):
        with pytest.raises(StateRejected):
            await _consume(db, cipher, issued.state, binding=binding)
    with pytest.raises(StateRejected) as foreign:
        await _consume(db, cipher, issued.state, binding="attacker-session")
    assert foreign.value.reason == "other_session"
    assert (await _consume(db, cipher, issued.state)).return_to == "/installations"


async def test_concurrent_consumption_has_exactly_one_winner(db: Db, cipher: TokenCipher) -> None:
    _, issued = await _issue(db, cipher)

    async def attempt() -> str:
        try:
            await _consume(db, cipher, issued.state)
        except StateRejected as exc:
            return exc.reason
        return "won"

    outcomes = await asyncio.gather(*(attempt() for _ in range(5)))
    assert sorted(outcomes) == ["used", "used", "used", "used", "won"]


@pytest.mark.parametrize(
    "return_to", ["//evil.example", "/\\evil", "https://evil.example", "evil", ""]
)
async def test_return_to_must_be_a_local_path(db: Db, cipher: TokenCipher, return_to: str) -> None:
    with pytest.raises(ValueError, match="same-origin"):
        await _issue(db, cipher, return_to=return_to)


async def test_session_binding_is_required(db: Db, cipher: TokenCipher) -> None:
    async with db.sessions.begin() as session:
        tenant = await ensure_tenant(session=session, external_id="user-1", now=T0)
        with pytest.raises(ValueError, match="session_binding"):
            await issue_oauth_state(
                session=session, cipher=cipher, tenant_id=tenant.id, session_binding=""
            )


async def test_stale_states_are_deleted(db: Db, cipher: TokenCipher) -> None:
    _, used = await _issue(db, cipher)
    await _consume(db, cipher, used.state)
    _, pending = await _issue(db, cipher, ttl=timedelta(hours=5))
    await _issue(db, cipher)  # expires at T0 + 10 min
    async with db.sessions.begin() as session:
        deleted = await delete_stale_oauth_states(
            session=session, now=T0 + timedelta(hours=2), grace=timedelta(hours=1)
        )
    assert deleted == 2
    assert (await _consume(db, cipher, pending.state, after=timedelta(hours=2))).tenant_id
