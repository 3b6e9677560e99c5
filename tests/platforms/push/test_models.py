"""The push API's checks on their own: addresses, field values, cursors, webhook URLs."""

from __future__ import annotations

import pytest

from chimplink.platforms import FieldType
from chimplink.platforms.push import (
    check_contact,
    check_fields,
    check_webhook_url,
    decode_cursor,
    encode_cursor,
    is_email,
)
from chimplink.platforms.push.models import ItemError, value_problem
from chimplink.store.push import PushContactInput, PushField


@pytest.mark.parametrize(
    "address",
    ["ann@example.org", "ann.lee+news@mail.example.co.uk", "o'brien@example.ie", "a_b@x-y.io"],
)
def test_addresses_mailchimp_takes(address: str) -> None:
    assert is_email(address)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "ann",
        "ann@",
        "@example.org",
        "ann@example",
        "ann@@example.org",
        "ann lee@example.org",
        "ann..lee@example.org",
        ".ann@example.org",
        "ann@-example.org",
        "ann@example.c0m",
        "ann@example.o",
        "a" * 65 + "@example.org",
        "ann@" + "a" * 250 + ".org",
    ],
)
def test_addresses_it_refuses(address: str) -> None:
    assert not is_email(address)


@pytest.mark.parametrize(
    ("kind", "value", "problem"),
    [
        (FieldType.TEXT, "Ann", None),
        (FieldType.TEXT, None, None),
        (FieldType.TEXT, 5, "must be text (a JSON string) for a text field"),
        (FieldType.TEXT, "x" * 1001, "must be at most 1000 characters"),
        (FieldType.PHONE, "+1 404 555 0100", None),
        (FieldType.NUMBER, 0, None),
        (FieldType.NUMBER, -2.5, None),
        (FieldType.NUMBER, True, "must be a JSON number for a number field"),
        (FieldType.NUMBER, "3", "must be a JSON number for a number field"),
        (FieldType.NUMBER, float("nan"), "must be a finite number"),
        (FieldType.DATE, "2024-02-29", None),
        (FieldType.DATE, "2023-02-29", "must be a date written YYYY-MM-DD"),
        (FieldType.DATE, "2024-2-9", "must be a date written YYYY-MM-DD"),
        (FieldType.DATE, "2024-02-29T10:00:00", "must be a date written YYYY-MM-DD"),
        (FieldType.BIRTHDAY, "02/29", None),
        (FieldType.BIRTHDAY, "12/31", None),
        (FieldType.BIRTHDAY, "13/01", "must be a birthday written MM/DD"),
        (FieldType.BIRTHDAY, "2/9", "must be a birthday written MM/DD"),
        (FieldType.BIRTHDAY, 229, "must be a birthday written MM/DD"),
    ],
)
def test_values_are_checked_against_the_field_type(
    kind: FieldType, value: object, problem: str | None
) -> None:
    assert value_problem(kind, value) == problem


def test_a_valid_contact_is_cleaned_for_storage() -> None:
    checked = check_contact(
        {
            "key": "k1",
            "email": "  ann@example.org ",
            "fields": {"plan": "gold"},
            "labels": [" vip ", "new"],
        },
        {"plan": FieldType.TEXT},
    )
    assert checked == PushContactInput(
        key="k1",
        email="ann@example.org",
        consent="unknown",
        fields={"plan": "gold"},
        labels=("vip", "new"),
    )


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        ([], [""]),
        ({"key": "", "email": "a@example.org"}, ["key"]),
        ({"key": "a\x00b", "email": "a@example.org"}, ["key"]),
        ({"key": "k" * 256, "email": "a@example.org"}, ["key"]),
        ({"key": 7, "email": "a@example.org"}, ["key"]),
        ({"key": "k", "email": "a@example.org", "labels": [""]}, ["labels.0"]),
        ({"key": "k", "email": "a@example.org", "labels": ["  "]}, ["labels"]),
        ({"key": "k", "email": "a@example.org", "labels": ["x"] * 101}, ["labels"]),
        ({"key": "k", "email": "a@example.org", "fields": []}, ["fields"]),
    ],
)
def test_a_bad_contact_says_where(raw: object, errors: list[str]) -> None:
    found = check_contact(raw, {})
    assert isinstance(found, list)
    assert [e.field for e in found] == errors
    assert all(isinstance(e, ItemError) and e.message for e in found)


def test_declared_fields() -> None:
    fields, errors = check_fields({"fields": [{"name": "plan"}, {"name": "ltv", "type": "number"}]})
    assert errors == []
    assert fields == [PushField("plan", "text", "plan"), PushField("ltv", "number", "ltv")]
    fields, errors = check_fields({"fields": [{"name": f"f{n}"} for n in range(101)]})
    assert fields == [] and [e.field for e in errors] == ["fields"]
    fields, errors = check_fields({"fields": [{"name": "x" * 65}]})
    assert fields == [] and [e.field for e in errors] == ["fields.0.name"]


def test_cursors_sort_as_they_grow() -> None:
    values = [1, 9, 10, 99, 100, 2**40]
    cursors = [encode_cursor(v) for v in values]
    assert cursors == sorted(cursors)
    assert [decode_cursor(c) for c in cursors] == values
    assert decode_cursor(None) == 0 and decode_cursor("") == 0
    for bad in ("1", "x" * 20, "-" + "1" * 19, "１" * 20):
        with pytest.raises(ValueError, match="not a cursor"):
            decode_cursor(bad)


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/webhooks/chimplink",
        "https://shop.example:8443/hooks?tenant=42",
        "http://localhost:9000/hooks",
        "http://127.0.0.1:9000/hooks",
        "http://platform.test/hooks",
    ],
)
def test_webhook_urls_accepted(url: str) -> None:
    assert check_webhook_url(f"  {url} ") == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("shop.example/hooks", "http(s) URL"),
        ("ftp://shop.example/hooks", "http(s) URL"),
        ("https:///hooks", "http(s) URL"),
        ("http://shop.example/hooks", "must use https"),
        ("https://user:pw@shop.example/hooks", "user name or password"),
        ("https://shop.example/hooks#x", "fragment"),
        ("https://shop.example:99999/hooks", "not a valid URL"),
        ("https://shop.example/ho oks", "spaces"),
        ("https://shop.example/" + "a" * 2048, "longer than 2048"),
    ],
)
def test_webhook_urls_refused(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_webhook_url(url)
