"""Control plane subscriber actions (what a contact or an admin does in Mailchimp's UI),
and the webhook event data the member writes produce (REFERENCE.md §4.1)."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from chimplink.emulator.members.events import for_outcome
from chimplink.emulator.members.models import Member
from chimplink.emulator.members.writes import Outcome
from chimplink.emulator.merge_fields.models import MergeField
from tests.conftest import Account, Emulator
from tests.emulator.test_lists import new_list

ANN = "ann.lee@example.com"


def md5(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


async def _setup(account: Account, status: str = "subscribed") -> str:
    list_id: str = (await new_list(account))["id"]
    response = await account.post(
        f"/lists/{list_id}/members",
        json={"email_address": ANN, "status": status, "merge_fields": {"FNAME": "Ann"}},
    )
    assert response.status_code == 200, response.text
    return list_id


async def _act(emulator: Emulator, list_id: str, key: str, **body: Any) -> httpx.Response:
    return await emulator.client.post(
        f"/_emulator/lists/{list_id}/members/{key}/actions", json=body
    )


async def test_user_unsubscribes_then_the_api_cannot_resubscribe(
    emulator: Emulator, account: Account
) -> None:
    list_id = await _setup(account)
    member = await emulator.control.action(list_id, md5(ANN), action="unsubscribe")
    assert member["status"] == "unsubscribed"
    assert member["email_address"] == ANN
    api = await account.patch(f"/lists/{list_id}/members/{md5(ANN)}", json={"status": "subscribed"})
    assert api.status_code == 400
    assert api.json()["title"] == "Member In Compliance State"
    stats = (await account.get(f"/lists/{list_id}")).json()["stats"]
    assert stats["unsubscribe_count"] == 1


async def test_admin_unsubscribe_records_a_reason(emulator: Emulator, account: Account) -> None:
    list_id = await _setup(account)
    member = await emulator.control.action(
        list_id, ANN, action="unsubscribe", source="admin", reason="Asked by phone"
    )
    assert member["unsubscribe_reason"] == "Asked by phone"


async def test_a_contact_may_resubscribe_itself_but_an_admin_may_not(
    emulator: Emulator, account: Account
) -> None:
    list_id = await _setup(account, status="unsubscribed")
    admin = await _act(emulator, list_id, md5(ANN), action="subscribe", source="admin")
    assert admin.status_code == 400
    assert admin.json()["title"] == "Member In Compliance State"
    user = await emulator.control.action(list_id, md5(ANN), action="subscribe", source="user")
    assert user["status"] == "subscribed"
    assert user["timestamp_opt"] != ""


async def test_update_profile_changes_merge_fields(emulator: Emulator, account: Account) -> None:
    list_id = await _setup(account)
    member = await emulator.control.action(
        list_id, md5(ANN), action="update_profile", merge_fields={"LNAME": "Lee"}
    )
    assert member["merge_fields"]["FNAME"] == "Ann"
    assert member["merge_fields"]["LNAME"] == "Lee"
    api = (await account.get(f"/lists/{list_id}/members/{md5(ANN)}")).json()
    assert api["full_name"] == "Ann Lee"
    assert api["last_changed"] >= member["last_changed"]
    bad = await _act(emulator, list_id, md5(ANN), action="update_profile", merge_fields={})
    assert bad.status_code == 400


async def test_change_email_moves_the_contact(emulator: Emulator, account: Account) -> None:
    list_id = await _setup(account)
    original = (await account.get(f"/lists/{list_id}/members/{md5(ANN)}")).json()
    new_email = "ann.lee@bakery.co.uk"
    member = await emulator.control.action(
        list_id, md5(ANN), action="change_email", new_email=new_email
    )
    assert member["email_address"] == new_email
    assert member["id"] == md5(new_email)
    assert member["contact_id"] == original["contact_id"]
    assert (await account.get(f"/lists/{list_id}/members/{md5(ANN)}")).status_code == 404
    assert (await account.get(f"/lists/{list_id}/members/{md5(new_email)}")).status_code == 200
    fake = await _act(
        emulator, list_id, md5(new_email), action="change_email", new_email="test@example.com"
    )
    assert fake.status_code == 400
    assert fake.json()["detail"] == (
        "test@example.com looks fake or invalid, please enter a real email address."
    )
    missing = await _act(emulator, list_id, md5(new_email), action="change_email")
    assert missing.status_code == 400


async def test_clean_marks_the_contact_cleaned(emulator: Emulator, account: Account) -> None:
    list_id = await _setup(account)
    member = await emulator.control.action(list_id, md5(ANN), action="clean", reason="hard")
    assert member["status"] == "cleaned"
    edit = await account.patch(
        f"/lists/{list_id}/members/{md5(ANN)}", json={"merge_fields": {"FNAME": "X"}}
    )
    assert edit.status_code == 400
    bad_reason = await _act(emulator, list_id, md5(ANN), action="clean", reason="soft")
    assert bad_reason.status_code == 400


async def test_bad_action_unknown_list_or_member(emulator: Emulator, account: Account) -> None:
    list_id = await _setup(account)
    bad = await _act(emulator, list_id, md5(ANN), action="explode")
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    detail = bad.json()["detail"]
    for action in ("unsubscribe", "update_profile", "change_email", "clean", "subscribe"):
        assert action in detail
    bad_source = await _act(emulator, list_id, md5(ANN), action="clean", source="api")
    assert bad_source.status_code == 400
    unknown_list = await _act(emulator, "0000000000", md5(ANN), action="unsubscribe")
    assert unknown_list.status_code == 404
    assert unknown_list.json()["title"] == "Resource Not Found"
    unknown_member = await _act(emulator, list_id, md5("no.one@example.com"), action="clean")
    assert unknown_member.status_code == 404
    not_json = await emulator.client.post(
        f"/_emulator/lists/{list_id}/members/{md5(ANN)}/actions", content=b"{"
    )
    assert not_json.status_code == 400
    assert not_json.json()["title"] == "JSON Parse Exception"


# -- webhook event data (the deliverer wraps each key as data[<key>]) ------------------------


def _fields() -> list[MergeField]:
    return [
        MergeField(merge_id=1, tag="FNAME", name="First Name", type="text", list_id="l1"),
        MergeField(merge_id=3, tag="ADDRESS", name="Address", type="address", list_id="l1"),
    ]


def _member(**extra: Any) -> Member:
    base: dict[str, Any] = {
        "id": md5(ANN),
        "email_address": ANN,
        "unique_email_id": "8a25ff1d98",
        "contact_id": "c" * 32,
        "web_id": 123,
        "status": "subscribed",
        "merge_fields": {
            "FNAME": "Ann",
            "ADDRESS": {"addr1": "1 St", "city": "Atlanta", "state": "GA", "zip": "30308"},
        },
        "ip_opt": "10.20.10.30",
        "ip_signup": "10.20.10.30",
        "list_id": "l1",
    }
    return Member(**{**base, **extra})


def test_subscribe_event_data_uses_mailchimps_keys() -> None:
    events = for_outcome(
        Outcome(_member(), created=True, changed=True),
        account_id="a1",
        fields=_fields(),
        source="api",
    )
    assert [e.type for e in events] == ["subscribe"]
    event = events[0]
    assert event.source == "api"
    assert len(event.fired_at) == 19 and event.fired_at[10] == " "
    assert event.data["id"] == "8a25ff1d98"
    assert event.data["list_id"] == "l1"
    assert event.data["email"] == ANN
    assert event.data["email_type"] == "html"
    assert event.data["merges][EMAIL"] == ANN
    assert event.data["merges][FNAME"] == "Ann"
    assert event.data["merges][ADDRESS][city"] == "Atlanta"
    assert event.data["ip_opt"] == "10.20.10.30"
    assert event.data["ip_signup"] == "10.20.10.30"


def test_email_change_fires_upemail_then_profile() -> None:
    member = _member(email_address="ann.new@example.com")
    events = for_outcome(
        Outcome(member, changed=True, old_status="subscribed", old_email=ANN),
        account_id="a1",
        fields=_fields(),
        source="user",
    )
    assert [e.type for e in events] == ["upemail", "profile"]
    assert events[0].data == {
        "list_id": "l1",
        "new_id": "8a25ff1d98",
        "new_email": "ann.new@example.com",
        "old_email": ANN,
    }
    assert events[1].data["email"] == "ann.new@example.com"
    assert all(e.source == "user" for e in events)


@pytest.mark.parametrize(
    ("new_status", "kind", "expected"),
    [
        ("unsubscribed", "unsubscribe", {"action": "unsub", "reason": "manual", "campaign_id": ""}),
        ("cleaned", "cleaned", {"reason": "hard", "campaign_id": "", "email": ANN}),
        ("archived", "unsubscribe", {"action": "delete"}),
    ],
)
def test_status_change_events(new_status: str, kind: str, expected: dict[str, str]) -> None:
    events = for_outcome(
        Outcome(_member(status=new_status), changed=True, old_status="subscribed"),
        account_id="a1",
        fields=_fields(),
        source="admin",
    )
    assert [e.type for e in events] == [kind]
    assert expected.items() <= events[0].data.items()


def test_unchanged_writes_fire_nothing() -> None:
    events = for_outcome(
        Outcome(_member(), changed=False, old_status="subscribed"),
        account_id="a1",
        fields=_fields(),
        source="api",
    )
    assert events == []
