"""Server-side OAuth `state`: random, single-use, expiring, bound to one browser session.

Mailchimp does not document PKCE, so `state` is the CSRF defence
(RFC 9700 §2.1, reliability.md §1.1). We store only SHA-256 digests of the
state and of the session binding (a random id from the signed session
cookie); the PKCE verifier, which must later be sent in clear, is encrypted.

Consumption is one conditional UPDATE (`used_at IS NULL AND expires_at > now`
and the session matches) with RETURNING: of two concurrent callbacks with the
same state, exactly one gets the row. The return path is kept here, never in
`state` itself.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import SecretStr
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chimplink.store._common import sha256_hex, utc
from chimplink.store.crypto import TokenCipher, code_verifier_context
from chimplink.store.tables import OAuthStateRow

__all__ = [
    "DEFAULT_STATE_TTL",
    "ConsumedState",
    "IssuedState",
    "StateRejected",
    "consume_oauth_state",
    "delete_stale_oauth_states",
    "issue_oauth_state",
]

DEFAULT_STATE_TTL = timedelta(minutes=10)

RejectReason = Literal["unknown", "used", "expired", "other_session"]


class StateRejected(Exception):
    """The callback's `state` cannot be accepted; `reason` says why (for the page and logs)."""

    def __init__(self, reason: RejectReason) -> None:
        super().__init__(f"OAuth state rejected: {reason}")
        self.reason: RejectReason = reason


@dataclass(frozen=True)
class IssuedState:
    state: str = field(repr=False)  # goes into the authorize URL
    code_verifier: SecretStr  # PKCE: derive the S256 challenge from it
    expires_at: datetime


@dataclass(frozen=True)
class ConsumedState:
    tenant_id: str
    return_to: str
    code_verifier: SecretStr


def _check_return_to(path: str) -> str:
    # The web layer validates redirects; this keeps a bad value out of storage anyway.
    if not path.startswith("/") or path.startswith(("//", "/\\")) or len(path) > 2048:
        raise ValueError("return_to must be a same-origin path such as /installations")
    return path


async def issue_oauth_state(
    *,
    session: AsyncSession,
    cipher: TokenCipher,
    tenant_id: str,
    session_binding: str,
    return_to: str = "/",
    ttl: timedelta = DEFAULT_STATE_TTL,
    now: datetime | None = None,
) -> IssuedState:
    """Create a state (256 random bits) and a PKCE verifier for one authorization request."""
    if not session_binding:
        raise ValueError("session_binding is required: a state must belong to one browser session")
    at = utc(now)
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43..128
    state_hash = sha256_hex(state)
    sealed = cipher.encrypt(verifier, context=code_verifier_context(state_hash))
    session.add(
        OAuthStateRow(
            state_hash=state_hash,
            session_hash=sha256_hex(session_binding),
            tenant_id=tenant_id,
            code_verifier_ciphertext=sealed.ciphertext,
            code_verifier_key_id=sealed.key_id,
            return_to=_check_return_to(return_to),
            created_at=at,
            expires_at=at + ttl,
            used_at=None,
        )
    )
    await session.flush()
    return IssuedState(state=state, code_verifier=SecretStr(verifier), expires_at=at + ttl)


async def consume_oauth_state(
    *,
    session: AsyncSession,
    cipher: TokenCipher,
    state: str,
    session_binding: str,
    now: datetime | None = None,
) -> ConsumedState:
    """Accept a callback's state once. StateRejected for unknown, used, expired or foreign ones.

    A state presented from another browser session is rejected without being
    used up, so an attacker cannot burn the victim's pending request.
    """
    at = utc(now)
    if not state or not session_binding or len(state) > 512:
        raise StateRejected("unknown")
    state_hash = sha256_hex(state)
    claimed = (
        await session.execute(
            update(OAuthStateRow)
            .where(
                OAuthStateRow.state_hash == state_hash,
                OAuthStateRow.session_hash == sha256_hex(session_binding),
                OAuthStateRow.used_at.is_(None),
                OAuthStateRow.expires_at > at,
            )
            .values(used_at=at)
            .returning(
                OAuthStateRow.tenant_id,
                OAuthStateRow.return_to,
                OAuthStateRow.code_verifier_ciphertext,
            )
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if claimed is not None:
        verifier = cipher.decrypt(
            claimed.code_verifier_ciphertext, context=code_verifier_context(state_hash)
        )
        return ConsumedState(
            tenant_id=claimed.tenant_id,
            return_to=claimed.return_to,
            code_verifier=SecretStr(verifier),
        )
    row = (
        await session.execute(
            select(
                OAuthStateRow.used_at, OAuthStateRow.expires_at, OAuthStateRow.session_hash
            ).where(OAuthStateRow.state_hash == state_hash)
        )
    ).one_or_none()
    if row is None:
        raise StateRejected("unknown")
    if row.used_at is not None:
        raise StateRejected("used")
    if row.expires_at <= at:
        raise StateRejected("expired")
    raise StateRejected("other_session")


async def delete_stale_oauth_states(
    *, session: AsyncSession, now: datetime | None = None, grace: timedelta = timedelta(hours=1)
) -> int:
    """Housekeeping: drop states expired or used more than `grace` ago."""
    limit = utc(now) - grace
    result = await session.execute(
        delete(OAuthStateRow)
        .where(or_(OAuthStateRow.expires_at < limit, OAuthStateRow.used_at < limit))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))
