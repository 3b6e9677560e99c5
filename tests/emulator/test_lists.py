"""Audiences (lists): create, list, get, update, delete, stats, default merge fields."""

from __future__ import annotations

import copy
from typing import Any

from tests.conformance import assert_conforms
from tests.conftest import Account

LIST_BODY: dict[str, Any] = {
    "name": "Bakery Customers",
    "contact": {
        "company": "Bakery",
        "address1": "1 Flour Street",
        "city": "Atlanta",
        "state": "GA",
        "zip": "30308",
        "country": "US",
    },
    "permission_reminder": "You bought bread from us.",
    "campaign_defaults": {
        "from_name": "Bakery",
        "from_email": "news@bakery.example.com",
        "subject": "Fresh bread",
        "language": "en",
    },
    "email_type_option": False,
}


async def new_list(account: Account, **overrides: Any) -> dict[str, Any]:
    """Create an audience and return its body (shared by the members' tests)."""
    body = {**copy.deepcopy(LIST_BODY), **overrides}
    response = await account.post("/lists", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_create_list_returns_the_audience_with_stats(account: Account) -> None:
    response = await account.post("/lists", json={**LIST_BODY, "double_optin": True})
    body = assert_conforms(response, "POST", "/lists")
    assert response.status_code == 200
    assert len(body["id"]) == 10
    assert body["name"] == "Bakery Customers"
    assert body["double_optin"] is True
    assert body["contact"]["address2"] == ""
    assert body["campaign_defaults"]["from_email"] == "news@bakery.example.com"
    assert body["stats"]["member_count"] == 0
    assert body["stats"]["merge_field_count"] == 4
    assert {link["rel"] for link in body["_links"]} >= {"self", "parent", "update", "delete"}


async def test_new_audience_has_the_default_merge_fields(account: Account) -> None:
    created = await new_list(account)
    fields = (await account.get(f"/lists/{created['id']}/merge-fields")).json()
    found = {f["tag"]: (f["merge_id"], f["type"]) for f in fields["merge_fields"]}
    assert found == {
        "FNAME": (1, "text"),
        "LNAME": (2, "text"),
        "ADDRESS": (3, "address"),
        "PHONE": (4, "phone"),
    }


async def test_create_list_missing_required_fields_is_invalid_resource(account: Account) -> None:
    body = {k: v for k, v in LIST_BODY.items() if k not in ("name", "permission_reminder")}
    response = await account.post("/lists", json=body)
    problem = assert_conforms(response, "POST", "/lists")
    assert response.status_code == 400
    assert problem["title"] == "Invalid Resource"
    assert problem["errors"][0]["field"] == ""
    message = problem["errors"][0]["message"]
    assert message.startswith("Required fields were not provided:")
    assert "name" in message and "permission_reminder" in message


async def test_create_list_rejects_bad_contact_and_sender(account: Account) -> None:
    no_city = copy.deepcopy(LIST_BODY)
    del no_city["contact"]["city"]
    response = await account.post("/lists", json=no_city)
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "field": "contact",
        "message": "Required fields were not provided: city",
    }
    bad_sender = copy.deepcopy(LIST_BODY)
    bad_sender["campaign_defaults"]["from_email"] = "not-an-email"
    response = await account.post("/lists", json=bad_sender)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "campaign_defaults.from_email"


async def test_create_list_malformed_json_is_a_parse_error(account: Account) -> None:
    response = await account.post(
        "/lists", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    problem = assert_conforms(response, "POST", "/lists")
    assert response.status_code == 400
    assert problem["title"] == "JSON Parse Exception"
    wrong_type = await account.post("/lists", json={**LIST_BODY, "email_type_option": "yes"})
    assert wrong_type.status_code == 400
    assert wrong_type.json()["errors"] == [
        {"field": "email_type_option", "message": "Schema describes boolean, string found instead"}
    ]


async def test_list_lists_pages_and_reports_constraints(account: Account) -> None:
    ids = [(await new_list(account, name=f"Audience {i}"))["id"] for i in range(3)]
    response = await account.get("/lists")
    body = assert_conforms(response, "GET", "/lists")
    assert body["total_items"] == 3
    assert [lst["id"] for lst in body["lists"]] == ids
    assert body["constraints"]["may_create"] is True
    assert body["constraints"]["current_total_instances"] == 3
    second = (await account.get("/lists", params={"count": 1, "offset": 1})).json()
    assert [lst["id"] for lst in second["lists"]] == ids[1:2]
    assert second["total_items"] == 3
    newest_first = (
        await account.get("/lists", params={"sort_field": "date_created", "sort_dir": "DESC"})
    ).json()
    assert len(newest_first["lists"]) == 3


async def test_list_lists_count_above_1000_is_rejected(account: Account) -> None:
    response = await account.get("/lists", params={"count": 1001})
    problem = assert_conforms(response, "GET", "/lists")
    assert response.status_code == 400
    assert problem["title"] == "Invalid Resource"
    assert problem["errors"][0]["field"] == "count"


async def test_list_lists_filters_by_member_email(account: Account) -> None:
    with_member = await new_list(account, name="With")
    await new_list(account, name="Without")
    added = await account.post(
        f"/lists/{with_member['id']}/members",
        json={"email_address": "ann.lee@example.com", "status": "subscribed"},
    )
    assert added.status_code == 200
    body = (await account.get("/lists", params={"email": "Ann.Lee@example.com"})).json()
    assert [lst["id"] for lst in body["lists"]] == [with_member["id"]]
    assert body["total_items"] == 1


async def test_get_list_and_unknown_list(account: Account) -> None:
    created = await new_list(account)
    response = await account.get(f"/lists/{created['id']}")
    body = assert_conforms(response, "GET", "/lists/{list_id}")
    assert body["id"] == created["id"]
    missing = await account.get("/lists/0000000000")
    problem = assert_conforms(missing, "GET", "/lists/{list_id}")
    assert missing.status_code == 404
    assert problem["title"] == "Resource Not Found"
    assert problem["detail"] == "The requested resource could not be found."


async def test_lists_are_private_to_their_account(account: Account) -> None:
    created = await new_list(account)
    other = await account.emulator.account("Other Co")
    response = await other.get(f"/lists/{created['id']}")
    assert response.status_code == 404


async def test_patch_list_updates_given_fields_only(account: Account) -> None:
    created = await new_list(account)
    response = await account.patch(
        f"/lists/{created['id']}", json={"name": "Renamed", "double_optin": True}
    )
    body = assert_conforms(response, "PATCH", "/lists/{list_id}")
    assert body["name"] == "Renamed"
    assert body["double_optin"] is True
    assert body["permission_reminder"] == LIST_BODY["permission_reminder"]
    again = (await account.get(f"/lists/{created['id']}")).json()
    assert again["name"] == "Renamed"


async def test_patch_list_errors(account: Account) -> None:
    created = await new_list(account)
    bad = await account.patch(f"/lists/{created['id']}", json={"double_optin": "yes"})
    problem = assert_conforms(bad, "PATCH", "/lists/{list_id}")
    assert bad.status_code == 400
    assert problem["errors"][0]["field"] == "double_optin"
    partial_contact = await account.patch(
        f"/lists/{created['id']}", json={"contact": {"city": "Macon"}}
    )
    assert partial_contact.status_code == 400
    missing = await account.patch("/lists/0000000000", json={"name": "x"})
    assert_conforms(missing, "PATCH", "/lists/{list_id}")
    assert missing.status_code == 404


async def test_delete_list_removes_it_with_its_members(account: Account) -> None:
    created = await new_list(account)
    list_id = created["id"]
    await account.post(
        f"/lists/{list_id}/members",
        json={"email_address": "ann.lee@example.com", "status": "subscribed"},
    )
    response = await account.delete(f"/lists/{list_id}")
    assert_conforms(response, "DELETE", "/lists/{list_id}")
    assert response.status_code == 204
    assert (await account.get(f"/lists/{list_id}")).status_code == 404
    assert (await account.get(f"/lists/{list_id}/members")).status_code == 404
    assert (await account.get("/")).json()["total_subscribers"] == 0
    again = await account.delete(f"/lists/{list_id}")
    problem = assert_conforms(again, "DELETE", "/lists/{list_id}")
    assert again.status_code == 404
    assert problem["title"] == "Resource Not Found"


async def test_stats_count_members_by_status(account: Account) -> None:
    created = await new_list(account)
    list_id = created["id"]
    for email, status in (
        ("ann.lee@example.com", "subscribed"),
        ("bob.ray@example.com", "subscribed"),
        ("cy.dale@example.com", "unsubscribed"),
        ("di.moss@example.com", "pending"),
        ("ed.fox@example.com", "cleaned"),
    ):
        response = await account.post(
            f"/lists/{list_id}/members", json={"email_address": email, "status": status}
        )
        assert response.status_code == 200, response.text
    await account.delete(f"/lists/{list_id}/members/bob.ray@example.com")
    stats = (await account.get(f"/lists/{list_id}")).json()["stats"]
    assert stats["member_count"] == 1
    assert stats["unsubscribe_count"] == 1
    assert stats["cleaned_count"] == 1
    assert stats["total_contacts"] == 4
    assert stats["last_sub_date"] != ""
    assert (await account.get("/")).json()["total_subscribers"] == 1


async def test_wrong_method_on_a_list_is_405(account: Account) -> None:
    created = await new_list(account)
    response = await account.put(f"/lists/{created['id']}", json={})
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "PATCH", "DELETE", "POST"}
