"""Campaigns and their reports: read-only, for "Syncing Reports from Mailchimp" (§1)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chimplink.mailchimp.models._base import MailchimpModel, Timestamp

__all__ = ["Campaign", "Report"]


class Campaign(MailchimpModel):
    id: str
    web_id: int | None = None
    type: str | None = None
    status: str | None = None
    create_time: Timestamp = None
    send_time: Timestamp = None
    emails_sent: int | None = None
    recipients: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)


class Report(MailchimpModel):
    id: str
    campaign_title: str | None = None
    type: str | None = None
    list_id: str | None = None
    subject_line: str | None = None
    emails_sent: int | None = None
    unsubscribed: int | None = None
    send_time: Timestamp = None
    opens: dict[str, Any] = Field(default_factory=dict)
    clicks: dict[str, Any] = Field(default_factory=dict)
    bounces: dict[str, Any] = Field(default_factory=dict)
