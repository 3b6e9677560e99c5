"""The outbox of webhooks to push platforms: written with the change, drained by a job.

    connector:  enqueue_push_delivery()      (same transaction as the contact change)
    job:        claim_push_deliveries() → deliver → mark_push_delivered()
                                                   | retry_push_delivery() | kill_push_delivery()
                prune_push_deliveries()

A delivery is enqueued in the transaction that changes the contact, so a
change is never applied without its webhook, nor announced without being
applied. Claims are leases (as in `cleanup.py` and `inbox.py`): a claim moves
`next_attempt_at` past the lease and counts the attempt, so another worker
does not take the row, and a crashed worker's rows come back when the lease
ends. The attempt count is the fence: an outcome is recorded only by the
claim that made that attempt.

Delivery is at least once: a webhook may arrive twice (same `webhook-id`).

Retention (the payload holds personal data): delivered rows go after
`DELIVERED_RETENTION`, dead ones after `DEAD_RETENTION`, all of a tenant's
rows with the tenant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from chimplink.store._common import utc
from chimplink.store.tables import PushDeliveryRow, PushTenantRow

__all__ = [
    "DEAD_RETENTION",
    "DELIVERED_RETENTION",
    "PUSH_DELIVERY_LEASE",
    "DeliveryStatus",
    "PushDelivery",
    "claim_push_deliveries",
    "count_push_deliveries",
    "enqueue_push_delivery",
    "has_due_push_deliveries",
    "kill_push_delivery",
    "list_push_deliveries",
    "mark_push_delivered",
    "prune_push_deliveries",
    "retry_push_delivery",
]

PUSH_DELIVERY_LEASE = timedelta(minutes=2)
DELIVERED_RETENTION = timedelta(days=3)
DEAD_RETENTION = timedelta(days=30)
ERROR_LENGTH = 500


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # given up: `last_error` says why


@dataclass(frozen=True)
class PushDelivery:
    id: int
    tenant_id: str
    message_id: str
    event_type: str
    payload: str = field(repr=False)  # personal data
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    finished_at: datetime | None
    last_status: int | None
    last_error: str | None


def _delivery(row: PushDeliveryRow) -> PushDelivery:
    return PushDelivery(
        id=row.id,
        tenant_id=row.tenant_id,
        message_id=row.message_id,
        event_type=row.event_type,
        payload=row.payload,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        finished_at=row.finished_at,
        last_status=row.last_status,
        last_error=row.last_error,
    )


async def enqueue_push_delivery(
    *,
    session: AsyncSession,
    tenant_id: str,
    message_id: str,
    event_type: str,
    payload: str,
    now: datetime | None = None,
) -> bool:
    """Queue a webhook; False (nothing queued) when the tenant has no webhook endpoint."""
    configured = (
        await session.execute(
            select(PushTenantRow.tenant_id).where(
                PushTenantRow.tenant_id == tenant_id, PushTenantRow.webhook_url.is_not(None)
            )
        )
    ).first()
    if configured is None:
        return False
    at = utc(now)
    session.add(
        PushDeliveryRow(
            tenant_id=tenant_id,
            message_id=message_id,
            event_type=event_type,
            payload=payload,
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=at,
            created_at=at,
        )
    )
    await session.flush()
    return True


def _due(at: datetime) -> list[ColumnElement[bool]]:
    return [
        PushDeliveryRow.status == DeliveryStatus.PENDING.value,
        PushDeliveryRow.next_attempt_at <= at,
    ]


async def has_due_push_deliveries(*, session: AsyncSession, now: datetime | None = None) -> bool:
    query = select(PushDeliveryRow.id).where(*_due(utc(now))).limit(1)
    return (await session.execute(query)).first() is not None


async def claim_push_deliveries(
    *,
    session: AsyncSession,
    now: datetime | None = None,
    limit: int = 50,
    lease: timedelta = PUSH_DELIVERY_LEASE,
) -> list[PushDelivery]:
    """Deliveries due now, oldest first, each leased to this caller with its attempt counted."""
    at = utc(now)
    rows = (
        (
            await session.execute(
                select(PushDeliveryRow)
                .where(*_due(at))
                .order_by(PushDeliveryRow.next_attempt_at, PushDeliveryRow.id)
                .limit(limit)
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )
    claimed: list[PushDelivery] = []
    for row in rows:
        # Optimistic claim: only one caller moves the row from the state it read.
        result = await session.execute(
            update(PushDeliveryRow)
            .where(
                PushDeliveryRow.id == row.id,
                PushDeliveryRow.attempts == row.attempts,
                PushDeliveryRow.next_attempt_at == row.next_attempt_at,
            )
            .values(next_attempt_at=at + lease, attempts=row.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0):
            claimed.append(
                replace(_delivery(row), attempts=row.attempts + 1, next_attempt_at=at + lease)
            )
    return claimed


async def _finish(session: AsyncSession, delivery: PushDelivery, values: dict[str, object]) -> bool:
    """Record the outcome of `delivery`'s attempt, unless another claim has moved on since."""
    result = await session.execute(
        update(PushDeliveryRow)
        .where(
            PushDeliveryRow.id == delivery.id,
            PushDeliveryRow.attempts == delivery.attempts,
            PushDeliveryRow.status == DeliveryStatus.PENDING.value,
        )
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_push_delivered(
    *, session: AsyncSession, delivery: PushDelivery, status: int, now: datetime | None = None
) -> bool:
    return await _finish(
        session,
        delivery,
        {
            "status": DeliveryStatus.DELIVERED.value,
            "finished_at": utc(now),
            "last_status": status,
            "last_error": None,
        },
    )


async def retry_push_delivery(
    *,
    session: AsyncSession,
    delivery: PushDelivery,
    at: datetime,
    error: str,
    status: int | None = None,
) -> bool:
    """A failed attempt: try again at `at`. `error` is PII-free (a status or an error class)."""
    return await _finish(
        session,
        delivery,
        {"next_attempt_at": utc(at), "last_status": status, "last_error": error[:ERROR_LENGTH]},
    )


async def kill_push_delivery(
    *,
    session: AsyncSession,
    delivery: PushDelivery,
    error: str,
    status: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Give up: the row stays, `dead`, with the reason, until `DEAD_RETENTION`."""
    return await _finish(
        session,
        delivery,
        {
            "status": DeliveryStatus.DEAD.value,
            "finished_at": utc(now),
            "last_status": status,
            "last_error": error[:ERROR_LENGTH],
        },
    )


async def list_push_deliveries(
    *,
    session: AsyncSession,
    tenant_id: str,
    statuses: Sequence[DeliveryStatus] | None = None,
    limit: int = 100,
) -> list[PushDelivery]:
    """The tenant's deliveries, oldest first."""
    query = select(PushDeliveryRow).where(PushDeliveryRow.tenant_id == tenant_id)
    if statuses is not None:
        query = query.where(PushDeliveryRow.status.in_([s.value for s in statuses]))
    rows = await session.execute(
        query.order_by(PushDeliveryRow.id).limit(limit).execution_options(populate_existing=True)
    )
    return [_delivery(row) for row in rows.scalars()]


async def count_push_deliveries(
    *, session: AsyncSession, tenant_id: str
) -> dict[DeliveryStatus, int]:
    rows = await session.execute(
        select(PushDeliveryRow.status, func.count())
        .where(PushDeliveryRow.tenant_id == tenant_id)
        .group_by(PushDeliveryRow.status)
    )
    counts = {status: 0 for status in DeliveryStatus}
    for status, count in rows:
        counts[DeliveryStatus(status)] = int(count)
    return counts


async def prune_push_deliveries(*, session: AsyncSession, now: datetime | None = None) -> int:
    """Delete delivered rows after DELIVERED_RETENTION and dead ones after DEAD_RETENTION."""
    at = utc(now)
    result = await session.execute(
        delete(PushDeliveryRow)
        .where(
            or_(
                and_(
                    PushDeliveryRow.status == DeliveryStatus.DELIVERED.value,
                    PushDeliveryRow.finished_at < at - DELIVERED_RETENTION,
                ),
                and_(
                    PushDeliveryRow.status == DeliveryStatus.DEAD.value,
                    PushDeliveryRow.finished_at < at - DEAD_RETENTION,
                ),
            )
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
