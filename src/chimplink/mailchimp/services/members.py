"""Audience members (REFERENCE.md §8): upsert by PUT, tags, events, permanent delete.

Compliance (§8.2, DESIGN.md): `upsert` takes `status_if_new`, which applies only
when the contact is created, so a contact who unsubscribed is never set back
to `subscribed` by a sync. `status` overwrites and is for explicit user intent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from chimplink.mailchimp.hashing import member_key
from chimplink.mailchimp.models.members import Member, MemberEvent, MemberTag, WritableStatus
from chimplink.mailchimp.pagination import DEFAULT_PAGE_SIZE, paginate
from chimplink.mailchimp.services._base import Service, compact, field_params

__all__ = ["MembersService"]

_MEMBERS = "/lists/{list_id}/members"
_MEMBER = "/lists/{list_id}/members/{subscriber_hash}"


class MembersService(Service):
    async def upsert(
        self,
        list_id: str,
        email_address: str,
        *,
        status_if_new: WritableStatus,
        status: WritableStatus | None = None,
        merge_fields: Mapping[str, Any] | None = None,
        interests: Mapping[str, bool] | None = None,
        email_type: str | None = None,
        language: str | None = None,
        vip: bool | None = None,
        ip_signup: str | None = None,
        ip_opt: str | None = None,
        extra: Mapping[str, Any] | None = None,
        skip_merge_validation: bool = False,
    ) -> Member:
        """`PUT …/members/{hash}`: create or update. Idempotent, so retried safely."""
        body = compact(
            {
                # email_address is required on every PUT (§8.2, Fern guide).
                "email_address": email_address,
                "status_if_new": status_if_new,
                "status": status,
                "merge_fields": dict(merge_fields) if merge_fields is not None else None,
                "interests": dict(interests) if interests is not None else None,
                "email_type": email_type,
                "language": language,
                "vip": vip,
                "ip_signup": ip_signup,
                "ip_opt": ip_opt,
                **(extra or {}),
            }
        )
        data = await self._requestor.request(
            "PUT",
            _MEMBER,
            path={"list_id": list_id, "subscriber_hash": member_key(email_address)},
            params={"skip_merge_validation": True} if skip_merge_validation else None,
            json_body=body,
        )
        return Member.model_validate(data)

    async def create(
        self,
        list_id: str,
        email_address: str,
        *,
        status: WritableStatus,
        merge_fields: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Member:
        """`POST …/members`: fails with `MemberExistsError` if present. Not retried blindly."""
        body = compact(
            {
                "email_address": email_address,
                "status": status,
                "merge_fields": dict(merge_fields) if merge_fields is not None else None,
                "tags": list(tags) if tags is not None else None,
                **(extra or {}),
            }
        )
        data = await self._requestor.request(
            "POST", _MEMBERS, path={"list_id": list_id}, json_body=body
        )
        return Member.model_validate(data)

    async def get(
        self,
        list_id: str,
        email_or_hash: str,
        *,
        fields: Sequence[str] | None = None,
        exclude_fields: Sequence[str] | None = None,
    ) -> Member:
        data = await self._requestor.request(
            "GET",
            _MEMBER,
            path={"list_id": list_id, "subscriber_hash": member_key(email_or_hash)},
            params=field_params(fields, exclude_fields),
        )
        return Member.model_validate(data)

    async def patch(
        self,
        list_id: str,
        email_or_hash: str,
        changes: Mapping[str, Any],
        *,
        skip_merge_validation: bool = False,
    ) -> Member:
        """`PATCH …/members/{hash}`: change only the given fields."""
        data = await self._requestor.request(
            "PATCH",
            _MEMBER,
            path={"list_id": list_id, "subscriber_hash": member_key(email_or_hash)},
            params={"skip_merge_validation": True} if skip_merge_validation else None,
            json_body=dict(changes),
        )
        return Member.model_validate(data)

    async def archive(self, list_id: str, email_or_hash: str) -> None:
        """`DELETE …/members/{hash}` archives (the contact can come back, §8.1)."""
        await self._requestor.request(
            "DELETE",
            _MEMBER,
            path={"list_id": list_id, "subscriber_hash": member_key(email_or_hash)},
        )

    async def delete_permanent(self, list_id: str, email_or_hash: str) -> None:
        """Erase the contact's data; they can never be re-imported, only re-subscribe (§8.1)."""
        await self._requestor.request(
            "POST",
            _MEMBER + "/actions/delete-permanent",
            path={"list_id": list_id, "subscriber_hash": member_key(email_or_hash)},
        )

    async def update_tags(
        self,
        list_id: str,
        email_or_hash: str,
        tags: Mapping[str, bool],
        *,
        is_syncing: bool = False,
    ) -> None:
        """Set tags active (True) or inactive (False) (§8.4).

        A POST, but setting a tag's state is idempotent in effect, so it is
        retried. `is_syncing=True` keeps tag-triggered automations from firing
        (Mailchimp's default is False; the sync layer decides).
        """
        body = {
            "tags": [
                {"name": name, "status": "active" if active else "inactive"}
                for name, active in tags.items()
            ],
            "is_syncing": is_syncing,
        }
        await self._requestor.request(
            "POST",
            _MEMBER + "/tags",
            path={"list_id": list_id, "subscriber_hash": member_key(email_or_hash)},
            json_body=body,
            idempotent=True,
        )

    def iterate_tags(
        self, list_id: str, email_or_hash: str, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[MemberTag]:
        return paginate(
            self._requestor,
            _MEMBER + "/tags",
            key="tags",
            parse=MemberTag.model_validate,
            path={"list_id": list_id, "subscriber_hash": member_key(email_or_hash)},
            page_size=page_size,
        )

    async def add_event(
        self,
        list_id: str,
        email_or_hash: str,
        name: str,
        *,
        properties: Mapping[str, str] | None = None,
        occurred_at: datetime | None = None,
        is_syncing: bool = False,
    ) -> None:
        """Record a custom event (§8.6; name 2–30 chars). Not retried: events would duplicate."""
        if not 2 <= len(name) <= 30:
            raise ValueError("event names are 2 to 30 characters long")
        body = compact(
            {
                "name": name,
                "properties": dict(properties) if properties is not None else None,
                "occurred_at": occurred_at.isoformat() if occurred_at is not None else None,
                "is_syncing": is_syncing,
            }
        )
        await self._requestor.request(
            "POST",
            _MEMBER + "/events",
            path={"list_id": list_id, "subscriber_hash": member_key(email_or_hash)},
            json_body=body,
        )

    def iterate_events(
        self, list_id: str, email_or_hash: str, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[MemberEvent]:
        return paginate(
            self._requestor,
            _MEMBER + "/events",
            key="events",
            parse=MemberEvent.model_validate,
            path={"list_id": list_id, "subscriber_hash": member_key(email_or_hash)},
            page_size=page_size,
        )

    def iterate(
        self,
        list_id: str,
        *,
        status: str | None = None,
        since_last_changed: datetime | None = None,
        fields: Sequence[str] | None = None,
        exclude_fields: Sequence[str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        limit: int | None = None,
    ) -> AsyncIterator[Member]:
        """Every member of the audience (filters as in §6); `fields` name member fields."""
        return paginate(
            self._requestor,
            _MEMBERS,
            key="members",
            parse=Member.model_validate,
            path={"list_id": list_id},
            params={
                "status": status,
                "since_last_changed": (
                    since_last_changed.isoformat() if since_last_changed is not None else None
                ),
            },
            page_size=page_size,
            fields=fields,
            exclude_fields=exclude_fields,
            limit=limit,
        )
