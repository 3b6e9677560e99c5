"""Audiences (lists), merge fields, segments and list webhooks (REFERENCE.md §4.1, §8)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr

from chimplink.mailchimp.models._base import MailchimpModel, Timestamp

__all__ = [
    "MailingList",
    "MergeField",
    "Segment",
    "Webhook",
    "WebhookEvents",
    "WebhookSources",
]


class MailingList(MailchimpModel):
    id: str
    web_id: int | None = None
    name: str | None = None
    permission_reminder: str | None = None
    email_type_option: bool | None = None
    double_optin: bool | None = None
    date_created: Timestamp = None
    list_rating: float | None = None
    subscribe_url_short: str | None = None
    contact: dict[str, Any] = Field(default_factory=dict)
    campaign_defaults: dict[str, Any] = Field(default_factory=dict)
    stats: dict[str, Any] = Field(default_factory=dict)


class MergeField(MailchimpModel):
    merge_id: int | None = None
    tag: str | None = None
    name: str | None = None
    type: str | None = None
    required: bool | None = None
    default_value: str | None = None
    public: bool | None = None
    display_order: int | None = None
    help_text: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    list_id: str | None = None


class Segment(MailchimpModel):
    id: int
    name: str | None = None
    member_count: int | None = None
    type: str | None = None  # saved | static | fuzzy
    created_at: Timestamp = None
    updated_at: Timestamp = None
    options: dict[str, Any] = Field(default_factory=dict)
    list_id: str | None = None


class WebhookEvents(MailchimpModel):
    subscribe: bool = False
    unsubscribe: bool = False
    profile: bool = False
    cleaned: bool = False
    upemail: bool = False
    campaign: bool = False


class WebhookSources(MailchimpModel):
    """Who caused a change. chimplink registers with `api=False`: no echo of its own writes."""

    user: bool = False
    admin: bool = False
    api: bool = False


class Webhook(MailchimpModel):
    """A list webhook. `signing_secret` is returned once, on creation (§4.1)."""

    id: str
    url: str | None = None
    list_id: str | None = None
    events: WebhookEvents | None = None
    sources: WebhookSources | None = None
    signing_enabled: bool | None = None
    signing_secret: SecretStr | None = None
