"""Models are lenient; the public API is explicit and guarded."""

from __future__ import annotations

import types

import chimplink.mailchimp as mailchimp
from chimplink.mailchimp import (
    Batch,
    BatchSubscribeResponse,
    MailingList,
    Member,
    Segment,
    Webhook,
    subscriber_hash,
)
from chimplink.mailchimp.hashing import is_subscriber_hash, member_key


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(mailchimp).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(mailchimp.__all__) == public
    assert len(mailchimp.__all__) == len(set(mailchimp.__all__))


def test_every_exported_name_resolves() -> None:
    for name in mailchimp.__all__:
        assert getattr(mailchimp, name) is not None


def test_core_api_is_exported() -> None:
    expected = {
        "MailchimpClient", "RetryPolicy", "LocalLimiter", "ConcurrencyLimiter", "CallObserver",
        "ApiCall", "MailchimpError", "APIConnectionError", "OutcomeUnknownError",
        "AuthenticationError", "PermissionDeniedError", "NotFoundError", "ValidationError",
        "ComplianceError", "RateLimitError", "ServerError", "error_from_response",
        "authorize_url", "exchange_code", "fetch_metadata", "subscriber_hash", "parse_event",
        "verify_signature", "BatchOperation", "BatchSubscribeResult", "Member", "MailingList",
        "MergeField", "Webhook", "Batch", "File", "Folder", "OAuthMetadata",
    }  # fmt: skip
    assert expected <= set(mailchimp.__all__)


def test_subscriber_hash_is_md5_of_the_lowercased_address() -> None:
    assert subscriber_hash("Urist.McVankab@freddiesjokes.com") == (
        "62eeb292278cc15f5817cb78f7790b08"
    )
    assert subscriber_hash("  ANN@example.com ") == subscriber_hash("ann@example.com")
    assert is_subscriber_hash(subscriber_hash("a@b.c"))
    assert member_key("62eeb292278cc15f5817cb78f7790b08") == "62eeb292278cc15f5817cb78f7790b08"


def test_subscriber_hash_of_nothing_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="empty"):
        subscriber_hash("  ")


def test_models_accept_extra_fields_and_empty_timestamps() -> None:
    member = Member.model_validate(
        {
            "id": "h",
            "email_address": "a@b.c",
            "status": "a-status-from-the-future",
            "timestamp_opt": "",
            "last_changed": "2026-01-02T03:04:05+00:00",
            "_links": [{"rel": "self"}],
            "tags": [{"id": 1, "name": "vip"}],
        }
    )
    assert member.status == "a-status-from-the-future"
    assert member.timestamp_opt is None
    assert member.last_changed is not None and member.last_changed.year == 2026
    assert member.tags[0].name == "vip"
    assert member.model_extra == {"_links": [{"rel": "self"}]}
    assert MailingList.model_validate({"id": "l1", "stats": {"member_count": 3}}).stats
    assert Segment.model_validate({"id": 5}).id == 5
    assert Batch.model_validate({"id": "b", "status": "finished"}).finished
    assert BatchSubscribeResponse.model_validate({}).errors == []


def test_webhook_signing_secret_is_hidden_in_reprs() -> None:
    hook = Webhook.model_validate({"id": "w", "signing_secret": "whsec-abc"})
    assert "whsec-abc" not in repr(hook)
    assert hook.signing_secret is not None
    assert hook.signing_secret.get_secret_value() == "whsec-abc"
