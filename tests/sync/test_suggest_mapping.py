"""The mapping form's defaults (`suggest_mapping`) and its check of typed tags (`normalize_tag`)."""

from __future__ import annotations

import pytest

from chimplink.platforms import FieldSpec, FieldType
from chimplink.sync.mapping import SyncConfigError, normalize_tag, suggest_mapping


def test_obvious_fields_get_the_audiences_default_merge_tags() -> None:
    fields = [
        FieldSpec("first_name", FieldType.TEXT, "First name"),
        FieldSpec("Surname", FieldType.TEXT),
        FieldSpec("phone-number", FieldType.PHONE, "Phone"),
        FieldSpec("favorite_color", FieldType.TEXT, "Favorite colour"),
        FieldSpec("signup", FieldType.DATE),
    ]
    assert suggest_mapping(fields) == {
        "first_name": "FNAME",
        "Surname": "LNAME",
        "phone-number": "PHONE",
        "favorite_color": "FAVORITECO",
        "signup": "SIGNUP",
    }


def test_suggestions_are_unique_valid_and_never_the_address_field() -> None:
    fields = [
        FieldSpec("given_name", FieldType.TEXT),
        FieldSpec("fname", FieldType.TEXT),  # FNAME is taken by given_name
        FieldSpec("address", FieldType.TEXT),  # ADDRESS is an address-type merge field
        FieldSpec("email", FieldType.TEXT),  # EMAIL is the member's address itself
        FieldSpec("loyalty_points_2024", FieldType.NUMBER, "Loyalty points 2024"),
        FieldSpec("loyalty_points_2025", FieldType.NUMBER, "Loyalty points 2025"),
        FieldSpec("2fa", FieldType.TEXT),
        FieldSpec("???", FieldType.TEXT),
    ]
    suggested = suggest_mapping(fields)
    assert list(suggested) == [f.name for f in fields]  # the platform's order
    assert suggested["given_name"] == "FNAME"
    assert suggested["fname"] != "FNAME"
    assert suggested["address"] != "ADDRESS"
    assert suggested["email"] != "EMAIL"
    assert suggested["2fa"] == "F2FA"
    tags = list(suggested.values())
    assert len(set(tags)) == len(tags)
    for tag in tags:
        assert normalize_tag(tag) == tag


@pytest.mark.parametrize(
    ("typed", "expected"), [("fname", "FNAME"), ("  Plan_2 ", "PLAN_2"), ("A", "A")]
)
def test_a_typed_tag_is_uppercased(typed: str, expected: str) -> None:
    assert normalize_tag(typed) == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter a merge tag"),
        ("   ", "Enter a merge tag"),
        ("ABCDEFGHIJK", "ABCDEFGHIJK has 11 characters; Mailchimp allows at most 10."),
        ("MY TAG", "use letters A-Z, digits and underscores only"),
        ("PRÉNOM", "use letters A-Z, digits and underscores only"),
        ("*|FNAME|*", "use letters A-Z, digits and underscores only"),
        ("email", "EMAIL is the contact's email address in Mailchimp."),
    ],
)
def test_a_bad_tag_is_refused_with_what_to_fix(typed: str, message: str) -> None:
    with pytest.raises(SyncConfigError, match=message.replace("*", r"\*").replace("|", r"\|")):
        normalize_tag(typed)
