"""A contact → the member payload; merge fields created with valid tags and types."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from chimplink.emulator import create_app
from chimplink.mailchimp import MailchimpClient
from chimplink.platforms import Consent, Contact, FieldSpec, FieldType
from chimplink.store.sync_config import NoConsentPolicy
from chimplink.sync import (
    MappingError,
    MemberPayload,
    MemberPolicy,
    ResolvedField,
    Skip,
    SyncConfigError,
    build_member,
    convert_value,
    derive_tag,
    ensure_merge_fields,
)
from tests.sync.conftest import BASE, LIST_BODY

POLICY = MemberPolicy(
    list_id="L1",
    fields=(
        ResolvedField("first_name", "FNAME", "text"),
        ResolvedField("score", "SCORE", "number"),
        ResolvedField("born", "BIRTHDAY", "birthday"),
    ),
)


def contact(**overrides: object) -> Contact:
    values: dict[str, object] = {
        "key": "k1",
        "email": " Ann.Lee@bakery-customers.com ",
        "consent": Consent.GRANTED,
        "cursor": "1",
        "fields": {"first_name": "Ann", "score": "12", "born": "1990-04-17", "other": "x"},
        "labels": frozenset({"vip", "newsletter"}),
    }
    values.update(overrides)
    return Contact(**values)  # type: ignore[arg-type]


def test_granted_consent_subscribes_new_members() -> None:
    payload = build_member(contact(), POLICY)
    assert payload == MemberPayload(
        email_address="Ann.Lee@bakery-customers.com",
        status_if_new="subscribed",
        merge_fields={"FNAME": "Ann", "SCORE": 12, "BIRTHDAY": "04/17"},
        tags=("newsletter", "vip"),
    )


@pytest.mark.parametrize(
    ("consent", "policy", "expected"),
    [
        (Consent.GRANTED, MemberPolicy(list_id="L", double_optin=True), "pending"),
        (Consent.WITHDRAWN, MemberPolicy(list_id="L"), "transactional"),
        (Consent.UNKNOWN, MemberPolicy(list_id="L"), "transactional"),
        (Consent.WITHDRAWN, MemberPolicy(list_id="L", no_consent=NoConsentPolicy.SKIP), None),
        (Consent.UNKNOWN, MemberPolicy(list_id="L", no_consent=NoConsentPolicy.SKIP), None),
    ],
)
def test_consent_to_status_if_new(
    consent: Consent, policy: MemberPolicy, expected: str | None
) -> None:
    built = build_member(contact(consent=consent), policy)
    if expected is None:
        assert isinstance(built, Skip)
    else:
        assert isinstance(built, MemberPayload)
        assert built.status_if_new == expected


def test_an_update_never_carries_a_status() -> None:
    payload = build_member(contact(), POLICY)
    assert isinstance(payload, MemberPayload)
    assert "status" not in payload.for_update()
    assert "status_if_new" not in payload.for_update()
    assert payload.for_create()["status"] == "subscribed"


def test_labels_map_to_tags_by_rule() -> None:
    only_vip = MemberPolicy(list_id="L", label_tags={"vip": "VIP customers"})
    payload = build_member(contact(), only_vip)
    assert isinstance(payload, MemberPayload) and payload.tags == ("VIP customers",)
    none = build_member(contact(), MemberPolicy(list_id="L", sync_labels=False))
    assert isinstance(none, MemberPayload) and none.tags == ()


@pytest.mark.parametrize(
    ("value", "merge_type", "expected"),
    [
        (None, "text", ""),
        (True, "text", "true"),
        (3.0, "text", "3"),
        ("x" * 300, "text", "x" * 255),
        ("é" * 200, "text", "é" * 127),  # cut at 255 bytes, never mid-character
        ("12", "number", 12),
        ("-1.5", "number", -1.5),
        ("", "number", ""),
        (7, "number", 7),
        (False, "number", 0),
        ("2024-02-29T10:00:00Z", "date", "2024-02-29"),
        ("1990-04-17", "birthday", "04/17"),
        ("04/17", "birthday", "04/17"),
        (30308, "zip", "30308"),
        (501, "zip", "00501"),
        ("+1 404 555 0100", "phone", "+1 404 555 0100"),
    ],
)
def test_values_are_converted_to_the_merge_type(
    value: object, merge_type: str, expected: object
) -> None:
    assert convert_value(value, merge_type) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "merge_type"),
    [
        ("lots", "number"),
        ("17th April", "birthday"),
        (float("nan"), "number"),
        (float("inf"), "number"),
    ],
)
def test_unconvertible_values_fail_the_record(value: object, merge_type: str) -> None:
    with pytest.raises(MappingError):
        convert_value(value, merge_type, field="x")  # type: ignore[arg-type]


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "ann lee@x.com", "", "@x.com"])
def test_unusable_addresses_fail_the_record(email: str) -> None:
    with pytest.raises(MappingError) as caught:
        build_member(contact(email=email), POLICY)
    assert caught.value.field == "email"


@pytest.mark.parametrize(
    ("name", "taken", "expected"),
    [
        ("Favorite Color", set(), "FAVORITECO"),
        ("Favorite Color", {"FAVORITECO"}, "FAVORITEC2"),
        ("Favorite Color", {"FAVORITECO", "FAVORITEC2"}, "FAVORITEC3"),
        ("city", set(), "CITY"),
        ("2nd address", set(), "F2NDADDRES"),
        ("***", set(), "FIELD"),
        ("email", set(), "EMAIL2"),
        ("Straße", set(), "STRASSE"),
        ("Город", {"FIELD"}, "FIELD2"),
    ],
)
def test_derived_tags_are_valid_and_unique(name: str, taken: set[str], expected: str) -> None:
    tag = derive_tag(name, taken)
    assert tag == expected
    assert len(tag) <= 10 and tag.isupper() and tag not in taken


@pytest.fixture
async def audience() -> AsyncIterator[tuple[MailchimpClient, str]]:
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        info = (await http.post("/_emulator/accounts", json={"account_name": "Maps"})).json()
        headers = {"Authorization": f"Bearer {info['access_token']}"}
        list_id = (await http.post("/3.0/lists", json=LIST_BODY, headers=headers)).json()["id"]
        async with MailchimpClient(
            access_token=info["access_token"], base_url=BASE, transport=transport
        ) as client:
            yield client, list_id
    await app.aclose()


FIELDS = [
    FieldSpec("first_name", FieldType.TEXT, "First name"),
    FieldSpec("favorite_color", FieldType.TEXT, "Favorite Color"),
    FieldSpec("favorite_colour", FieldType.TEXT, "Favorite Colour"),
    FieldSpec("visits", FieldType.NUMBER, "Visits"),
    FieldSpec("born", FieldType.BIRTHDAY, "Birthday"),
    FieldSpec("site", FieldType.URL, "Website"),
]


async def test_ensure_merge_fields_creates_what_is_missing(
    audience: tuple[MailchimpClient, str],
) -> None:
    client, list_id = audience
    mapping = {
        "first_name": "FNAME",
        "favorite_color": "",
        "favorite_colour": "",
        "visits": "",
        "born": "bday",
        "site": "",
    }
    plan = await ensure_merge_fields(client, list_id, mapping, FIELDS)
    assert plan.field_map == {
        "first_name": "FNAME",
        "favorite_color": "FAVORITECO",
        "favorite_colour": "FAVORITEC2",
        "visits": "VISITS",
        "born": "BDAY",
        "site": "WEBSITE",
    }
    assert sorted(plan.created) == ["BDAY", "FAVORITEC2", "FAVORITECO", "VISITS", "WEBSITE"]
    fields = {f.tag: f for f in [mf async for mf in client.lists.merge_fields.iterate(list_id)]}
    assert fields["VISITS"].type == "number"
    assert fields["BDAY"].type == "birthday"
    assert fields["WEBSITE"].type == "url"
    assert fields["FAVORITECO"].name == "Favorite Color"

    # a second call (or a new run) finds them and creates nothing
    again = await ensure_merge_fields(client, list_id, plan.field_map, FIELDS)
    assert again.created == () and again.field_map == plan.field_map
    by_name = await ensure_merge_fields(client, list_id, mapping, FIELDS, create=False)
    assert by_name.created == () and by_name.field_map == plan.field_map


async def test_ensure_merge_fields_dry_run_creates_nothing(
    audience: tuple[MailchimpClient, str],
) -> None:
    client, list_id = audience
    plan = await ensure_merge_fields(client, list_id, {"visits": ""}, FIELDS, create=False)
    assert plan.created == ("VISITS",)
    tags = {f.tag async for f in client.lists.merge_fields.iterate(list_id)}
    assert "VISITS" not in tags


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"first_name": "WAYTOOLONGTAG"}, "not valid"),
        ({"first_name": "EMAIL"}, "reserved"),
        ({"first_name": "ADDRESS"}, "address field"),
        ({"first_name": "FNAME", "favorite_color": "FNAME"}, "both mapped"),
    ],
)
async def test_ensure_merge_fields_refuses_mappings_that_cannot_work(
    audience: tuple[MailchimpClient, str], mapping: dict[str, str], message: str
) -> None:
    client, list_id = audience
    with pytest.raises(SyncConfigError, match=message):
        await ensure_merge_fields(client, list_id, mapping, FIELDS)
