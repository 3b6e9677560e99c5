"""Choosing the audience (Mailchimp list) an installation syncs with, and its webhook.

Choosing an audience registers chimplink's webhook on it (REFERENCE.md §4.1):
events subscribe, unsubscribe, profile, upemail and cleaned (campaign is not
about contacts); sources user and admin, **not api**, so changes chimplink
itself makes through the API do not echo back as deliveries (DESIGN.md).
The webhook id is recorded so uninstall can delete it; the signing secret
Mailchimp returns once is kept, encrypted.

One audience per installation: choosing another registers the new webhook
first, then deletes the old one (if that fails, it stays recorded and
uninstall deletes it later). Choosing the same audience again is a no-op.
If a webhook with our URL already exists at Mailchimp (a crash after the
create, before it was recorded), it is adopted rather than duplicated.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import structlog

from chimplink.connect.access import installation_client
from chimplink.connect.errors import ConnectError, MailchimpFailed
from chimplink.connect.services import Services
from chimplink.connect.webhook_paths import webhook_url
from chimplink.mailchimp import NotFoundError, Webhook
from chimplink.store import (
    Installation,
    RemoteWebhook,
    forget_remote_webhook,
    list_remote_webhooks,
    record_remote_webhook,
    set_signing_secret,
)

__all__ = ["WEBHOOK_EVENTS", "WEBHOOK_SOURCES", "Audience", "choose_audience", "list_audiences"]

WEBHOOK_EVENTS = ("subscribe", "unsubscribe", "profile", "cleaned", "upemail")
WEBHOOK_SOURCES = ("user", "admin")

_log = structlog.get_logger("chimplink.connect")


@dataclass(frozen=True)
class Audience:
    id: str
    name: str
    member_count: int | None
    chosen: bool


async def _recorded(services: Services, installation_id: str) -> list[RemoteWebhook]:
    async with services.sessions() as session:
        return await list_remote_webhooks(session=session, installation_id=installation_id)


async def list_audiences(services: Services, installation: Installation) -> list[Audience]:
    """The account's audiences, read from Mailchimp; `chosen` marks the one with our webhook."""
    chosen = {hook.list_id for hook in await _recorded(services, installation.id)}
    async with installation_client(services, installation) as client:
        found = [item async for item in client.lists.iterate()]
    audiences = []
    for item in found:
        count = item.stats.get("member_count")
        audiences.append(
            Audience(
                id=item.id,
                name=item.name or item.id,
                member_count=count if isinstance(count, int) else None,
                chosen=item.id in chosen,
            )
        )
    return audiences


async def choose_audience(
    services: Services, installation: Installation, *, list_id: str
) -> Audience:
    """Register chimplink's webhook on `list_id` (see the module docstring)."""
    recorded = await _recorded(services, installation.id)
    url = webhook_url(services, installation.id)
    async with installation_client(services, installation) as client:
        try:
            chosen = await client.lists.get(list_id, fields=["id", "name", "stats.member_count"])
        except NotFoundError as exc:
            raise MailchimpFailed(
                "Mailchimp has no such audience in this account (it may have been deleted). "
                "Reload the page and choose again.",
                reason="audience not found",
            ) from exc
        if not any(hook.list_id == list_id for hook in recorded):
            webhook: Webhook | None = None
            async for existing in client.webhooks.iterate(list_id):
                if existing.url == url:
                    webhook = existing
            if webhook is None:
                webhook = await client.webhooks.create(
                    list_id, url, events=WEBHOOK_EVENTS, sources=WEBHOOK_SOURCES
                )
            async with services.sessions.begin() as session:
                await record_remote_webhook(
                    session=session,
                    installation_id=installation.id,
                    list_id=list_id,
                    webhook_id=webhook.id,
                    now=services.clock(),
                )
                if webhook.signing_secret is not None:
                    await set_signing_secret(
                        session=session,
                        cipher=services.cipher,
                        installation_id=installation.id,
                        signing_secret=webhook.signing_secret,
                        now=services.clock(),
                    )
            _log.info(
                "connect.audience_chosen", installation_id=installation.id, webhook_id=webhook.id
            )
    for old in recorded:
        if old.list_id != list_id:
            await _delete_quietly(services, installation, old)
    count = chosen.stats.get("member_count")
    return Audience(
        id=chosen.id,
        name=chosen.name or chosen.id,
        member_count=count if isinstance(count, int) else None,
        chosen=True,
    )


async def _delete_quietly(
    services: Services, installation: Installation, hook: RemoteWebhook
) -> None:
    """Delete a webhook of a previously chosen audience; on failure leave it for uninstall."""
    try:
        async with installation_client(services, installation) as client:
            with contextlib.suppress(NotFoundError):
                await client.webhooks.delete(hook.list_id, hook.webhook_id)
    except ConnectError as exc:
        _log.warning("connect.old_webhook_kept", installation_id=installation.id, reason=exc.reason)
        return
    async with services.sessions.begin() as session:
        await forget_remote_webhook(
            session=session,
            installation_id=installation.id,
            list_id=hook.list_id,
            webhook_id=hook.webhook_id,
        )
