"""Audience members, their tags and events (REFERENCE.md §8)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from chimplink.mailchimp.models._base import MailchimpModel, Timestamp

__all__ = ["Member", "MemberEvent", "MemberStatus", "MemberTag", "WritableStatus"]

WritableStatus = Literal["subscribed", "unsubscribed", "cleaned", "pending", "transactional"]
"""Statuses a request may set (§8.1). Responses may also say `archived`."""

MemberStatus = Literal[
    "subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived"
]


class MemberTag(MailchimpModel):
    id: int | None = None
    name: str
    date_added: Timestamp = None


class Member(MailchimpModel):
    """A list member. `id` is the subscriber hash (MD5 of the lowercased address)."""

    id: str | None = None
    email_address: str | None = None
    unique_email_id: str | None = None
    contact_id: str | None = None
    full_name: str | None = None
    web_id: int | None = None
    email_type: str | None = None
    # A plain string, not MemberStatus: a status Mailchimp adds tomorrow must
    # not make every member unreadable.
    status: str | None = None
    unsubscribe_reason: str | None = None
    merge_fields: dict[str, Any] = Field(default_factory=dict)
    interests: dict[str, bool] = Field(default_factory=dict)
    stats: dict[str, Any] = Field(default_factory=dict)
    ip_signup: str | None = None
    timestamp_signup: Timestamp = None
    ip_opt: str | None = None
    timestamp_opt: Timestamp = None
    member_rating: int | None = None
    last_changed: Timestamp = None
    language: str | None = None
    vip: bool | None = None
    email_client: str | None = None
    location: dict[str, Any] = Field(default_factory=dict)
    marketing_permissions: list[dict[str, Any]] = Field(default_factory=list)
    source: str | None = None
    tags_count: int | None = None
    tags: list[MemberTag] = Field(default_factory=list)
    list_id: str | None = None


class MemberEvent(MailchimpModel):
    name: str
    properties: dict[str, Any] = Field(default_factory=dict)
    occurred_at: Timestamp = None
