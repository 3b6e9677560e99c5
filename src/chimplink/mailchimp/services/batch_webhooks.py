"""Batch webhooks: a POST when a batch completes (REFERENCE.md §7.3; at most 20 per account)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from chimplink.mailchimp.models.batches import BatchWebhook
from chimplink.mailchimp.pagination import DEFAULT_PAGE_SIZE, paginate
from chimplink.mailchimp.services._base import Service, compact

__all__ = ["BatchWebhooksService"]

_ONE = "/batch-webhooks/{batch_webhook_id}"


class BatchWebhooksService(Service):
    async def create(self, url: str, *, enabled: bool = True) -> BatchWebhook:
        """Mailchimp validates `url` with a GET first (§7.3). Not retried blindly."""
        data = await self._requestor.request(
            "POST", "/batch-webhooks", json_body={"url": url, "enabled": enabled}
        )
        return BatchWebhook.model_validate(data)

    async def get(self, batch_webhook_id: str) -> BatchWebhook:
        data = await self._requestor.request(
            "GET", _ONE, path={"batch_webhook_id": batch_webhook_id}
        )
        return BatchWebhook.model_validate(data)

    def iterate(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[BatchWebhook]:
        return paginate(
            self._requestor,
            "/batch-webhooks",
            key="webhooks",
            parse=BatchWebhook.model_validate,
            page_size=page_size,
        )

    async def update(
        self, batch_webhook_id: str, *, url: str | None = None, enabled: bool | None = None
    ) -> BatchWebhook:
        data = await self._requestor.request(
            "PATCH",
            _ONE,
            path={"batch_webhook_id": batch_webhook_id},
            json_body=compact({"url": url, "enabled": enabled}),
        )
        return BatchWebhook.model_validate(data)

    async def delete(self, batch_webhook_id: str) -> None:
        await self._requestor.request("DELETE", _ONE, path={"batch_webhook_id": batch_webhook_id})
