"""The public names of the push connector's package and of its storage modules."""

from __future__ import annotations

import chimplink.platforms.push as push
from chimplink.store import push as store_push
from chimplink.store import push_outbox


def test_exports() -> None:
    assert set(push.__all__) == {
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
    }
    for module in (push, store_push, push_outbox):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
