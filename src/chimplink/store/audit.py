"""The audit log: what happened to which tenant and installation, without personal data.

This is the one record that survives an uninstall, so `details` is checked:
a value that looks like an email address is refused rather than stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chimplink.store._common import utc
from chimplink.store.tables import AuditRow

__all__ = ["AuditEntry", "AuditEvent", "list_audit", "record_audit"]

_EMAIL = re.compile(r"[^@\s]+(?:@|%40)[^@\s]+\.[^@\s]+")
_DETAIL_TYPES = (str, int, float, bool, type(None))


class AuditEvent(StrEnum):
    CONNECTED = "connected"
    RECONNECTED = "reconnected"
    NEEDS_RECONNECT = "needs_reconnect"
    UNINSTALLED = "uninstalled"
    KEYS_ROTATED = "keys_rotated"
    CLEANUP_ABANDONED = "cleanup_abandoned"
    PUSH_KEY_CREATED = "push_key_created"
    PUSH_KEY_REVOKED = "push_key_revoked"
    PUSH_WEBHOOK_SET = "push_webhook_set"
    PUSH_WEBHOOK_REMOVED = "push_webhook_removed"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    event: str
    tenant_id: str | None
    installation_id: str | None
    details: dict[str, Any]


def _check_details(details: Mapping[str, Any]) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for key, value in details.items():
        if not isinstance(value, _DETAIL_TYPES):
            raise ValueError(f"audit detail {key!r}: only str, int, float, bool or None")
        if isinstance(value, str) and _EMAIL.search(value):
            raise ValueError(f"audit detail {key!r} looks like an email address (no PII here)")
        checked[str(key)] = value
    return checked


async def record_audit(
    *,
    session: AsyncSession,
    event: AuditEvent,
    tenant_id: str | None = None,
    installation_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Append one entry. `details` holds flat ids and counts, never personal data."""
    session.add(
        AuditRow(
            at=utc(now),
            event=AuditEvent(event).value,
            tenant_id=tenant_id,
            installation_id=installation_id,
            details=_check_details(details or {}),
        )
    )
    await session.flush()


async def list_audit(
    *,
    session: AsyncSession,
    tenant_id: str | None = None,
    installation_id: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest first, optionally for one tenant or installation."""
    query = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
    if tenant_id is not None:
        query = query.where(AuditRow.tenant_id == tenant_id)
    if installation_id is not None:
        query = query.where(AuditRow.installation_id == installation_id)
    rows = (await session.execute(query)).scalars()
    return [
        AuditEntry(
            id=row.id,
            at=row.at,
            event=row.event,
            tenant_id=row.tenant_id,
            installation_id=row.installation_id,
            details=dict(row.details),
        )
        for row in rows
    ]
