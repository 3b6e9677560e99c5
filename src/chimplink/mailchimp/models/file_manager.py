"""File Manager files and folders (REFERENCE.md §9)."""

from __future__ import annotations

from pydantic import Field

from chimplink.mailchimp.models._base import MailchimpModel, Timestamp

__all__ = ["File", "Folder"]


class File(MailchimpModel):
    id: int
    folder_id: int | None = None
    type: str | None = None  # image | file
    name: str | None = None
    full_size_url: str | None = None
    thumbnail_url: str | None = None
    size: int | None = None
    created_at: Timestamp = None
    created_by: str | None = None
    width: int | None = None
    height: int | None = None


class Folder(MailchimpModel):
    id: int
    name: str | None = None
    file_count: int | None = Field(default=None)
    created_at: Timestamp = None
    created_by: str | None = None
