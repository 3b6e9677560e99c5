"""The webhooks chimplink sends a push platform when Mailchimp changed one of its contacts.

Each body follows the Standard Webhooks payload shape, `{"type", "timestamp",
"data"}`; `data` holds the contact's key, what changed, and the whole contact
as `GET /api/v1/contacts/{key}` shows it after the change. Deliveries may
arrive twice (same `webhook-id`) or out of order after retries: the
contact's `cursor` grows with every change, so a platform keeps the state
with the largest cursor it has seen.

    contact.consent_withdrawn   data: key, reason ("unsubscribed" | "cleaned"), contact
    contact.profile_changed     data: key, fields (only those that changed), contact
    contact.email_changed       data: key, email (the new address), contact
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from chimplink.platforms.push.models import contact_document
from chimplink.store.push import PushContact, PushField

__all__ = ["EventType", "event_body", "new_message_id"]


class EventType(StrEnum):
    CONSENT_WITHDRAWN = "contact.consent_withdrawn"
    PROFILE_CHANGED = "contact.profile_changed"
    EMAIL_CHANGED = "contact.email_changed"


def new_message_id() -> str:
    """A `webhook-id`: unique, and the same for every attempt at one message."""
    return f"msg_{uuid.uuid4().hex}"


def event_body(
    *,
    event_type: EventType,
    contact: PushContact,
    change: Mapping[str, Any],
    declared: Sequence[PushField],
    at: datetime,
) -> str:
    """The JSON body, exactly as it will be signed and sent."""
    body = {
        "type": event_type.value,
        "timestamp": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": {
            "key": contact.key,
            **change,
            "contact": contact_document(contact, declared),
        },
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
