"""Webhooks chimplink created at Mailchimp, so that uninstall can delete every one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from chimplink.store._common import dialect_insert, utc
from chimplink.store.tables import RemoteWebhookRow

__all__ = [
    "RemoteWebhook",
    "forget_remote_webhook",
    "list_remote_webhooks",
    "record_remote_webhook",
]


@dataclass(frozen=True)
class RemoteWebhook:
    installation_id: str
    list_id: str
    webhook_id: str
    created_at: datetime


async def record_remote_webhook(
    *,
    session: AsyncSession,
    installation_id: str,
    list_id: str,
    webhook_id: str,
    now: datetime | None = None,
) -> None:
    """Remember a webhook right after Mailchimp created it (idempotent)."""
    await session.execute(
        dialect_insert(session, RemoteWebhookRow)
        .values(
            installation_id=installation_id,
            list_id=list_id,
            webhook_id=webhook_id,
            created_at=utc(now),
        )
        .on_conflict_do_nothing(index_elements=["installation_id", "list_id", "webhook_id"])
    )


async def list_remote_webhooks(
    *, session: AsyncSession, installation_id: str
) -> list[RemoteWebhook]:
    rows = (
        await session.execute(
            select(RemoteWebhookRow)
            .where(RemoteWebhookRow.installation_id == installation_id)
            .order_by(RemoteWebhookRow.id)
        )
    ).scalars()
    return [
        RemoteWebhook(
            installation_id=row.installation_id,
            list_id=row.list_id,
            webhook_id=row.webhook_id,
            created_at=row.created_at,
        )
        for row in rows
    ]


async def forget_remote_webhook(
    *, session: AsyncSession, installation_id: str, list_id: str, webhook_id: str
) -> bool:
    """After Mailchimp deleted it (or answered 404). True if a row was removed."""
    result = await session.execute(
        delete(RemoteWebhookRow)
        .where(
            RemoteWebhookRow.installation_id == installation_id,
            RemoteWebhookRow.list_id == list_id,
            RemoteWebhookRow.webhook_id == webhook_id,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
