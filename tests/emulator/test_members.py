"""Members: create, get, upsert, update, archive, permanent delete, list filters,
compliance rules, fake addresses, tags and events."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest

from tests.conformance import assert_conforms
from tests.conftest import Account
from tests.emulator.test_lists import new_list

COLLECTION = "/lists/{list_id}/members"
MEMBER = "/lists/{list_id}/members/{subscriber_hash}"
TAGS = "/lists/{list_id}/members/{subscriber_hash}/tags"
EVENTS = "/lists/{list_id}/members/{subscriber_hash}/events"
DELETE_PERMANENT = "/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent"
ANN = "ann.lee@example.com"


def md5(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


async def _list(account: Account) -> str:
    list_id: str = (await new_list(account))["id"]
    return list_id


async def _add(account: Account, list_id: str, email: str = ANN, **body: Any) -> dict[str, Any]:
    response = await account.post(
        f"/lists/{list_id}/members",
        json={"email_address": email, "status": "subscribed", **body},
    )
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


# -- create and read ---------------------------------------------------------------------


async def test_post_member_creates_a_contact(account: Account) -> None:
    list_id = await _list(account)
    response = await account.post(
        f"/lists/{list_id}/members",
        json={
            "email_address": "Ann.Lee@example.com",
            "status": "subscribed",
            "merge_fields": {"FNAME": "Ann", "LNAME": "Lee"},
            "ip_signup": "2001:db8::1",
            "tags": ["vip", "bakery"],
            "vip": True,
        },
    )
    body = assert_conforms(response, "POST", COLLECTION)
    assert body["id"] == md5("ann.lee@example.com")
    assert body["email_address"] == "Ann.Lee@example.com"
    assert body["status"] == "subscribed"
    assert body["merge_fields"] == {"FNAME": "Ann", "LNAME": "Lee", "ADDRESS": "", "PHONE": ""}
    assert body["full_name"] == "Ann Lee"
    assert body["ip_signup"] == "2001:db8::1"
    assert body["timestamp_opt"] != ""
    assert body["vip"] is True
    assert body["tags_count"] == 2
    assert sorted(t["name"] for t in body["tags"]) == ["bakery", "vip"]
    assert body["list_id"] == list_id


async def test_post_existing_member_is_member_exists(account: Account) -> None:
    list_id = await _list(account)
    await _add(account, list_id)
    response = await account.post(
        f"/lists/{list_id}/members", json={"email_address": ANN, "status": "pending"}
    )
    problem = assert_conforms(response, "POST", COLLECTION)
    assert response.status_code == 400
    assert problem["title"] == "Member Exists"
    assert problem["detail"] == (
        f"{ANN} is already a list member. Use PUT to insert or update list members."
    )


async def test_post_member_schema_errors(account: Account) -> None:
    list_id = await _list(account)
    missing = await account.post(f"/lists/{list_id}/members", json={"email_address": ANN})
    problem = assert_conforms(missing, "POST", COLLECTION)
    assert problem["errors"] == [
        {"field": "", "message": "Required fields were not provided: status"}
    ]
    archived = await account.post(
        f"/lists/{list_id}/members", json={"email_address": ANN, "status": "archived"}
    )
    assert archived.status_code == 400
    assert archived.json()["errors"][0]["field"] == "status"
    bad_ip = await account.post(
        f"/lists/{list_id}/members",
        json={"email_address": ANN, "status": "subscribed", "ip_opt": "300.1.1.1"},
    )
    assert bad_ip.status_code == 400
    assert bad_ip.json()["errors"][0]["field"] == "ip_opt"
    unknown = await account.post(
        "/lists/0000000000/members", json={"email_address": ANN, "status": "subscribed"}
    )
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    "email",
    [
        "test@example.com",
        "test123@example.org",
        "fake@example.net",
        "asdf@shop.test",
        "noreply@example.com",
        "jane@yopmail.com",
        "real.person@mailinator.com",
        "no-at-sign.example.com",
        "two@@example.com",
        "a,b@example.com",
        "trailing.dot@example.com.",
        "someone@localhost",
    ],
)
async def test_fake_or_invalid_emails_are_rejected(account: Account, email: str) -> None:
    list_id = await _list(account)
    response = await account.post(
        f"/lists/{list_id}/members", json={"email_address": email, "status": "subscribed"}
    )
    problem = assert_conforms(response, "POST", COLLECTION)
    assert response.status_code == 400
    assert problem["title"] == "Invalid Resource"
    assert problem["detail"] == (
        f"{email} looks fake or invalid, please enter a real email address."
    )


@pytest.mark.parametrize(
    "email",
    [
        "jane.doe42@example.com",
        "contact-0007@example.org",
        "testa.rossi@example.net",
        "test@bakery.co.uk",
        "o'brien+news@shop.test",
    ],
)
async def test_realistic_emails_at_reserved_domains_are_accepted(
    account: Account, email: str
) -> None:
    list_id = await _list(account)
    response = await account.post(
        f"/lists/{list_id}/members", json={"email_address": email, "status": "subscribed"}
    )
    assert response.status_code == 200, response.text


async def test_get_member_by_hash_email_or_contact_id(account: Account) -> None:
    list_id = await _list(account)
    created = await _add(account, list_id)
    for key in (created["id"], ANN.upper(), created["contact_id"]):
        response = await account.get(f"/lists/{list_id}/members/{key}")
        body = assert_conforms(response, "GET", MEMBER)
        assert body["id"] == created["id"]
    missing = await account.get(f"/lists/{list_id}/members/{md5('nobody.here@example.com')}")
    problem = assert_conforms(missing, "GET", MEMBER)
    assert missing.status_code == 404
    assert problem["title"] == "Resource Not Found"
    assert (await account.get(f"/lists/0000000000/members/{created['id']}")).status_code == 404


async def test_fields_and_exclude_fields_apply_to_members(account: Account) -> None:
    list_id = await _list(account)
    created = await _add(account, list_id, merge_fields={"FNAME": "Ann"})
    only = (
        await account.get(
            f"/lists/{list_id}/members/{created['id']}",
            params={"fields": "email_address,merge_fields.FNAME"},
        )
    ).json()
    assert only == {"email_address": ANN, "merge_fields": {"FNAME": "Ann"}}
    listed = (
        await account.get(
            f"/lists/{list_id}/members", params={"exclude_fields": "members._links,_links"}
        )
    ).json()
    assert "_links" not in listed and "_links" not in listed["members"][0]


# -- upsert and update ---------------------------------------------------------------------


async def test_put_creates_with_status_if_new_then_updates(account: Account) -> None:
    list_id = await _list(account)
    path = f"/lists/{list_id}/members/{md5(ANN)}"
    created = await account.put(
        path,
        json={"email_address": ANN, "status_if_new": "pending", "merge_fields": {"FNAME": "A"}},
    )
    body = assert_conforms(created, "PUT", MEMBER)
    assert body["status"] == "pending"
    # status_if_new is ignored for an existing contact; status overwrites.
    again = await account.put(path, json={"email_address": ANN, "status_if_new": "subscribed"})
    assert again.json()["status"] == "pending"
    confirmed = await account.put(
        path, json={"email_address": ANN, "status": "subscribed", "merge_fields": {"LNAME": "L"}}
    )
    body = assert_conforms(confirmed, "PUT", MEMBER)
    assert body["status"] == "subscribed"
    assert body["merge_fields"]["FNAME"] == "A"
    assert body["merge_fields"]["LNAME"] == "L"


async def test_put_errors(account: Account) -> None:
    list_id = await _list(account)
    path = f"/lists/{list_id}/members/{md5(ANN)}"
    no_status = await account.put(path, json={"email_address": ANN})
    problem = assert_conforms(no_status, "PUT", MEMBER)
    assert no_status.status_code == 400
    assert problem["errors"] == [
        {"field": "", "message": "Required fields were not provided: status_if_new"}
    ]
    no_email = await account.put(path, json={"status_if_new": "subscribed"})
    assert no_email.status_code == 400
    assert no_email.json()["errors"][0]["message"] == (
        "Required fields were not provided: email_address"
    )
    mismatch = await account.put(
        path, json={"email_address": "bob.ray@example.com", "status_if_new": "subscribed"}
    )
    assert mismatch.status_code == 400
    assert mismatch.json()["errors"][0]["field"] == "email_address"
    by_email = await account.put(
        f"/lists/{list_id}/members/{ANN}",
        json={"email_address": ANN, "status_if_new": "transactional"},
    )
    assert by_email.json()["status"] == "transactional"


async def test_put_with_a_new_email_changes_the_address_in_place(account: Account) -> None:
    list_id = await _list(account)
    created = await _add(account, list_id, merge_fields={"FNAME": "Ann"})
    new_email = "ann.lee.new@example.com"
    response = await account.put(
        f"/lists/{list_id}/members/{created['id']}",
        json={"email_address": new_email, "status_if_new": "subscribed"},
    )
    body = assert_conforms(response, "PUT", MEMBER)
    assert body["email_address"] == new_email
    assert body["id"] == md5(new_email)
    assert body["contact_id"] == created["contact_id"]
    assert body["merge_fields"]["FNAME"] == "Ann"
    assert (await account.get(f"/lists/{list_id}/members/{created['id']}")).status_code == 404
    assert (await account.get(f"/lists/{list_id}/members/{new_email}")).status_code == 200
    by_contact = await account.get(f"/lists/{list_id}/members/{created['contact_id']}")
    assert by_contact.json()["email_address"] == new_email


async def test_email_change_to_a_taken_address_is_refused(account: Account) -> None:
    list_id = await _list(account)
    await _add(account, list_id)
    await _add(account, list_id, "bob.ray@example.com")
    response = await account.patch(
        f"/lists/{list_id}/members/{ANN}", json={"email_address": "bob.ray@example.com"}
    )
    problem = assert_conforms(response, "PATCH", MEMBER)
    assert response.status_code == 400
    assert problem["errors"] == [
        {
            "field": "email_address",
            "message": '"bob.ray@example.com" is already in this list with a status of '
            '"subscribed".',
        }
    ]


async def test_patch_updates_and_bumps_last_changed_only_on_change(account: Account) -> None:
    list_id = await _list(account)
    created = await _add(account, list_id)
    path = f"/lists/{list_id}/members/{created['id']}"
    same = await account.patch(path, json={"status": "subscribed"})
    assert same.json()["last_changed"] == created["last_changed"]
    await asyncio.sleep(1.05)  # last_changed has one-second resolution
    response = await account.patch(
        path, json={"merge_fields": {"FNAME": "Ann"}, "language": "fr", "email_type": "text"}
    )
    body = assert_conforms(response, "PATCH", MEMBER)
    assert body["merge_fields"]["FNAME"] == "Ann"
    assert body["language"] == "fr"
    assert body["email_type"] == "text"
    assert body["last_changed"] > created["last_changed"]
    bad = await account.patch(path, json={"email_type": "pdf"})
    assert bad.status_code == 400
    missing = await account.patch(f"/lists/{list_id}/members/{md5('x.y@example.com')}", json={})
    assert_conforms(missing, "PATCH", MEMBER)
    assert missing.status_code == 404


# -- compliance -------------------------------------------------------------------------------

COMPLIANCE_DETAIL = (
    "{email} is in a compliance state due to unsubscribe, bounce, or compliance review "
    "and cannot be subscribed."
)


@pytest.mark.parametrize("from_status", ["unsubscribed", "cleaned"])
async def test_unsubscribed_or_cleaned_cannot_be_subscribed_by_the_api(
    account: Account, from_status: str
) -> None:
    list_id = await _list(account)
    await _add(account, list_id, status=from_status)
    path = f"/lists/{list_id}/members/{md5(ANN)}"
    attempts = [
        account.patch(path, json={"status": "subscribed"}),
        account.put(path, json={"email_address": ANN, "status": "subscribed"}),
    ]
    for attempt in attempts:
        response = await attempt
        problem = assert_conforms(response, "PUT", MEMBER)
        assert response.status_code == 400
        assert problem["title"] == "Member In Compliance State"
        assert problem["detail"] == COMPLIANCE_DETAIL.format(email=ANN)
    assert (await account.get(path)).json()["status"] == from_status
    # pending is allowed: it only sends a confirmation the contact must click.
    pending = await account.patch(path, json={"status": "pending"})
    assert pending.status_code == 200
    assert pending.json()["status"] == "pending"


async def test_status_if_new_does_not_resubscribe_an_unsubscribed_contact(
    account: Account,
) -> None:
    list_id = await _list(account)
    await _add(account, list_id, status="unsubscribed")
    response = await account.put(
        f"/lists/{list_id}/members/{md5(ANN)}",
        json={"email_address": ANN, "status_if_new": "subscribed"},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "unsubscribed"


async def test_cleaned_members_cannot_be_edited(account: Account) -> None:
    list_id = await _list(account)
    await _add(account, list_id, status="cleaned")
    path = f"/lists/{list_id}/members/{md5(ANN)}"
    edit = await account.patch(path, json={"merge_fields": {"FNAME": "Ann"}})
    assert edit.status_code == 400
    assert edit.json()["title"] == "Invalid Resource"
    assert "cannot be edited" in edit.json()["detail"]
    rename = await account.patch(path, json={"email_address": "ann.new@example.com"})
    assert rename.status_code == 400
    assert rename.json()["detail"] == (
        'This member\'s status is "cleaned." You can only update email addresses for '
        'members with a status of "subscribed."'
    )
    unchanged = await account.put(path, json={"email_address": ANN, "status_if_new": "pending"})
    assert unchanged.status_code == 200


async def test_subscribed_contacts_can_unsubscribe_and_be_re_subscribed_only_via_pending(
    account: Account,
) -> None:
    list_id = await _list(account)
    await _add(account, list_id)
    path = f"/lists/{list_id}/members/{ANN}"
    assert (await account.patch(path, json={"status": "unsubscribed"})).status_code == 200
    assert (await account.patch(path, json={"status": "subscribed"})).status_code == 400


# -- archive and permanent delete -----------------------------------------------------------


async def test_delete_archives_and_put_re_adds(account: Account) -> None:
    list_id = await _list(account)
    await _add(account, list_id)
    path = f"/lists/{list_id}/members/{md5(ANN)}"
    response = await account.delete(path)
    assert_conforms(response, "DELETE", MEMBER)
    assert response.status_code == 204
    archived = await account.get(path)
    assert archived.json()["status"] == "archived"
    listed = (await account.get(f"/lists/{list_id}/members", params={"status": "archived"})).json()
    assert listed["total_items"] == 1
    exists = await account.post(
        f"/lists/{list_id}/members", json={"email_address": ANN, "status": "subscribed"}
    )
    assert exists.json()["title"] == "Member Exists"
    back = await account.put(path, json={"email_address": ANN, "status_if_new": "subscribed"})
    assert back.status_code == 200
    assert back.json()["status"] == "subscribed"


@pytest.mark.parametrize("status", ["pending", "cleaned", "archived"])
async def test_delete_refuses_bounced_pending_or_archived(account: Account, status: str) -> None:
    list_id = await _list(account)
    await _add(account, list_id, status="subscribed" if status == "archived" else status)
    path = f"/lists/{list_id}/members/{md5(ANN)}"
    if status == "archived":
        assert (await account.delete(path)).status_code == 204
    response = await account.delete(path)
    problem = assert_conforms(response, "DELETE", MEMBER)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PUT"
    assert problem["title"] == "Method Not Allowed"
    assert problem["detail"] == (
        "This list member cannot be removed. "
        "Can not archive a contact that is bounced, pending or archived"
    )


async def test_delete_permanent_forgets_the_address(account: Account) -> None:
    list_id = await _list(account)
    await _add(account, list_id)
    path = f"/lists/{list_id}/members/{md5(ANN)}"
    response = await account.post(f"{path}/actions/delete-permanent")
    assert_conforms(response, "POST", DELETE_PERMANENT)
    assert response.status_code == 204
    assert (await account.get(path)).status_code == 404
    expected = (
        f"{ANN} was permanently deleted and cannot be re-imported. "
        "The contact must re-subscribe to get back on the list."
    )
    for attempt in (
        account.post(
            f"/lists/{list_id}/members", json={"email_address": ANN, "status": "subscribed"}
        ),
        account.put(path, json={"email_address": ANN, "status_if_new": "pending"}),
    ):
        refused = await attempt
        assert refused.status_code == 400
        assert refused.json()["title"] == "Forgotten Email Not Subscribed"
        assert refused.json()["detail"] == expected
    again = await account.post(f"{path}/actions/delete-permanent")
    problem = assert_conforms(again, "POST", DELETE_PERMANENT)
    assert again.status_code == 404
    assert problem["title"] == "Resource Not Found"


# -- the collection ----------------------------------------------------------------------------


async def test_list_members_pages_default_10_max_1000(account: Account) -> None:
    list_id = await _list(account)
    members = [
        {"email_address": f"person.{i:03d}@example.com", "status": "subscribed"} for i in range(25)
    ]
    batch = await account.post(f"/lists/{list_id}", json={"members": members})
    assert batch.json()["total_created"] == 25
    response = await account.get(f"/lists/{list_id}/members")
    body = assert_conforms(response, "GET", COLLECTION)
    assert body["total_items"] == 25
    assert body["list_id"] == list_id
    assert len(body["members"]) == 10
    last = (await account.get(f"/lists/{list_id}/members", params={"offset": 20})).json()
    assert [m["email_address"] for m in last["members"]] == [
        f"person.{i:03d}@example.com" for i in range(20, 25)
    ]
    everything = (await account.get(f"/lists/{list_id}/members", params={"count": 1000})).json()
    assert len(everything["members"]) == 25
    too_many = await account.get(f"/lists/{list_id}/members", params={"count": 1001})
    problem = assert_conforms(too_many, "GET", COLLECTION)
    assert too_many.status_code == 400
    assert problem["errors"][0]["field"] == "count"
    missing = await account.get("/lists/0000000000/members")
    assert missing.status_code == 404


async def test_list_members_filters(account: Account) -> None:
    list_id = await _list(account)
    await _add(account, list_id, "ann.lee@example.com")
    await _add(account, list_id, "bob.ray@example.com", status="unsubscribed")
    await _add(account, list_id, "cy.dale@example.com", vip=True, email_type="text")
    subscribed = (
        await account.get(f"/lists/{list_id}/members", params={"status": "subscribed"})
    ).json()
    assert {m["email_address"] for m in subscribed["members"]} == {
        "ann.lee@example.com",
        "cy.dale@example.com",
    }
    assert subscribed["total_items"] == 2
    vip = (await account.get(f"/lists/{list_id}/members", params={"vip_only": "true"})).json()
    assert [m["email_address"] for m in vip["members"]] == ["cy.dale@example.com"]
    text = (await account.get(f"/lists/{list_id}/members", params={"email_type": "text"})).json()
    assert text["total_items"] == 1
    bad = await account.get(f"/lists/{list_id}/members", params={"status": "happy"})
    assert bad.status_code == 400
    bad_time = await account.get(
        f"/lists/{list_id}/members", params={"since_last_changed": "yesterday"}
    )
    assert bad_time.status_code == 400
    assert bad_time.json()["errors"][0]["field"] == "since_last_changed"


async def test_since_last_changed_returns_only_recent_changes(account: Account) -> None:
    list_id = await _list(account)
    old = await _add(account, list_id, "ann.lee@example.com")
    await _add(account, list_id, "bob.ray@example.com")
    await asyncio.sleep(1.05)
    changed = await account.patch(
        f"/lists/{list_id}/members/bob.ray@example.com", json={"merge_fields": {"FNAME": "Bob"}}
    )
    mark = changed.json()["last_changed"]
    assert mark > old["last_changed"]
    recent = (
        await account.get(
            f"/lists/{list_id}/members",
            params={"since_last_changed": mark, "sort_field": "last_changed"},
        )
    ).json()
    assert [m["email_address"] for m in recent["members"]] == ["bob.ray@example.com"]
    before = (
        await account.get(f"/lists/{list_id}/members", params={"before_last_changed": mark})
    ).json()
    assert [m["email_address"] for m in before["members"]] == ["ann.lee@example.com"]
    newest_first = (
        await account.get(
            f"/lists/{list_id}/members", params={"sort_field": "last_changed", "sort_dir": "DESC"}
        )
    ).json()
    assert newest_first["members"][0]["email_address"] == "bob.ray@example.com"


# -- tags --------------------------------------------------------------------------------------


async def test_member_tags_add_remove_and_list(account: Account) -> None:
    list_id = await _list(account)
    created = await _add(account, list_id)
    path = f"/lists/{list_id}/members/{created['id']}/tags"
    response = await account.post(
        path,
        json={
            "tags": [
                {"name": "Wholesale", "status": "active"},
                {"name": "Gold", "status": "active"},
            ],
            "is_syncing": True,
        },
    )
    assert_conforms(response, "POST", TAGS)
    assert response.status_code == 204
    listed = await account.get(path)
    body = assert_conforms(listed, "GET", TAGS)
    assert body["total_items"] == 2
    assert [t["name"] for t in body["tags"]] == ["Wholesale", "Gold"]
    assert all(isinstance(t["id"], int) and t["date_added"] for t in body["tags"])
    await account.post(path, json={"tags": [{"name": "wholesale", "status": "inactive"}]})
    member = (await account.get(f"/lists/{list_id}/members/{created['id']}")).json()
    assert [t["name"] for t in member["tags"]] == ["Gold"]
    # A tag name keeps its list-wide id across members.
    other = await _add(account, list_id, "bob.ray@example.com", tags=["Gold"])
    assert other["tags"][0]["id"] == member["tags"][0]["id"]
    paged = (await account.get(path, params={"count": 1})).json()
    assert paged["total_items"] == 1


async def test_member_tags_errors(account: Account) -> None:
    list_id = await _list(account)
    created = await _add(account, list_id)
    path = f"/lists/{list_id}/members/{created['id']}/tags"
    bad = await account.post(path, json={"tags": [{"name": "X", "status": "on"}]})
    problem = assert_conforms(bad, "POST", TAGS)
    assert bad.status_code == 400
    assert problem["title"] == "Invalid Resource"
    empty = await account.post(path, json={"tags": [{"name": " ", "status": "active"}]})
    assert empty.status_code == 400
    missing = await account.get(f"/lists/{list_id}/members/{md5('x.y@example.com')}/tags")
    assert_conforms(missing, "GET", TAGS)
    assert missing.status_code == 404


# -- events ------------------------------------------------------------------------------------


async def test_member_events_are_recorded_and_listed(account: Account) -> None:
    list_id = await _list(account)
    created = await _add(account, list_id)
    path = f"/lists/{list_id}/members/{created['id']}/events"
    response = await account.post(
        path,
        json={
            "name": "bought_bread",
            "properties": {"loaf": "sourdough"},
            "occurred_at": "2024-05-01T12:00:00Z",
            "is_syncing": True,
        },
    )
    assert_conforms(response, "POST", EVENTS)
    assert response.status_code == 204
    assert (await account.post(path, json={"name": "visited"})).status_code == 204
    listed = await account.get(path)
    body = assert_conforms(listed, "GET", EVENTS)
    assert body["total_items"] == 2
    assert [e["name"] for e in body["events"]] == ["visited", "bought_bread"]
    assert body["events"][1]["properties"] == {"loaf": "sourdough"}
    assert body["events"][1]["occurred_at"] == "2024-05-01T12:00:00+00:00"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x"},
        {"name": "a" * 31},
        {"name": "has space"},
        {"name": "ok_name", "occurred_at": "later"},
        {"name": "ok_name", "occurred_at": "9999-12-31T23:59:59-01:00"},
        {"name": "ok_name", "properties": {"n": 1}},
        {},
    ],
)
async def test_member_event_validation(account: Account, body: dict[str, Any]) -> None:
    list_id = await _list(account)
    created = await _add(account, list_id)
    response = await account.post(f"/lists/{list_id}/members/{created['id']}/events", json=body)
    problem = assert_conforms(response, "POST", EVENTS)
    assert response.status_code == 400
    assert problem["title"] == "Invalid Resource"


async def test_member_events_of_unknown_member_is_404(account: Account) -> None:
    list_id = await _list(account)
    response = await account.get(f"/lists/{list_id}/members/{md5('x.y@example.com')}/events")
    assert_conforms(response, "GET", EVENTS)
    assert response.status_code == 404
