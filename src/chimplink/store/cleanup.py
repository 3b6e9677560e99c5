"""Remote clean-up owed after an uninstall, retried from a durable record until done.

Uninstall deletes every local secret at once (`purge_installation`); the
webhooks chimplink created at Mailchimp still have to be deleted *there*,
and Mailchimp may be unreachable. Each such webhook becomes a
`pending_cleanups` row that holds what the DELETE needs: account, API base,
list and webhook ids, and the token — re-encrypted and bound to that row, the
only copy left. The row is deleted (and the token with it) when the webhook
is gone, or at `give_up_at`, whichever comes first.

A worker loop: `claim_due_cleanups()` → DELETE at Mailchimp → on 2xx/404
`complete_cleanup()`, otherwise `fail_cleanup()` (exponential backoff);
`abandon_expired_cleanups()` now and then. Claims are leases, so two workers
never act on the same row at once, and a crashed worker's claim expires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chimplink.store._common import utc
from chimplink.store.audit import AuditEvent, record_audit
from chimplink.store.crypto import DecryptionError, TokenCipher, cleanup_token_context
from chimplink.store.tables import PendingCleanupRow

__all__ = [
    "CLEANUP_LEASE",
    "DueCleanup",
    "abandon_expired_cleanups",
    "claim_due_cleanups",
    "complete_cleanup",
    "count_pending_cleanups",
    "fail_cleanup",
]

CLEANUP_LEASE = timedelta(minutes=5)
_FIRST_RETRY = timedelta(seconds=30)
_MAX_RETRY = timedelta(hours=1)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


@dataclass(frozen=True)
class DueCleanup:
    """One webhook to delete at Mailchimp, with the token to do it."""

    id: str
    account_id: str
    api_base: str
    list_id: str
    webhook_id: str
    attempts: int
    access_token: SecretStr


async def claim_due_cleanups(
    *,
    session: AsyncSession,
    cipher: TokenCipher,
    now: datetime | None = None,
    limit: int = 20,
    lease: timedelta = CLEANUP_LEASE,
) -> list[DueCleanup]:
    """Rows due now, each leased for `lease` (pushed out of the due set) to this caller.

    Rows whose token no longer decrypts (a key was removed too early) cannot
    ever succeed: they are abandoned on the spot, with an audit entry.
    """
    at = utc(now)
    rows = (
        (
            await session.execute(
                select(PendingCleanupRow)
                .where(PendingCleanupRow.next_attempt_at <= at, PendingCleanupRow.give_up_at > at)
                .order_by(PendingCleanupRow.next_attempt_at, PendingCleanupRow.id)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    claimed: list[DueCleanup] = []
    for row in rows:
        # Optimistic claim: only one caller moves next_attempt_at from the value it read.
        result = await session.execute(
            update(PendingCleanupRow)
            .where(
                PendingCleanupRow.id == row.id,
                PendingCleanupRow.next_attempt_at == row.next_attempt_at,
            )
            .values(next_attempt_at=at + lease)
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            continue
        try:
            token = cipher.decrypt(row.token_ciphertext, context=cleanup_token_context(row.id))
        except DecryptionError:
            await _abandon(session=session, row=row, reason="token cannot be decrypted", now=at)
            continue
        claimed.append(
            DueCleanup(
                id=row.id,
                account_id=row.account_id,
                api_base=row.api_base,
                list_id=row.list_id,
                webhook_id=row.webhook_id,
                attempts=row.attempts,
                access_token=SecretStr(token),
            )
        )
    return claimed


async def complete_cleanup(*, session: AsyncSession, cleanup_id: str) -> bool:
    """The webhook is gone at Mailchimp (deleted, or 404): forget the row and its token."""
    result = await session.execute(
        delete(PendingCleanupRow)
        .where(PendingCleanupRow.id == cleanup_id)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def fail_cleanup(
    *, session: AsyncSession, cleanup_id: str, error: str, now: datetime | None = None
) -> None:
    """Record a failed attempt and schedule the next one (30 s, doubling, at most 1 h).

    `error` should be a status or an error title; addresses are masked anyway.
    """
    at = utc(now)
    row = await session.get(PendingCleanupRow, cleanup_id, populate_existing=True)
    if row is None:
        return
    delay = min(_FIRST_RETRY * (2 ** min(row.attempts, 16)), _MAX_RETRY)
    row.attempts += 1
    row.next_attempt_at = at + delay
    row.last_error = _EMAIL.sub("[email]", error)[:500]
    await session.flush()


async def abandon_expired_cleanups(*, session: AsyncSession, now: datetime | None = None) -> int:
    """Give up on rows past `give_up_at`: delete them (and the token), one audit entry each."""
    at = utc(now)
    rows = (
        (await session.execute(select(PendingCleanupRow).where(PendingCleanupRow.give_up_at <= at)))
        .scalars()
        .all()
    )
    for row in rows:
        await _abandon(session=session, row=row, reason="gave up", now=at)
    return len(rows)


async def count_pending_cleanups(*, session: AsyncSession) -> int:
    return int(
        (await session.execute(select(func.count()).select_from(PendingCleanupRow))).scalar_one()
    )


async def _abandon(
    *, session: AsyncSession, row: PendingCleanupRow, reason: str, now: datetime
) -> None:
    await record_audit(
        session=session,
        event=AuditEvent.CLEANUP_ABANDONED,
        tenant_id=row.tenant_id,
        details={
            "reason": reason,
            "list_id": row.list_id,
            "webhook_id": row.webhook_id,
            "attempts": row.attempts,
        },
        now=now,
    )
    await session.execute(
        delete(PendingCleanupRow)
        .where(PendingCleanupRow.id == row.id)
        .execution_options(synchronize_session=False)
    )
