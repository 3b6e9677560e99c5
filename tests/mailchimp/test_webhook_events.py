"""Webhook deliveries: PHP-style form parsing, typed events, X-Mailchimp-Signature."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

import pytest

from chimplink.mailchimp import (
    BatchOperationCompletedEvent,
    CampaignEvent,
    CleanedEvent,
    ProfileEvent,
    SubscribeEvent,
    UnsubscribeEvent,
    UpemailEvent,
    WebhookPayloadError,
    WebhookSignatureError,
    construct_event,
    parse_event,
    parse_form,
    sign,
    verify_signature,
)


def form(pairs: list[tuple[str, str]]) -> bytes:
    return urlencode(pairs).encode()


# The legacy doc's canonical payloads (REFERENCE.md §4.1).
SUBSCRIBE = form(
    [
        ("type", "subscribe"),
        ("fired_at", "2009-03-26 21:35:57"),
        ("data[id]", "8a25ff1d98"),
        ("data[list_id]", "a6b5da1054"),
        ("data[email]", "api@mailchimp.com"),
        ("data[email_type]", "html"),
        ("data[merges][EMAIL]", "api@mailchimp.com"),
        ("data[merges][FNAME]", "Mailchimp"),
        ("data[merges][LNAME]", "API"),
        ("data[merges][INTERESTS]", "Group1,Group2"),
        ("data[ip_opt]", "10.20.10.30"),
        ("data[ip_signup]", "10.20.10.30"),
    ]
)


def test_subscribe_event() -> None:
    event = parse_event(SUBSCRIBE)
    assert isinstance(event, SubscribeEvent)
    assert event.fired_at == datetime(2009, 3, 26, 21, 35, 57)
    assert event.data.email == "api@mailchimp.com"
    assert event.data.list_id == "a6b5da1054"
    assert event.data.merges == {
        "EMAIL": "api@mailchimp.com",
        "FNAME": "Mailchimp",
        "LNAME": "API",
        "INTERESTS": "Group1,Group2",
    }
    assert event.dedupe_key == "subscribe:8a25ff1d98:2009-03-26T21:35:57"


def test_unsubscribe_event() -> None:
    event = parse_event(
        form(
            [
                ("type", "unsubscribe"),
                ("fired_at", "2009-03-26 21:40:57"),
                ("data[action]", "unsub"),
                ("data[reason]", "manual"),
                ("data[id]", "8a25ff1d98"),
                ("data[list_id]", "a6b5da1054"),
                ("data[email]", "api+unsub@mailchimp.com"),
                ("data[email_type]", "html"),
                ("data[merges][FNAME]", "Mailchimp"),
                ("data[ip_opt]", "10.20.10.30"),
                ("data[campaign_id]", "cb398d21d2"),
                ("data[web_id]", "123"),
            ]
        )
    )
    assert isinstance(event, UnsubscribeEvent)
    assert (event.data.action, event.data.reason) == ("unsub", "manual")
    assert event.data.campaign_id == "cb398d21d2"
    assert event.data.model_extra == {}
    assert event.data.web_id == "123"


def test_profile_upemail_cleaned_campaign_events() -> None:
    profile = parse_event(
        form(
            [
                ("type", "profile"),
                ("fired_at", "2009-03-26 21:31:21"),
                ("data[id]", "8a25ff1d98"),
                ("data[list_id]", "a6b5da1054"),
                ("data[email]", "api@mailchimp.com"),
                ("data[merges][GROUPINGS][0][name]", "Colours"),
                ("data[merges][GROUPINGS][0][groups]", "Red"),
            ]
        )
    )
    assert isinstance(profile, ProfileEvent)
    assert profile.data.merges["GROUPINGS"] == [{"name": "Colours", "groups": "Red"}]

    upemail = parse_event(
        form(
            [
                ("type", "upemail"),
                ("fired_at", "2009-03-26 22:15:09"),
                ("data[list_id]", "a6b5da1054"),
                ("data[new_id]", "51da8c3259"),
                ("data[new_email]", "api+new@mailchimp.com"),
                ("data[old_email]", "api+old@mailchimp.com"),
            ]
        )
    )
    assert isinstance(upemail, UpemailEvent)
    assert upemail.data.old_email == "api+old@mailchimp.com"

    cleaned = parse_event(
        form(
            [
                ("type", "cleaned"),
                ("fired_at", "2009-03-26 22:01:00"),
                ("data[list_id]", "a6b5da1054"),
                ("data[campaign_id]", "4fjk2ma9xd"),
                ("data[reason]", "hard"),
                ("data[email]", "api+cleaned@mailchimp.com"),
            ]
        )
    )
    assert isinstance(cleaned, CleanedEvent)
    assert cleaned.data.reason == "hard"
    assert cleaned.dedupe_key.startswith("cleaned:api+cleaned@mailchimp.com:")

    campaign = parse_event(
        form(
            [
                ("type", "campaign"),
                ("fired_at", "2009-03-26 21:31:21"),
                ("data[id]", "5aa2102003"),
                ("data[subject]", "Test Campaign Subject"),
                ("data[status]", "sent"),
                ("data[reason]", ""),
                ("data[list_id]", "a6b5da1054"),
            ]
        )
    )
    assert isinstance(campaign, CampaignEvent)
    assert campaign.data.reason == ""


def test_batch_operation_completed_event_with_links() -> None:
    event = parse_event(
        form(
            [
                ("type", "batch_operation_completed"),
                ("fired_at", "2017-02-10 14:59:37"),
                ("data[id]", "1234ab56cd"),
                ("data[status]", "finished"),
                ("data[total_operations]", "1"),
                ("data[finished_operations]", "1"),
                ("data[errored_operations]", "0"),
                ("data[submitted_at]", "2017-02-10T14:44:14+00:00"),
                ("data[completed_at]", "2017-02-10T14:59:37+00:00"),
                ("data[response_body_url]", "https://storage.example/x.tar.gz"),
                ("data[_links][0][rel]", "parent"),
                ("data[_links][0][href]", "https://us6.api.mailchimp.com/3.0/batches"),
                ("data[_links][1][rel]", "self"),
            ]
        )
    )
    assert isinstance(event, BatchOperationCompletedEvent)
    assert event.data.total_operations == 1
    assert event.data.model_extra is not None
    assert [link["rel"] for link in event.data.model_extra["_links"]] == ["parent", "self"]


def test_an_already_decoded_mapping_is_accepted() -> None:
    event = parse_event(parse_form(SUBSCRIBE))
    assert isinstance(event, SubscribeEvent)


def test_parse_form_handles_php_append_and_sparse_indexes() -> None:
    parsed = parse_form("a[]=1&a[]=2&b[0]=x&b[2]=y&c=%20")
    assert parsed == {"a": ["1", "2"], "b": {"0": "x", "2": "y"}, "c": " "}


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"\xff\xfe", "not UTF-8"),
        (b"novalue", "not form-encoded"),
        (b"data[merges=1", "malformed form key"),
        (b"]x=1", "malformed form key"),
        (b"type=subscribe&type=profile", "duplicate"),
        (b"data=1&data[id]=2", "conflicts"),
        (b"fired_at=2009-03-26%2021:35:57", "no 'type'"),
        (b"type=mystery&fired_at=2009-03-26%2021:35:57", "unknown webhook event type"),
        (b"type=subscribe&fired_at=2009-03-26%2021:35:57&data[list_id]=l", "data.email"),
        (b"type=subscribe&fired_at=yesterday&data[list_id]=l&data[email]=e", "fired_at"),
    ],
)
def test_malformed_deliveries_raise_a_clear_error(body: bytes, match: str) -> None:
    with pytest.raises(WebhookPayloadError, match=match):
        parse_event(body)


def test_payload_errors_are_value_errors() -> None:
    assert issubclass(WebhookPayloadError, ValueError)


# -- signatures -------------------------------------------------------------------------------

SECRET = "whsec-signing-secret"
NOW = 1_760_000_000


def clock(at: float = NOW):  # type: ignore[no-untyped-def]
    return lambda: at


def test_a_valid_signature_verifies_and_returns_the_timestamp() -> None:
    header = sign(secret=SECRET, timestamp=NOW, body=SUBSCRIBE)
    assert header.startswith(f"t={NOW},v1=")
    assert verify_signature(body=SUBSCRIBE, header=header, secret=SECRET, now=clock()) == NOW


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + SUBSCRIBE, hashlib.sha256)
    assert sign(secret=SECRET, timestamp=NOW, body=SUBSCRIBE) == (
        f"t={NOW},v1={expected.hexdigest()}"
    )


def test_signatures_within_five_minutes_pass_older_fail() -> None:
    header = sign(secret=SECRET, timestamp=NOW, body=SUBSCRIBE)
    verify_signature(body=SUBSCRIBE, header=header, secret=SECRET, now=clock(NOW + 300))
    with pytest.raises(WebhookSignatureError, match="tolerance"):
        verify_signature(body=SUBSCRIBE, header=header, secret=SECRET, now=clock(NOW + 301))
    with pytest.raises(WebhookSignatureError, match="tolerance"):
        verify_signature(body=SUBSCRIBE, header=header, secret=SECRET, now=clock(NOW - 301))


def test_a_tampered_body_fails() -> None:
    header = sign(secret=SECRET, timestamp=NOW, body=SUBSCRIBE)
    tampered = SUBSCRIBE.replace(b"Mailchimp", b"Mallory")
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify_signature(body=tampered, header=header, secret=SECRET, now=clock())


def test_a_replayed_signature_with_a_new_timestamp_fails() -> None:
    digest = sign(secret=SECRET, timestamp=NOW - 3600, body=SUBSCRIBE).split("v1=")[1]
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify_signature(body=SUBSCRIBE, header=f"t={NOW},v1={digest}", secret=SECRET, now=clock())


def test_the_wrong_secret_fails_without_revealing_the_expected_signature() -> None:
    header = sign(secret="other", timestamp=NOW, body=SUBSCRIBE)
    expected = sign(secret=SECRET, timestamp=NOW, body=SUBSCRIBE).split("v1=")[1]
    with pytest.raises(WebhookSignatureError) as caught:
        verify_signature(body=SUBSCRIBE, header=header, secret=SECRET, now=clock())
    assert expected not in str(caught.value)
    assert SECRET not in str(caught.value)


def test_any_of_several_v1_signatures_may_match() -> None:
    good = sign(secret=SECRET, timestamp=NOW, body=SUBSCRIBE).split("v1=")[1]
    header = f"t={NOW}, v1={'0' * 64}, v1={good.upper()}"
    assert verify_signature(body=SUBSCRIBE, header=header, secret=SECRET, now=clock()) == NOW


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (None, "missing"),
        ("", "missing"),
        ("garbage", "malformed"),
        (f"t={NOW}", "needs both"),
        ("v1=abc", "needs both"),
        ("t=soon,v1=abc", "not a number"),
        (f"t={NOW},v1=\u00e9", "does not match"),
    ],
)
def test_malformed_headers_fail(header: str | None, match: str) -> None:
    with pytest.raises(WebhookSignatureError, match=match):
        verify_signature(body=SUBSCRIBE, header=header, secret=SECRET, now=clock())


def test_a_secret_is_required() -> None:
    with pytest.raises(ValueError, match="signing secret"):
        verify_signature(body=SUBSCRIBE, header="t=1,v1=a", secret="", now=clock())


def test_construct_event_verifies_before_parsing() -> None:
    header = sign(secret=SECRET, timestamp=NOW, body=SUBSCRIBE)
    event = construct_event(body=SUBSCRIBE, header=header, secret=SECRET, now=clock())
    assert isinstance(event, SubscribeEvent)
    garbage = b"not a delivery"
    with pytest.raises(WebhookSignatureError):  # not WebhookPayloadError: never parsed
        construct_event(body=garbage, header=header, secret=SECRET, now=clock())
