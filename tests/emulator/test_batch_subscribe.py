"""Batch subscribe or unsubscribe, POST /lists/{list_id}: ≤500 members, per-member errors."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from chimplink.emulator import create_app
from chimplink.emulator.members import batch
from tests.conformance import assert_conforms
from tests.conftest import Account, Emulator
from tests.emulator.test_lists import new_list

BATCH = "/lists/{list_id}"


def _member(email: str, status: str = "subscribed", **extra: Any) -> dict[str, Any]:
    return {"email_address": email, "status": status, **extra}


async def _list(account: Account) -> str:
    list_id: str = (await new_list(account))["id"]
    return list_id


async def test_batch_creates_members_and_counts(account: Account) -> None:
    list_id = await _list(account)
    response = await account.post(
        f"/lists/{list_id}",
        json={
            "members": [
                _member("ann.lee@example.com", merge_fields={"FNAME": "Ann"}),
                _member("bob.ray@example.com", "pending"),
                _member("cy.dale@example.com", "transactional"),
            ]
        },
    )
    body = assert_conforms(response, "POST", BATCH)
    assert body["total_created"] == 3
    assert body["total_updated"] == 0
    assert body["error_count"] == 0
    assert body["errors"] == []
    assert [m["email_address"] for m in body["new_members"]] == [
        "ann.lee@example.com",
        "bob.ray@example.com",
        "cy.dale@example.com",
    ]
    assert body["new_members"][0]["merge_fields"]["FNAME"] == "Ann"
    assert {link["rel"] for link in body["_links"]} >= {"self"}
    listed = (await account.get(f"/lists/{list_id}/members")).json()
    assert listed["total_items"] == 3


async def test_existing_members_are_errors_without_update_existing(account: Account) -> None:
    list_id = await _list(account)
    await account.post(f"/lists/{list_id}", json={"members": [_member("ann.lee@example.com")]})
    response = await account.post(
        f"/lists/{list_id}",
        json={
            "members": [_member("ann.lee@example.com", "unsubscribed"), _member("bo.b@example.com")]
        },
    )
    body = assert_conforms(response, "POST", BATCH)
    assert body["total_created"] == 1
    assert body["error_count"] == 1
    assert body["errors"] == [
        {
            "email_address": "ann.lee@example.com",
            "error": "ann.lee@example.com is already a list member, do you want to update? "
            "please provide update_existing:true in the request body",
            "error_code": "ERROR_CONTACT_EXISTS",
            "field": "",
            "field_message": "",
        }
    ]
    member = (await account.get(f"/lists/{list_id}/members/ann.lee@example.com")).json()
    assert member["status"] == "subscribed"


async def test_update_existing_updates_members(account: Account) -> None:
    list_id = await _list(account)
    await account.post(f"/lists/{list_id}", json={"members": [_member("ann.lee@example.com")]})
    response = await account.post(
        f"/lists/{list_id}",
        json={
            "members": [
                _member("ann.lee@example.com", "unsubscribed", merge_fields={"LNAME": "Lee"}),
                _member("new.one@example.com"),
            ],
            "update_existing": True,
        },
    )
    body = assert_conforms(response, "POST", BATCH)
    assert body["total_created"] == 1
    assert body["total_updated"] == 1
    assert body["updated_members"][0]["status"] == "unsubscribed"
    assert body["updated_members"][0]["merge_fields"]["LNAME"] == "Lee"


async def test_per_member_rule_errors_do_not_fail_the_call(account: Account) -> None:
    list_id = await _list(account)
    await account.post(
        f"/lists/{list_id}/merge-fields",
        json={"name": "Size", "type": "dropdown", "tag": "SIZE", "options": {"choices": ["S"]}},
    )
    await account.post(
        f"/lists/{list_id}", json={"members": [_member("gone.away@example.com", "unsubscribed")]}
    )
    response = await account.post(
        f"/lists/{list_id}",
        json={
            "members": [
                _member("test@example.com"),
                _member("gone.away@example.com"),
                _member("size.wrong@example.com", merge_fields={"SIZE": "XL"}),
                {"email_address": "no.status@example.com"},
                _member("fine.person@example.com"),
            ],
            "update_existing": True,
        },
    )
    body = assert_conforms(response, "POST", BATCH)
    assert response.status_code == 200
    assert body["total_created"] == 1
    assert body["total_updated"] == 0
    assert body["error_count"] == 4
    by_email = {e["email_address"]: e for e in body["errors"]}
    assert by_email["test@example.com"]["error"] == (
        "test@example.com looks fake or invalid, please enter a real email address."
    )
    assert by_email["gone.away@example.com"]["error"] == (
        "gone.away@example.com is in a compliance state due to unsubscribe, bounce, or "
        "compliance review and cannot be subscribed."
    )
    size = by_email["size.wrong@example.com"]
    assert size["error"] == "Your merge fields were invalid."
    assert size["field"] == "SIZE"
    assert size["field_message"].startswith("Please choose one of")
    assert size["error_code"] == "ERROR_GENERIC"
    assert by_email["no.status@example.com"]["error"] == (
        "Required fields were not provided: status"
    )


async def test_skip_merge_validation_applies_per_call(account: Account) -> None:
    list_id = await _list(account)
    await account.post(
        f"/lists/{list_id}/merge-fields",
        json={"name": "Company", "type": "text", "tag": "COMPANY", "required": True},
    )
    strict = await account.post(
        f"/lists/{list_id}", json={"members": [_member("ann.lee@example.com")]}
    )
    assert strict.json()["errors"][0]["field"] == "COMPANY"
    assert strict.json()["errors"][0]["field_message"] == "Please enter a value"
    relaxed = await account.post(
        f"/lists/{list_id}",
        params={"skip_merge_validation": "true"},
        json={"members": [_member("ann.lee@example.com")]},
    )
    assert relaxed.json()["total_created"] == 1


async def test_duplicates_in_one_request(account: Account) -> None:
    list_id = await _list(account)
    members = [_member("ann.lee@example.com", "pending"), _member("Ann.Lee@example.com")]
    response = await account.post(f"/lists/{list_id}", json={"members": members})
    body = response.json()
    assert body["total_created"] == 1
    assert body["error_count"] == 1
    assert body["errors"][0]["email_address"] == "Ann.Lee@example.com"
    other = await _list(account)
    skipped = await account.post(
        f"/lists/{other}", params={"skip_duplicate_check": "true"}, json={"members": members}
    )
    body = skipped.json()
    assert body["total_created"] == 1
    assert body["error_count"] == 0
    assert body["new_members"][0]["status"] == "pending"


async def test_sync_tags_replaces_tags_of_existing_members(account: Account) -> None:
    list_id = await _list(account)
    await account.post(
        f"/lists/{list_id}",
        json={"members": [_member("ann.lee@example.com", tags=["old", "keep"])]},
    )
    added = await account.post(
        f"/lists/{list_id}",
        json={
            "members": [{"email_address": "ann.lee@example.com", "tags": ["extra"]}],
            "update_existing": True,
        },
    )
    assert sorted(t["name"] for t in added.json()["updated_members"][0]["tags"]) == [
        "extra",
        "keep",
        "old",
    ]
    synced = await account.post(
        f"/lists/{list_id}",
        json={
            "members": [{"email_address": "ann.lee@example.com", "tags": ["keep", "new"]}],
            "update_existing": True,
            "sync_tags": True,
        },
    )
    assert sorted(t["name"] for t in synced.json()["updated_members"][0]["tags"]) == [
        "keep",
        "new",
    ]


async def test_more_than_500_members_is_400(account: Account) -> None:
    list_id = await _list(account)
    members = [_member(f"person.{i}@example.com") for i in range(501)]
    response = await account.post(f"/lists/{list_id}", json={"members": members})
    problem = assert_conforms(response, "POST", BATCH)
    assert response.status_code == 400
    assert problem["title"] == "Invalid Resource"
    assert "at most 500 members" in problem["detail"]
    assert "501" in problem["detail"]
    assert (await account.get(f"/lists/{list_id}/members")).json()["total_items"] == 0
    exactly = await account.post(f"/lists/{list_id}", json={"members": members[:500]})
    assert exactly.json()["total_created"] == 500


async def test_batch_schema_errors_fail_the_whole_call(account: Account) -> None:
    list_id = await _list(account)
    missing = await account.post(f"/lists/{list_id}", json={"update_existing": True})
    problem = assert_conforms(missing, "POST", BATCH)
    assert problem["errors"] == [
        {"field": "", "message": "Required fields were not provided: members"}
    ]
    bad_status = await account.post(
        f"/lists/{list_id}", json={"members": [_member("ann.lee@example.com", "archived")]}
    )
    assert bad_status.status_code == 400
    assert bad_status.json()["errors"][0]["field"] == "members.0.status"
    not_a_list = await account.post(f"/lists/{list_id}", json={"members": "ann"})
    assert not_a_list.status_code == 400
    unknown = await account.post("/lists/0000000000", json={"members": []})
    assert_conforms(unknown, "POST", BATCH)
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("hold_s", "order"), [(0.0, ["ping", "batch"]), (3600.0, ["batch", "ping"])]
)
async def test_a_long_batch_lets_other_requests_in(
    monkeypatch: pytest.MonkeyPatch, hold_s: float, order: list[str]
) -> None:
    """Mailchimp serves an account's connections in parallel: a request that comes
    in while a 500-member call is being worked through is answered between its
    slices. (hold_s=3600, no slices: it waits for the whole call.)"""
    monkeypatch.setattr(batch, "MAX_HOLD_S", hold_s)
    app = create_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mailchimp.test"
    ) as client:
        account = await Emulator(app, client, "http://mailchimp.test", "inprocess").account()
        list_id = await _list(account)
        members = [_member(f"person.{i}@example.com") for i in range(500)]
        finished: list[str] = []

        async def call(name: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
            response = await account.request(method, path, **kwargs)
            finished.append(name)
            return response

        subscribed, ping = await asyncio.gather(
            call("batch", "POST", f"/lists/{list_id}", json={"members": members}),
            call("ping", "GET", "/ping"),
        )
    await app.aclose()
    assert finished == order
    assert ping.status_code == 200
    assert subscribed.json()["total_created"] == 500
