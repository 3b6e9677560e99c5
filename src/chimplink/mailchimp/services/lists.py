"""Audiences (lists) and their sub-resources (REFERENCE.md §8)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from chimplink.mailchimp._requestor import Requestor
from chimplink.mailchimp.batches import BATCH_SUBSCRIBE_LIMIT, BatchSubscribeResult, batch_subscribe
from chimplink.mailchimp.models.lists import MailingList
from chimplink.mailchimp.pagination import DEFAULT_PAGE_SIZE, paginate
from chimplink.mailchimp.services._base import Service, field_params
from chimplink.mailchimp.services.members import MembersService
from chimplink.mailchimp.services.merge_fields import MergeFieldsService
from chimplink.mailchimp.services.segments import SegmentsService
from chimplink.mailchimp.services.webhooks import WebhooksService

__all__ = ["ListsService"]

_LIST = "/lists/{list_id}"


class ListsService(Service):
    members: MembersService
    merge_fields: MergeFieldsService
    segments: SegmentsService
    webhooks: WebhooksService

    def __init__(self, requestor: Requestor) -> None:
        super().__init__(requestor)
        self.members = MembersService(requestor)
        self.merge_fields = MergeFieldsService(requestor)
        self.segments = SegmentsService(requestor)
        self.webhooks = WebhooksService(requestor)

    def iterate(
        self,
        *,
        fields: Sequence[str] | None = None,
        exclude_fields: Sequence[str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[MailingList]:
        return paginate(
            self._requestor,
            "/lists",
            key="lists",
            parse=MailingList.model_validate,
            page_size=page_size,
            fields=fields,
            exclude_fields=exclude_fields,
        )

    async def get(
        self,
        list_id: str,
        *,
        fields: Sequence[str] | None = None,
        exclude_fields: Sequence[str] | None = None,
    ) -> MailingList:
        data = await self._requestor.request(
            "GET", _LIST, path={"list_id": list_id}, params=field_params(fields, exclude_fields)
        )
        return MailingList.model_validate(data)

    async def create(
        self,
        *,
        name: str,
        contact: Mapping[str, Any],
        permission_reminder: str,
        campaign_defaults: Mapping[str, Any],
        email_type_option: bool = False,
        double_optin: bool | None = None,
    ) -> MailingList:
        """`POST /lists`. Not retried: a retry after an unknown outcome could create two."""
        body: dict[str, Any] = {
            "name": name,
            "contact": dict(contact),
            "permission_reminder": permission_reminder,
            "campaign_defaults": dict(campaign_defaults),
            "email_type_option": email_type_option,
        }
        if double_optin is not None:
            body["double_optin"] = double_optin
        return MailingList.model_validate(
            await self._requestor.request("POST", "/lists", json_body=body)
        )

    async def update(self, list_id: str, changes: Mapping[str, Any]) -> MailingList:
        data = await self._requestor.request(
            "PATCH", _LIST, path={"list_id": list_id}, json_body=dict(changes)
        )
        return MailingList.model_validate(data)

    async def delete(self, list_id: str) -> None:
        await self._requestor.request("DELETE", _LIST, path={"list_id": list_id})

    async def batch_subscribe(
        self,
        list_id: str,
        members: Sequence[Mapping[str, Any]],
        *,
        update_existing: bool,
        sync_tags: bool = False,
        skip_merge_validation: bool = False,
        skip_duplicate_check: bool = False,
        chunk_size: int = BATCH_SUBSCRIBE_LIMIT,
        fields: Sequence[str] | None = None,
    ) -> BatchSubscribeResult:
        """Batch subscribe/update with per-member outcomes (see `batches.batch_subscribe`)."""
        return await batch_subscribe(
            self._requestor,
            list_id=list_id,
            members=members,
            update_existing=update_existing,
            sync_tags=sync_tags,
            skip_merge_validation=skip_merge_validation,
            skip_duplicate_check=skip_duplicate_check,
            chunk_size=chunk_size,
            fields=fields,
        )
