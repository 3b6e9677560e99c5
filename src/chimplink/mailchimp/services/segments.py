"""Audience segments and tags-as-segments (REFERENCE.md §1 "Creating Audience Segments", §8.4)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from chimplink.mailchimp.models.lists import Segment
from chimplink.mailchimp.models.members import Member
from chimplink.mailchimp.pagination import DEFAULT_PAGE_SIZE, paginate
from chimplink.mailchimp.services._base import Service, compact

__all__ = ["SegmentsService"]

_SEGMENTS = "/lists/{list_id}/segments"
_SEGMENT = "/lists/{list_id}/segments/{segment_id}"


class SegmentsService(Service):
    def iterate(
        self,
        list_id: str,
        *,
        type: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[Segment]:
        return paginate(
            self._requestor,
            _SEGMENTS,
            key="segments",
            parse=Segment.model_validate,
            path={"list_id": list_id},
            params={"type": type},
            page_size=page_size,
        )

    async def get(self, list_id: str, segment_id: int) -> Segment:
        data = await self._requestor.request(
            "GET", _SEGMENT, path={"list_id": list_id, "segment_id": str(segment_id)}
        )
        return Segment.model_validate(data)

    async def create(
        self,
        list_id: str,
        name: str,
        *,
        static_segment: Sequence[str] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Segment:
        """A static segment (a tag) from addresses, or a saved one from `options`. Not retried."""
        body = compact(
            {
                "name": name,
                "static_segment": list(static_segment) if static_segment is not None else None,
                "options": dict(options) if options is not None else None,
            }
        )
        data = await self._requestor.request(
            "POST", _SEGMENTS, path={"list_id": list_id}, json_body=body
        )
        return Segment.model_validate(data)

    async def update(self, list_id: str, segment_id: int, changes: Mapping[str, Any]) -> Segment:
        data = await self._requestor.request(
            "PATCH",
            _SEGMENT,
            path={"list_id": list_id, "segment_id": str(segment_id)},
            json_body=dict(changes),
        )
        return Segment.model_validate(data)

    async def delete(self, list_id: str, segment_id: int) -> None:
        await self._requestor.request(
            "DELETE", _SEGMENT, path={"list_id": list_id, "segment_id": str(segment_id)}
        )

    async def batch_members(
        self,
        list_id: str,
        segment_id: int,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Add/remove addresses of a static segment. Set semantics, so retried safely."""
        data = await self._requestor.request(
            "POST",
            _SEGMENT,
            path={"list_id": list_id, "segment_id": str(segment_id)},
            json_body={"members_to_add": list(add), "members_to_remove": list(remove)},
            idempotent=True,
        )
        return dict(data or {})

    def iterate_members(
        self, list_id: str, segment_id: int, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[Member]:
        return paginate(
            self._requestor,
            _SEGMENT + "/members",
            key="members",
            parse=Member.model_validate,
            path={"list_id": list_id, "segment_id": str(segment_id)},
            page_size=page_size,
        )
