"""Audience webhooks (REFERENCE.md §4.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from chimplink.mailchimp.models.lists import Webhook
from chimplink.mailchimp.pagination import DEFAULT_PAGE_SIZE, paginate
from chimplink.mailchimp.services._base import Service

__all__ = ["ALL_EVENTS", "WebhooksService"]

_HOOKS = "/lists/{list_id}/webhooks"
_HOOK = "/lists/{list_id}/webhooks/{webhook_id}"

ALL_EVENTS = ("subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign")


class WebhooksService(Service):
    async def create(
        self,
        list_id: str,
        url: str,
        *,
        events: Iterable[str] = ALL_EVENTS,
        sources: Iterable[str] = ("user", "admin"),
    ) -> Webhook:
        """Register `url`. Mailchimp first validates it with a GET (§4.1).

        Sources default to user and admin, not api: changes chimplink itself
        makes through the API must not echo back as deliveries (DESIGN.md).
        The response's `signing_secret` is shown once; store it now.
        """
        wanted_events = set(events)
        wanted_sources = set(sources)
        unknown = wanted_events - set(ALL_EVENTS)
        if unknown:
            raise ValueError(f"unknown webhook events: {sorted(unknown)}")
        body = {
            "url": url,
            "events": {name: name in wanted_events for name in ALL_EVENTS},
            "sources": {name: name in wanted_sources for name in ("user", "admin", "api")},
        }
        data = await self._requestor.request(
            "POST", _HOOKS, path={"list_id": list_id}, json_body=body
        )
        return Webhook.model_validate(data)

    def iterate(
        self, list_id: str, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[Webhook]:
        return paginate(
            self._requestor,
            _HOOKS,
            key="webhooks",
            parse=Webhook.model_validate,
            path={"list_id": list_id},
            page_size=page_size,
        )

    async def get(self, list_id: str, webhook_id: str) -> Webhook:
        data = await self._requestor.request(
            "GET", _HOOK, path={"list_id": list_id, "webhook_id": webhook_id}
        )
        return Webhook.model_validate(data)

    async def update(self, list_id: str, webhook_id: str, changes: Mapping[str, Any]) -> Webhook:
        data = await self._requestor.request(
            "PATCH",
            _HOOK,
            path={"list_id": list_id, "webhook_id": webhook_id},
            json_body=dict(changes),
        )
        return Webhook.model_validate(data)

    async def delete(self, list_id: str, webhook_id: str) -> None:
        """Part of uninstall: our webhooks must not outlive the connection (§3)."""
        await self._requestor.request(
            "DELETE", _HOOK, path={"list_id": list_id, "webhook_id": webhook_id}
        )
