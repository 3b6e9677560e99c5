"""Batch operations, batch webhooks and batch subscribe responses (REFERENCE.md §7, §8.3)."""

from __future__ import annotations

from pydantic import Field

from chimplink.mailchimp.models._base import MailchimpModel, Timestamp
from chimplink.mailchimp.models.members import Member

__all__ = [
    "Batch",
    "BatchSubscribeMemberError",
    "BatchSubscribeResponse",
    "BatchWebhook",
]


class Batch(MailchimpModel):
    """A `/batches` job. `finished` is not success: check `errored_operations` (§7.2)."""

    id: str
    status: str | None = None  # pending | preprocessing | started | finalizing | finished
    total_operations: int | None = None
    finished_operations: int | None = None
    errored_operations: int | None = None
    submitted_at: Timestamp = None
    completed_at: Timestamp = None
    response_body_url: str | None = None

    @property
    def finished(self) -> bool:
        return self.status == "finished"


class BatchWebhook(MailchimpModel):
    id: str
    url: str | None = None
    enabled: bool | None = None


class BatchSubscribeMemberError(MailchimpModel):
    email_address: str | None = None
    error: str | None = None
    error_code: str | None = None  # ERROR_CONTACT_EXISTS | ERROR_GENERIC
    field: str | None = None
    field_message: str | None = None


class BatchSubscribeResponse(MailchimpModel):
    """`POST /lists/{list_id}`, one chunk of ≤500 members."""

    new_members: list[Member] = Field(default_factory=list)
    updated_members: list[Member] = Field(default_factory=list)
    errors: list[BatchSubscribeMemberError] = Field(default_factory=list)
    total_created: int | None = None
    total_updated: int | None = None
    error_count: int | None = None
