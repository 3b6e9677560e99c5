"""Audience merge fields (REFERENCE.md §8.5)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from chimplink.mailchimp.models.lists import MergeField
from chimplink.mailchimp.pagination import DEFAULT_PAGE_SIZE, paginate
from chimplink.mailchimp.services._base import Service, compact

__all__ = ["MergeFieldsService"]

_FIELDS = "/lists/{list_id}/merge-fields"
_FIELD = "/lists/{list_id}/merge-fields/{merge_id}"


class MergeFieldsService(Service):
    def iterate(
        self, list_id: str, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[MergeField]:
        return paginate(
            self._requestor,
            _FIELDS,
            key="merge_fields",
            parse=MergeField.model_validate,
            path={"list_id": list_id},
            page_size=page_size,
        )

    async def get(self, list_id: str, merge_id: int) -> MergeField:
        data = await self._requestor.request(
            "GET", _FIELD, path={"list_id": list_id, "merge_id": str(merge_id)}
        )
        return MergeField.model_validate(data)

    async def create(
        self,
        list_id: str,
        *,
        name: str,
        type: str,
        tag: str | None = None,
        required: bool | None = None,
        default_value: str | None = None,
        public: bool | None = None,
        options: Mapping[str, Any] | None = None,
        help_text: str | None = None,
    ) -> MergeField:
        """`POST …/merge-fields`. Not retried: a retry could add the field twice."""
        body = compact(
            {
                "name": name,
                "type": type,
                "tag": tag,
                "required": required,
                "default_value": default_value,
                "public": public,
                "options": dict(options) if options is not None else None,
                "help_text": help_text,
            }
        )
        data = await self._requestor.request(
            "POST", _FIELDS, path={"list_id": list_id}, json_body=body
        )
        return MergeField.model_validate(data)

    async def update(self, list_id: str, merge_id: int, changes: Mapping[str, Any]) -> MergeField:
        data = await self._requestor.request(
            "PATCH",
            _FIELD,
            path={"list_id": list_id, "merge_id": str(merge_id)},
            json_body=dict(changes),
        )
        return MergeField.model_validate(data)

    async def delete(self, list_id: str, merge_id: int) -> None:
        await self._requestor.request(
            "DELETE", _FIELD, path={"list_id": list_id, "merge_id": str(merge_id)}
        )
