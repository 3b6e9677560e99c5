"""What every model shares: leniency towards Mailchimp's responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


class MailchimpModel(BaseModel):
    """A resource as Mailchimp returns it.

    `extra="allow"`: Mailchimp adds fields over time (and `_links` everywhere);
    unknown fields are kept in `model_extra` instead of failing the parse.
    Nearly every field is optional because `fields`/`exclude_fields` can
    remove any of them from a response (REFERENCE.md §6).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)


def _empty_to_none(value: Any) -> Any:
    # Mailchimp sends "" for timestamps it does not have (timestamp_signup,
    # completed_at of an unfinished batch) rather than null.
    if isinstance(value, str) and not value.strip():
        return None
    return value


Timestamp = Annotated[datetime | None, BeforeValidator(_empty_to_none)]
"""An ISO 8601 timestamp, or None when Mailchimp sends an empty string."""
