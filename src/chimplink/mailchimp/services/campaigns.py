"""Campaigns and reports, read-only ("Syncing Reports from Mailchimp", REFERENCE.md §1)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from chimplink.mailchimp.models.campaigns import Campaign, Report
from chimplink.mailchimp.pagination import DEFAULT_PAGE_SIZE, paginate
from chimplink.mailchimp.services._base import Service, field_params

__all__ = ["CampaignsService", "ReportsService"]


class CampaignsService(Service):
    def iterate(
        self,
        *,
        status: str | None = None,
        list_id: str | None = None,
        fields: Sequence[str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[Campaign]:
        return paginate(
            self._requestor,
            "/campaigns",
            key="campaigns",
            parse=Campaign.model_validate,
            params={"status": status, "list_id": list_id},
            fields=fields,
            page_size=page_size,
        )

    async def get(self, campaign_id: str, *, fields: Sequence[str] | None = None) -> Campaign:
        data = await self._requestor.request(
            "GET",
            "/campaigns/{campaign_id}",
            path={"campaign_id": campaign_id},
            params=field_params(fields, None),
        )
        return Campaign.model_validate(data)


class ReportsService(Service):
    def iterate(
        self,
        *,
        fields: Sequence[str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[Report]:
        return paginate(
            self._requestor,
            "/reports",
            key="reports",
            parse=Report.model_validate,
            fields=fields,
            page_size=page_size,
        )

    async def get(self, campaign_id: str, *, fields: Sequence[str] | None = None) -> Report:
        data = await self._requestor.request(
            "GET",
            "/reports/{campaign_id}",
            path={"campaign_id": campaign_id},
            params=field_params(fields, None),
        )
        return Report.model_validate(data)
