"""Merge fields: CRUD, types, tags (uppercased, ≤10 characters), required values."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance import assert_conforms
from tests.conftest import Account
from tests.emulator.test_lists import new_list

COLLECTION = "/lists/{list_id}/merge-fields"
INSTANCE = "/lists/{list_id}/merge-fields/{merge_id}"


async def _field(account: Account, list_id: str, **body: Any) -> dict[str, Any]:
    response = await account.post(f"/lists/{list_id}/merge-fields", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_create_merge_field_uppercases_the_tag(account: Account) -> None:
    list_id = (await new_list(account))["id"]
    response = await account.post(
        f"/lists/{list_id}/merge-fields",
        json={"name": "Loyalty tier", "type": "text", "tag": "tier", "required": False},
    )
    body = assert_conforms(response, "POST", COLLECTION)
    assert body["tag"] == "TIER"
    assert body["merge_id"] == 5
    assert body["list_id"] == list_id
    assert body["type"] == "text"
    assert body["display_order"] > 5 - 1


async def test_tag_is_generated_from_the_name(account: Account) -> None:
    list_id = (await new_list(account))["id"]
    first = await _field(account, list_id, name="Favorite colour", type="text")
    assert first["tag"] == "FAVORITECO"
    clash = await _field(account, list_id, name="Favorite colours", type="text")
    assert clash["tag"] == f"MMERGE{clash['merge_id']}"


async def test_tag_longer_than_10_characters_is_invalid(account: Account) -> None:
    list_id = (await new_list(account))["id"]
    response = await account.post(
        f"/lists/{list_id}/merge-fields",
        json={"name": "Customer number", "type": "number", "tag": "CUSTOMERNUM"},
    )
    problem = assert_conforms(response, "POST", COLLECTION)
    assert response.status_code == 400
    assert problem["title"] == "Invalid Resource"
    assert problem["errors"][0]["field"] == "tag"
    assert "at most 10 characters" in problem["errors"][0]["message"]


async def test_duplicate_tag_is_rejected(account: Account) -> None:
    list_id = (await new_list(account))["id"]
    for tag in ("fname", "EMAIL"):
        response = await account.post(
            f"/lists/{list_id}/merge-fields", json={"name": "Other", "type": "text", "tag": tag}
        )
        assert response.status_code == 400
        problem = response.json()
        assert problem["title"] == "Invalid Resource"
        assert problem["detail"] == (
            f'A Merge Field with the tag "{tag.upper()}" already exists for this list.'
        )


async def test_create_merge_field_schema_errors(account: Account) -> None:
    list_id = (await new_list(account))["id"]
    missing = await account.post(f"/lists/{list_id}/merge-fields", json={"name": "X"})
    problem = assert_conforms(missing, "POST", COLLECTION)
    assert problem["errors"] == [
        {"field": "", "message": "Required fields were not provided: type"}
    ]
    bad_type = await account.post(
        f"/lists/{list_id}/merge-fields", json={"name": "X", "type": "colour"}
    )
    assert bad_type.status_code == 400
    assert bad_type.json()["errors"][0]["field"] == "type"
    unknown_list = await account.post(
        "/lists/0000000000/merge-fields", json={"name": "X", "type": "text"}
    )
    assert unknown_list.status_code == 404


@pytest.mark.parametrize("kind", ["dropdown", "radio"])
async def test_choice_fields_need_choices(account: Account, kind: str) -> None:
    list_id = (await new_list(account))["id"]
    response = await account.post(
        f"/lists/{list_id}/merge-fields", json={"name": "Size", "type": kind}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "options.choices"
    created = await _field(
        account, list_id, name="Size", type=kind, options={"choices": ["S", "M", "L"]}
    )
    assert created["options"]["choices"] == ["S", "M", "L"]


async def test_list_merge_fields_filters_and_pages(account: Account) -> None:
    list_id = (await new_list(account))["id"]
    await _field(account, list_id, name="Birthday", type="birthday", required=True)
    response = await account.get(f"/lists/{list_id}/merge-fields")
    body = assert_conforms(response, "GET", COLLECTION)
    assert body["total_items"] == 5
    assert body["list_id"] == list_id
    assert len(body["merge_fields"]) == 5
    only = (await account.get(f"/lists/{list_id}/merge-fields", params={"type": "birthday"})).json()
    assert [f["tag"] for f in only["merge_fields"]] == ["BIRTHDAY"]
    assert only["merge_fields"][0]["options"] == {"date_format": "MM/DD"}
    required = (
        await account.get(f"/lists/{list_id}/merge-fields", params={"required": "true"})
    ).json()
    assert required["total_items"] == 1
    paged = (await account.get(f"/lists/{list_id}/merge-fields", params={"count": 2})).json()
    assert [f["tag"] for f in paged["merge_fields"]] == ["FNAME", "LNAME"]
    missing = await account.get("/lists/0000000000/merge-fields")
    assert_conforms(missing, "GET", COLLECTION)
    assert missing.status_code == 404


async def test_get_merge_field(account: Account) -> None:
    list_id = (await new_list(account))["id"]
    response = await account.get(f"/lists/{list_id}/merge-fields/3")
    body = assert_conforms(response, "GET", INSTANCE)
    assert body["tag"] == "ADDRESS"
    assert body["options"]["default_country"] == 164
    missing = await account.get(f"/lists/{list_id}/merge-fields/99")
    problem = assert_conforms(missing, "GET", INSTANCE)
    assert missing.status_code == 404
    assert problem["title"] == "Resource Not Found"


async def test_patch_merge_field_renames_tag_and_keeps_values(account: Account) -> None:
    list_id = (await new_list(account))["id"]
    field = await _field(account, list_id, name="Plan", type="text", tag="PLAN")
    await account.post(
        f"/lists/{list_id}/members",
        json={
            "email_address": "ann.lee@example.com",
            "status": "subscribed",
            "merge_fields": {"PLAN": "gold"},
        },
    )
    response = await account.patch(
        f"/lists/{list_id}/merge-fields/{field['merge_id']}",
        json={"name": "Plan level", "tag": "level", "required": True},
    )
    body = assert_conforms(response, "PATCH", INSTANCE)
    assert body["tag"] == "LEVEL"
    assert body["name"] == "Plan level"
    assert body["required"] is True
    member = (await account.get(f"/lists/{list_id}/members/ann.lee@example.com")).json()
    assert member["merge_fields"]["LEVEL"] == "gold"
    assert "PLAN" not in member["merge_fields"]


async def test_patch_merge_field_errors(account: Account) -> None:
    list_id = (await new_list(account))["id"]
    no_name = await account.patch(f"/lists/{list_id}/merge-fields/1", json={"required": True})
    problem = assert_conforms(no_name, "PATCH", INSTANCE)
    assert no_name.status_code == 400
    assert problem["errors"][0]["message"] == "Required fields were not provided: name"
    clash = await account.patch(
        f"/lists/{list_id}/merge-fields/1", json={"name": "First", "tag": "LNAME"}
    )
    assert clash.status_code == 400
    missing = await account.patch(f"/lists/{list_id}/merge-fields/77", json={"name": "X"})
    assert missing.status_code == 404


async def test_delete_merge_field(account: Account) -> None:
    list_id = (await new_list(account))["id"]
    response = await account.delete(f"/lists/{list_id}/merge-fields/4")
    assert_conforms(response, "DELETE", INSTANCE)
    assert response.status_code == 204
    tags = [
        f["tag"]
        for f in (await account.get(f"/lists/{list_id}/merge-fields")).json()["merge_fields"]
    ]
    assert tags == ["FNAME", "LNAME", "ADDRESS"]
    again = await account.delete(f"/lists/{list_id}/merge-fields/4")
    problem = assert_conforms(again, "DELETE", INSTANCE)
    assert again.status_code == 404
    assert problem["title"] == "Resource Not Found"


# -- member values ---------------------------------------------------------------------


async def _add(account: Account, list_id: str, **merge_fields: Any) -> Any:
    return await account.post(
        f"/lists/{list_id}/members",
        json={
            "email_address": "ann.lee@example.com",
            "status": "subscribed",
            "merge_fields": merge_fields,
        },
    )


async def test_required_merge_field_is_enforced_unless_skipped(account: Account) -> None:
    list_id = (await new_list(account))["id"]
    await _field(account, list_id, name="Company", type="text", tag="COMPANY", required=True)
    response = await _add(account, list_id, FNAME="Ann")
    problem = assert_conforms(response, "POST", "/lists/{list_id}/members")
    assert response.status_code == 400
    assert problem["title"] == "Invalid Resource"
    assert problem["detail"] == "Your merge fields were invalid."
    assert problem["errors"] == [{"field": "COMPANY", "message": "Please enter a value"}]
    skipped = await account.post(
        f"/lists/{list_id}/members",
        params={"skip_merge_validation": "true"},
        json={"email_address": "ann.lee@example.com", "status": "subscribed"},
    )
    assert skipped.status_code == 200
    # Later writes check the result: the required value is still missing (§8.5).
    patched = await account.patch(
        f"/lists/{list_id}/members/ann.lee@example.com", json={"merge_fields": {"FNAME": "A"}}
    )
    assert patched.status_code == 400
    assert patched.json()["errors"] == [{"field": "COMPANY", "message": "Please enter a value"}]


@pytest.mark.parametrize(
    ("kind", "options", "good", "stored", "bad"),
    [
        ("number", {}, "42.5", "42.5", "forty"),
        ("number", {}, 7, 7, "7a"),
        ("number", {}, "-1e3", "-1e3", "NaN"),
        ("date", {}, "12/31/2024", "2024-12-31", "2024-13-01"),
        ("date", {}, "2024/02/29", "2024-02-29", "2023-02-29"),
        ("birthday", {}, "2/29", "02/29", "13/01"),
        ("zip", {}, "30308", "30308", "3030"),
        ("url", {}, "https://bakery.example.com", "https://bakery.example.com", "bakery"),
        ("dropdown", {"choices": ["S", "M"]}, "M", "M", "XL"),
        ("phone", {"phone_format": "US"}, "(404) 555-0100", "404-555-0100", "555-0100"),
    ],
)
async def test_merge_values_are_checked_by_type(
    account: Account,
    kind: str,
    options: dict[str, Any],
    good: Any,
    stored: Any,
    bad: Any,
) -> None:
    list_id = (await new_list(account))["id"]
    await _field(account, list_id, name="Value", type=kind, tag="VALUE", options=options)
    rejected = await _add(account, list_id, VALUE=bad)
    assert rejected.status_code == 400
    problem = rejected.json()
    assert problem["detail"] == "Your merge fields were invalid."
    assert problem["errors"][0]["field"] == "VALUE"
    accepted = await _add(account, list_id, VALUE=good)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["merge_fields"]["VALUE"] == stored


async def test_address_values_need_the_required_parts(account: Account) -> None:
    list_id = (await new_list(account))["id"]
    partial = await _add(account, list_id, ADDRESS={"addr1": "1 Flour St", "city": "Atlanta"})
    assert partial.status_code == 400
    assert partial.json()["errors"][0]["field"] == "ADDRESS"
    full = {"addr1": "1 Flour St", "city": "Atlanta", "state": "GA", "zip": "30308"}
    accepted = await _add(account, list_id, ADDRESS=full)
    assert accepted.status_code == 200
    assert accepted.json()["merge_fields"]["ADDRESS"] == {**full, "addr2": "", "country": ""}


async def test_wrong_json_kind_fails_the_schema_and_unknown_tags_are_ignored(
    account: Account,
) -> None:
    list_id = (await new_list(account))["id"]
    wrong = await _add(account, list_id, FNAME=None)
    assert wrong.status_code == 400
    assert wrong.json()["errors"] == [
        {
            "field": "merge_fields.FNAME",
            "message": "Data did not match any of the schemas described in anyOf.",
        }
    ]
    ignored = await _add(account, list_id, FNAME="Ann", NOSUCH="x")
    assert ignored.status_code == 200
    assert "NOSUCH" not in ignored.json()["merge_fields"]
    assert ignored.json()["full_name"] == "Ann"


async def test_long_text_is_truncated_to_255_bytes(account: Account) -> None:
    list_id = (await new_list(account))["id"]
    response = await _add(account, list_id, FNAME="é" * 200)
    assert response.status_code == 200
    assert len(response.json()["merge_fields"]["FNAME"].encode()) <= 255
