"""The `push` connector: contacts come in through a REST API, changes go out as webhooks.

    platform ── PUT /api/v1/contacts ──► push_contacts ──PushConnector──► sync engine
    platform ◄── signed webhook ◄── outbox ◄──PushConnector.apply── inbound processor

A platform that cannot give chimplink a database (a SaaS, a mobile backend)
pushes its contacts with a per-tenant API key (`chimplink push-key create`);
chimplink keeps them per tenant (`store/push.py`) and syncs them like any
connector's. What changes in Mailchimp (unsubscribes, profile edits, email
changes) is applied to the stored contact and sent to the platform's
webhook endpoint (`chimplink push-key webhook`), signed per Standard
Webhooks and retried (`delivery.py`).
"""

from chimplink.platforms.push.connector import PushConnector
from chimplink.platforms.push.delivery import (
    DeliveryPolicy,
    DeliveryReport,
    deliver_due,
    sign,
    webhook_headers,
)
from chimplink.platforms.push.events import EventType, event_body, new_message_id
from chimplink.platforms.push.models import (
    ContactIn,
    FieldIn,
    FieldsIn,
    ItemError,
    check_contact,
    check_fields,
    check_webhook_url,
    contact_document,
    decode_cursor,
    encode_cursor,
    is_email,
)

__all__ = [
    "ContactIn",
    "DeliveryPolicy",
    "DeliveryReport",
    "EventType",
    "FieldIn",
    "FieldsIn",
    "ItemError",
    "PushConnector",
    "check_contact",
    "check_fields",
    "check_webhook_url",
    "contact_document",
    "decode_cursor",
    "deliver_due",
    "encode_cursor",
    "event_body",
    "is_email",
    "new_message_id",
    "sign",
    "webhook_headers",
]
