"""Tenants: the platform's users. Created on first arrival, found by the platform's id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chimplink.store._common import dialect_insert, new_id, utc
from chimplink.store.tables import TenantRow

__all__ = ["Tenant", "ensure_tenant", "get_tenant", "get_tenant_by_external_id"]


@dataclass(frozen=True)
class Tenant:
    id: str
    external_id: str  # the platform's user id
    name: str | None
    created_at: datetime


def _tenant(row: TenantRow) -> Tenant:
    return Tenant(id=row.id, external_id=row.external_id, name=row.name, created_at=row.created_at)


async def ensure_tenant(
    *,
    session: AsyncSession,
    external_id: str,
    name: str | None = None,
    now: datetime | None = None,
) -> Tenant:
    """The tenant for the platform's user id, created if new (safe under concurrency).

    A given `name` replaces the stored one; `None` leaves it.
    """
    if not external_id or len(external_id) > 255:
        raise ValueError("external_id must be 1 to 255 characters")
    statement = (
        dialect_insert(session, TenantRow)
        .values(id=new_id(), external_id=external_id, name=name, created_at=utc(now))
        .on_conflict_do_nothing(index_elements=[TenantRow.external_id])
    )
    await session.execute(statement)
    if name is not None:
        await session.execute(
            update(TenantRow)
            .where(TenantRow.external_id == external_id, TenantRow.name.is_distinct_from(name))
            .values(name=name)
        )
    query = (
        select(TenantRow)
        .where(TenantRow.external_id == external_id)
        .execution_options(populate_existing=True)
    )
    return _tenant((await session.execute(query)).scalar_one())


async def get_tenant(*, session: AsyncSession, tenant_id: str) -> Tenant | None:
    row = await session.get(TenantRow, tenant_id, populate_existing=True)
    return None if row is None else _tenant(row)


async def get_tenant_by_external_id(*, session: AsyncSession, external_id: str) -> Tenant | None:
    row = (
        await session.execute(
            select(TenantRow)
            .where(TenantRow.external_id == external_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    return None if row is None else _tenant(row)
