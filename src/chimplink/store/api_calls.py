"""The API-call log: one row per HTTP attempt to Mailchimp, for active users and metrics.

The Partner Program counts *active users*: installations that made calls in
the last 90 days (REFERENCE.md §1). `active_users()` answers that from this log.

Rows carry ids, the operation's path template, status and duration — no
personal data — and they are deleted with their installation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, distinct, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from chimplink.store._common import utc
from chimplink.store.installations import touch_last_used
from chimplink.store.tables import ApiCallRow, InstallationRow

__all__ = [
    "ACTIVE_USER_WINDOW",
    "ApiCallRecord",
    "active_users",
    "delete_api_calls_before",
    "record_api_calls",
]

ACTIVE_USER_WINDOW = timedelta(days=90)

# A concrete path would carry a subscriber hash (MD5 of an email) or an address.
_CONCRETE = re.compile(r"@|%40|\b[0-9a-f]{32}\b", re.IGNORECASE)


@dataclass(frozen=True)
class ApiCallRecord:
    installation_id: str | None  # None: before an installation exists (token exchange)
    operation: str  # path template: "PUT /lists/{list_id}/members/{subscriber_hash}"
    status: int | None  # None: no response
    duration_ms: int
    at: datetime
    attempt: int = 1


async def record_api_calls(*, session: AsyncSession, calls: Sequence[ApiCallRecord]) -> int:
    """Append calls (in bulk) and move each installation's `last_used_at` forward.

    Calls of installations that no longer exist (uninstalled meanwhile) are
    dropped. Returns the number of rows written. ValueError for an operation
    that is a concrete path rather than a template.
    """
    for call in calls:
        if _CONCRETE.search(call.operation):
            raise ValueError("operation must be a path template, not a concrete path")
    wanted = {call.installation_id for call in calls if call.installation_id is not None}
    existing: set[str] = set()
    if wanted:
        existing = set(
            (
                await session.execute(
                    select(InstallationRow.id).where(InstallationRow.id.in_(wanted))
                )
            ).scalars()
        )
    rows = [
        {
            "installation_id": call.installation_id,
            "operation": call.operation[:200],
            "status": call.status,
            "duration_ms": max(0, int(call.duration_ms)),
            "attempt": call.attempt,
            "at": utc(call.at),
        }
        for call in calls
        if call.installation_id is None or call.installation_id in existing
    ]
    if rows:
        await session.execute(insert(ApiCallRow), rows)
    latest: dict[str, datetime] = {}
    for call in calls:
        if call.installation_id in existing:
            assert call.installation_id is not None
            previous = latest.get(call.installation_id)
            latest[call.installation_id] = (
                utc(call.at) if previous is None else max(previous, utc(call.at))
            )
    for installation_id, at in sorted(latest.items()):
        await touch_last_used(session=session, installation_id=installation_id, at=at)
    return len(rows)


async def active_users(
    *,
    session: AsyncSession,
    since: timedelta = ACTIVE_USER_WINDOW,
    now: datetime | None = None,
) -> int:
    """Distinct installations with at least one API call in the window ending `now`."""
    end = utc(now)
    query = select(func.count(distinct(ApiCallRow.installation_id))).where(
        ApiCallRow.at >= end - since,
        ApiCallRow.at <= end,
        ApiCallRow.installation_id.is_not(None),
    )
    return int((await session.execute(query)).scalar_one())


async def delete_api_calls_before(*, session: AsyncSession, before: datetime) -> int:
    """Retention: drop rows older than `before`. Returns how many."""
    result = await session.execute(
        delete(ApiCallRow)
        .where(ApiCallRow.at < utc(before))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))
