"""Segments (static and saved), segment members, tags as static segments, tag search.

Helpers here (`new_list`, `put_member`) are shared with test_interests.py and
test_ui.py.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from tests.conformance import assert_conforms
from tests.conftest import Account

SEGMENTS = "/lists/{list_id}/segments"
SEGMENT = SEGMENTS + "/{segment_id}"
SEGMENT_MEMBERS = SEGMENT + "/members"
SEGMENT_MEMBER = SEGMENT_MEMBERS + "/{subscriber_hash}"
TAG_SEARCH = "/lists/{list_id}/tag-search"

LIST_BODY: dict[str, Any] = {
    "name": "Bakery news",
    "permission_reminder": "You bought bread from us.",
    "email_type_option": False,
    "contact": {
        "company": "Bakery",
        "address1": "1 Flour Street",
        "city": "Atlanta",
        "state": "GA",
        "zip": "30308",
        "country": "US",
    },
    "campaign_defaults": {
        "from_name": "Bakery",
        "from_email": "news@bakery.example",
        "subject": "Fresh bread",
        "language": "en",
    },
}

ANN = "ann.lee@bakery.example"
BOB = "bob.ray@bakery.example"
CY = "cy.orr@other-shop.example"
DEE = "dee.fox@bakery.example"


def md5(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


async def new_list(account: Account, name: str = "Bakery news") -> str:
    response = await account.post("/lists", json={**LIST_BODY, "name": name})
    assert response.status_code == 200, response.text
    list_id: str = response.json()["id"]
    return list_id


async def put_member(
    account: Account,
    list_id: str,
    email: str,
    *,
    status: str = "subscribed",
    merge_fields: dict[str, Any] | None = None,
    interests: dict[str, bool] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"email_address": email, "status_if_new": status, "status": status}
    if merge_fields is not None:
        body["merge_fields"] = merge_fields
    if interests is not None:
        body["interests"] = interests
    response = await account.put(f"/lists/{list_id}/members/{md5(email)}", json=body)
    assert response.status_code == 200, response.text
    member: dict[str, Any] = response.json()
    return member


async def audience(account: Account) -> str:
    """An audience with Ann, Bob, Cy (subscribed) and Dee (unsubscribed)."""
    list_id = await new_list(account)
    await put_member(account, list_id, ANN, merge_fields={"FNAME": "Ann", "LNAME": "Lee"})
    await put_member(account, list_id, BOB, merge_fields={"FNAME": "Bob", "LNAME": "Ray"})
    await put_member(account, list_id, CY, merge_fields={"FNAME": "Annabel", "LNAME": "Orr"})
    await put_member(
        account, list_id, DEE, status="unsubscribed", merge_fields={"FNAME": "Dee", "LNAME": "Fox"}
    )
    return list_id


async def create(account: Account, list_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await account.post(f"/lists/{list_id}/segments", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = assert_conforms(response, "POST", SEGMENTS)
    return created


async def emails_of(account: Account, list_id: str, segment_id: int, **params: Any) -> set[str]:
    response = await account.get(
        f"/lists/{list_id}/segments/{segment_id}/members", params={"count": 1000, **params}
    )
    assert response.status_code == 200, response.text
    return {m["email_address"] for m in response.json()["members"]}


def assert_problem(
    response: httpx.Response, status: int, title: str, detail: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["title"] == title
    if detail is not None:
        assert body["detail"] == detail
    return body


# -- static segments ------------------------------------------------------------------


async def test_static_segment_keeps_list_members_and_ignores_others(account: Account) -> None:
    list_id = await audience(account)
    segment = await create(
        account,
        list_id,
        {"name": "Regulars", "static_segment": [ANN, BOB.upper(), "nobody.here@bakery.example"]},
    )
    assert segment["type"] == "static"
    assert segment["name"] == "Regulars"
    assert segment["member_count"] == 2
    assert "options" not in segment
    assert await emails_of(account, list_id, segment["id"]) == {ANN, BOB}

    got = assert_conforms(
        await account.get(f"/lists/{list_id}/segments/{segment['id']}"), "GET", SEGMENT
    )
    assert got["member_count"] == 2
    assert got["id"] == segment["id"]


async def test_empty_static_segment_is_allowed(account: Account) -> None:
    list_id = await audience(account)
    segment = await create(account, list_id, {"name": "Empty", "static_segment": []})
    assert (segment["type"], segment["member_count"]) == ("static", 0)


async def test_create_errors(account: Account) -> None:
    list_id = await audience(account)
    path = f"/lists/{list_id}/segments"
    neither = await account.post(path, json={"name": "Nothing"})
    assert_problem(
        neither,
        400,
        "Invalid Resource",
        'Must provide either an "options" field or a "static_segment" field',
    )
    assert_conforms(neither, "POST", SEGMENTS)
    both = await account.post(
        path,
        json={
            "name": "Both",
            "static_segment": [ANN],
            "options": {"match": "any", "conditions": []},
        },
    )
    assert_problem(both, 400, "Invalid Resource")
    assert "cannot be provided with" in both.json()["detail"]
    nameless = await account.post(path, json={"static_segment": []})
    body = assert_problem(nameless, 400, "Invalid Resource")
    assert body["errors"] == [{"field": "", "message": "Required fields were not provided: name"}]
    wrong = await account.post(path, json={"name": "X", "static_segment": "ann"})
    assert_problem(wrong, 400, "Invalid Resource")
    assert wrong.json()["errors"][0]["field"] == "static_segment"
    unknown_list = await account.post(
        "/lists/nope/segments", json={"name": "X", "static_segment": []}
    )
    assert_problem(unknown_list, 404, "Resource Not Found")
    await create(account, list_id, {"name": "VIP", "static_segment": []})
    twice = await account.post(path, json={"name": "vip", "static_segment": []})
    assert_problem(twice, 400, "Invalid Resource")
    assert "already exists" in twice.json()["detail"]


async def test_batch_add_and_remove_counts(account: Account) -> None:
    list_id = await audience(account)
    segment = await create(account, list_id, {"name": "Regulars", "static_segment": [ANN]})
    path = f"/lists/{list_id}/segments/{segment['id']}"
    response = await account.post(
        path,
        json={
            "members_to_add": [BOB, CY, ANN, "ghost.person@bakery.example"],
            "members_to_remove": [ANN],
        },
    )
    assert response.status_code == 200, response.text
    result = assert_conforms(response, "POST", SEGMENT)
    # Ann was already in: adding her changes nothing; removing her removes her.
    assert result["total_added"] == 2
    assert {m["email_address"] for m in result["members_added"]} == {BOB, CY}
    assert result["total_removed"] == 1
    assert [m["email_address"] for m in result["members_removed"]] == [ANN]
    assert result["error_count"] == 1
    assert result["errors"] == [
        {
            "email_addresses": ["ghost.person@bakery.example"],
            "error": "Email addresses do not belong to this list.",
        }
    ]
    assert await emails_of(account, list_id, segment["id"]) == {BOB, CY}

    again = (await account.post(path, json={"members_to_remove": [BOB, BOB]})).json()
    assert (again["total_added"], again["total_removed"], again["error_count"]) == (0, 1, 0)
    empty = (await account.post(path, json={})).json()
    assert (empty["total_added"], empty["total_removed"]) == (0, 0)


async def test_batch_of_more_than_500_emails_is_refused(account: Account) -> None:
    list_id = await audience(account)
    segment = await create(account, list_id, {"name": "Big", "static_segment": []})
    path = f"/lists/{list_id}/segments/{segment['id']}"
    emails = [f"person{i}@bakery.example" for i in range(501)]
    for field in ("members_to_add", "members_to_remove"):
        response = await account.post(path, json={field: emails})
        body = assert_problem(response, 400, "Invalid Resource")
        assert "a maximum of 500 members" in body["detail"]
        assert body["errors"][0]["field"] == field
        assert_conforms(response, "POST", SEGMENT)
    ok = await account.post(path, json={"members_to_add": emails[:500]})
    assert ok.status_code == 200
    assert ok.json()["error_count"] == 500


async def test_batch_on_saved_segment_or_bad_body_is_400(account: Account) -> None:
    list_id = await audience(account)
    saved = await create(
        account,
        list_id,
        {
            "name": "Anns",
            "options": {
                "match": "any",
                "conditions": [
                    {"condition_type": "TextMerge", "field": "FNAME", "op": "is", "value": "Ann"}
                ],
            },
        },
    )
    path = f"/lists/{list_id}/segments/{saved['id']}"
    response = await account.post(path, json={"members_to_add": [ANN]})
    assert_problem(
        response,
        400,
        "Bad Request",
        f'A Static Segment with an id of "{saved["id"]}" does not exist for this list.',
    )
    assert_conforms(response, "POST", SEGMENT)
    bad = await account.post(path, json={"members_to_add": "ann"})
    assert_problem(bad, 400, "Invalid Resource")
    missing = await account.post(f"/lists/{list_id}/segments/999", json={})
    assert_problem(missing, 404, "Resource Not Found")


async def test_update_renames_and_resets_a_static_segment(account: Account) -> None:
    list_id = await audience(account)
    segment = await create(account, list_id, {"name": "Regulars", "static_segment": [ANN, BOB]})
    path = f"/lists/{list_id}/segments/{segment['id']}"
    renamed = await account.patch(path, json={"name": "Locals", "static_segment": [CY]})
    assert renamed.status_code == 200, renamed.text
    body = assert_conforms(renamed, "PATCH", SEGMENT)
    assert (body["name"], body["member_count"]) == ("Locals", 1)
    assert await emails_of(account, list_id, segment["id"]) == {CY}
    reset = (await account.patch(path, json={"name": "Locals", "static_segment": []})).json()
    assert reset["member_count"] == 0

    conditions = {"match": "any", "conditions": []}
    wrong = await account.patch(path, json={"name": "Locals", "options": conditions})
    assert_problem(wrong, 400, "Invalid Resource")
    assert_conforms(wrong, "PATCH", SEGMENT)
    nameless = await account.patch(path, json={"static_segment": []})
    assert_problem(nameless, 400, "Invalid Resource")
    missing = await account.patch(
        f"/lists/{list_id}/segments/12345", json={"name": "X", "static_segment": []}
    )
    assert_problem(missing, 404, "Resource Not Found")


async def test_delete_segment(account: Account) -> None:
    list_id = await audience(account)
    segment = await create(account, list_id, {"name": "Regulars", "static_segment": [ANN]})
    path = f"/lists/{list_id}/segments/{segment['id']}"
    deleted = await account.delete(path)
    assert deleted.status_code == 204
    assert_conforms(deleted, "DELETE", SEGMENT)
    missing = await account.get(path)
    assert_problem(missing, 404, "Resource Not Found")
    assert_conforms(missing, "GET", SEGMENT)
    again = await account.delete(path)
    assert_problem(again, 404, "Resource Not Found")
    assert_conforms(again, "DELETE", SEGMENT)
    # The tag went with the segment.
    member = (await account.get(f"/lists/{list_id}/members/{md5(ANN)}")).json()
    assert member["tags"] == []
    not_a_number = await account.get(f"/lists/{list_id}/segments/abc")
    assert_problem(not_a_number, 404, "Resource Not Found")


# -- listing ---------------------------------------------------------------------------


async def test_list_segments_with_filters_and_status_flags(account: Account) -> None:
    list_id = await audience(account)
    static = await create(
        account, list_id, {"name": "All four", "static_segment": [ANN, BOB, CY, DEE]}
    )
    saved = await create(
        account,
        list_id,
        {
            "name": "Bakery addresses",
            "options": {
                "match": "all",
                "conditions": [
                    {
                        "condition_type": "EmailAddress",
                        "field": "EMAIL",
                        "op": "ends",
                        "value": "@bakery.example",
                    }
                ],
            },
        },
    )
    path = f"/lists/{list_id}/segments"
    listed = assert_conforms(await account.get(path), "GET", SEGMENTS)
    assert listed["total_items"] == 2
    assert listed["list_id"] == list_id
    counts = {s["name"]: s["member_count"] for s in listed["segments"]}
    assert counts == {"All four": 3, "Bakery addresses": 2}

    with_unsubscribed = (await account.get(path, params={"include_unsubscribed": "true"})).json()
    counts = {s["name"]: s["member_count"] for s in with_unsubscribed["segments"]}
    assert counts == {"All four": 4, "Bakery addresses": 3}

    statics = (await account.get(path, params={"type": "static"})).json()
    assert [s["id"] for s in statics["segments"]] == [static["id"]]
    saveds = (await account.get(path, params={"type": "saved"})).json()
    assert [s["id"] for s in saveds["segments"]] == [saved["id"]]
    paged = (await account.get(path, params={"count": 1, "offset": 1})).json()
    assert [s["id"] for s in paged["segments"]] == [saved["id"]]
    assert paged["total_items"] == 2
    future = (
        await account.get(path, params={"since_created_at": "2999-01-01T00:00:00+00:00"})
    ).json()
    assert future["total_items"] == 0
    past = (await account.get(path, params={"before_updated_at": "2999-01-01T00:00:00Z"})).json()
    assert past["total_items"] == 2

    bad_type = await account.get(path, params={"type": "dynamic"})
    assert_problem(bad_type, 400, "Invalid Resource")
    assert_conforms(bad_type, "GET", SEGMENTS)
    bad_time = await account.get(path, params={"since_created_at": "yesterday"})
    assert_problem(bad_time, 400, "Invalid Resource")
    unknown = await account.get("/lists/nope/segments")
    assert_problem(unknown, 404, "Resource Not Found")
    assert_conforms(unknown, "GET", SEGMENTS)


# -- saved segments ---------------------------------------------------------------------


def text_merge(field: str, op: str, value: str) -> dict[str, Any]:
    return {"condition_type": "TextMerge", "field": field, "op": op, "value": value}


async def saved_emails(
    account: Account, list_id: str, conditions: list[dict[str, Any]], match: str = "all"
) -> set[str]:
    segment = await create(
        account,
        list_id,
        {"name": "Saved", "options": {"match": match, "conditions": conditions}},
    )
    assert segment["type"] == "saved"
    assert segment["options"]["match"] == match
    emails = await emails_of(account, list_id, segment["id"])
    assert segment["member_count"] == len(emails)
    return emails


async def test_saved_segment_text_merge_operators(account: Account) -> None:
    list_id = await audience(account)
    assert await saved_emails(account, list_id, [text_merge("FNAME", "is", "ann")]) == {ANN}
    assert await saved_emails(account, list_id, [text_merge("FNAME", "not", "Ann")]) == {BOB, CY}
    assert await saved_emails(account, list_id, [text_merge("FNAME", "contains", "nn")]) == {
        ANN,
        CY,
    }
    assert await saved_emails(account, list_id, [text_merge("FNAME", "starts", "An")]) == {
        ANN,
        CY,
    }
    assert await saved_emails(account, list_id, [text_merge("LNAME", "ends", "ay")]) == {BOB}
    # Unsubscribed Dee matches "Dee" but a segment holds subscribed contacts only.
    assert await saved_emails(account, list_id, [text_merge("FNAME", "is", "Dee")]) == set()


async def test_saved_segment_match_any_and_all(account: Account) -> None:
    list_id = await audience(account)
    starts_an = text_merge("FNAME", "starts", "An")
    bakery = {
        "condition_type": "EmailAddress",
        "field": "EMAIL",
        "op": "contains",
        "value": "@bakery.",
    }
    assert await saved_emails(account, list_id, [starts_an, bakery], "all") == {ANN}
    assert await saved_emails(account, list_id, [starts_an, bakery], "any") == {ANN, BOB, CY}


async def test_saved_segment_on_static_segment_membership(account: Account) -> None:
    list_id = await audience(account)
    static = await create(account, list_id, {"name": "Regulars", "static_segment": [ANN, BOB]})
    inside = {
        "condition_type": "StaticSegment",
        "field": "static_segment",
        "op": "static_is",
        "value": static["id"],
    }
    outside = {**inside, "op": "static_not"}
    assert await saved_emails(account, list_id, [inside]) == {ANN, BOB}
    assert await saved_emails(account, list_id, [outside]) == {CY}
    # Membership is live: the saved segment follows the static one.
    segment = await create(
        account,
        list_id,
        {"name": "In regulars", "options": {"match": "all", "conditions": [inside]}},
    )
    await account.post(f"/lists/{list_id}/segments/{static['id']}", json={"members_to_add": [CY]})
    assert await emails_of(account, list_id, segment["id"]) == {ANN, BOB, CY}


async def test_update_saved_segment_conditions(account: Account) -> None:
    list_id = await audience(account)
    segment = await create(
        account,
        list_id,
        {
            "name": "Anns",
            "options": {"match": "any", "conditions": [text_merge("FNAME", "is", "Ann")]},
        },
    )
    path = f"/lists/{list_id}/segments/{segment['id']}"
    updated = await account.patch(
        path,
        json={"name": "Bobs", "options": {"conditions": [text_merge("FNAME", "is", "Bob")]}},
    )
    body = assert_conforms(updated, "PATCH", SEGMENT)
    assert (body["name"], body["member_count"]) == ("Bobs", 1)
    assert body["options"]["conditions"] == [text_merge("FNAME", "is", "Bob")]
    assert await emails_of(account, list_id, segment["id"]) == {BOB}
    static_on_saved = await account.patch(path, json={"name": "Bobs", "static_segment": [ANN]})
    assert_problem(static_on_saved, 400, "Invalid Resource")


async def test_saved_segment_condition_errors(account: Account) -> None:
    list_id = await audience(account)
    path = f"/lists/{list_id}/segments"

    async def refused(options: dict[str, Any]) -> dict[str, Any]:
        response = await account.post(path, json={"name": "Bad", "options": options})
        assert_conforms(response, "POST", SEGMENTS)
        assert response.status_code >= 400
        body: dict[str, Any] = response.json()
        return body

    body = await refused({"match": "some", "conditions": [text_merge("FNAME", "is", "x")]})
    assert body["title"] == "Invalid Resource"
    assert body["errors"] == [
        {"field": "options.match", "message": "Schema describes enum, some found instead"}
    ]
    body = await refused({"match": "any", "conditions": [text_merge("FNAME", "between", "x")]})
    assert body["errors"] == [
        {
            "field": "options.conditions.0.op",
            "message": "Schema describes enum, between found instead",
        }
    ]
    body = await refused({"match": "any", "conditions": [{"condition_type": "Astrology"}]})
    assert body["errors"][0]["field"] == "options.conditions.0.condition_type"
    body = await refused({"match": "any", "conditions": [{"condition_type": "TextMerge"}]})
    assert body["errors"] == [
        {"field": "options.conditions.0", "message": "Required fields were not provided: field, op"}
    ]
    body = await refused({"match": "any", "conditions": []})
    assert body["title"] == "Invalid Resource"
    body = await refused({"match": "any"})
    assert body["title"] == "Invalid Resource"
    body = await refused({"match": "any", "conditions": ["FNAME is x"]})
    assert body["errors"][0]["message"] == "Schema describes object, string found instead"
    # A condition on data the emulator does not keep is named, never ignored.
    date = {"condition_type": "Date", "field": "timestamp_opt", "op": "greater", "value": "date"}
    response = await account.post(
        path, json={"name": "Recent", "options": {"match": "any", "conditions": [date]}}
    )
    assert_problem(response, 501, "Not Emulated")
    assert "'Date'" in response.json()["detail"]


async def test_saved_segment_interests_vip_and_rating(account: Account) -> None:
    list_id = await audience(account)
    category = (
        await account.post(
            f"/lists/{list_id}/interest-categories", json={"title": "Bread", "type": "checkboxes"}
        )
    ).json()
    rye = (
        await account.post(
            f"/lists/{list_id}/interest-categories/{category['id']}/interests", json={"name": "Rye"}
        )
    ).json()
    await put_member(account, list_id, BOB, interests={rye["id"]: True})
    interests = {
        "condition_type": "Interests",
        "field": f"interests-{category['id']}",
        "op": "interestcontains",
        "value": [rye["id"]],
    }
    assert await saved_emails(account, list_id, [interests]) == {BOB}
    assert await saved_emails(account, list_id, [{**interests, "op": "interestnotcontains"}]) == {
        ANN,
        CY,
    }
    rating = {"condition_type": "MemberRating", "field": "rating", "op": "greater", "value": 1}
    assert await saved_emails(account, list_id, [rating]) == {ANN, BOB, CY}
    vip = {"condition_type": "VIP", "field": "gmonkey", "op": "member"}
    assert await saved_emails(account, list_id, [vip]) == set()


# -- segment members ----------------------------------------------------------------------


async def test_segment_members_add_list_remove(account: Account) -> None:
    list_id = await audience(account)
    segment = await create(account, list_id, {"name": "Regulars", "static_segment": []})
    base = f"/lists/{list_id}/segments/{segment['id']}/members"
    added = await account.post(base, json={"email_address": ANN})
    assert added.status_code == 200, added.text
    body = assert_conforms(added, "POST", SEGMENT_MEMBERS)
    assert body["email_address"] == ANN
    assert body["id"] == md5(ANN)
    await account.post(base, json={"email_address": BOB})
    await account.post(base, json={"email_address": DEE})

    listed = assert_conforms(await account.get(base), "GET", SEGMENT_MEMBERS)
    assert listed["total_items"] == 2
    assert {m["email_address"] for m in listed["members"]} == {ANN, BOB}
    everyone = (await account.get(base, params={"include_unsubscribed": "true"})).json()
    assert everyone["total_items"] == 3
    paged = (await account.get(base, params={"count": 1})).json()
    assert len(paged["members"]) == 1

    removed = await account.delete(f"{base}/{md5(ANN)}")
    assert removed.status_code == 204
    assert_conforms(removed, "DELETE", SEGMENT_MEMBER)
    assert await emails_of(account, list_id, segment["id"]) == {BOB}
    again = await account.delete(f"{base}/{md5(ANN)}")
    assert_problem(again, 404, "Resource Not Found")
    assert_conforms(again, "DELETE", SEGMENT_MEMBER)


async def test_segment_member_errors(account: Account) -> None:
    list_id = await audience(account)
    static = await create(account, list_id, {"name": "Regulars", "static_segment": []})
    saved = await create(
        account,
        list_id,
        {
            "name": "Anns",
            "options": {"match": "any", "conditions": [text_merge("FNAME", "is", "Ann")]},
        },
    )
    base = f"/lists/{list_id}/segments/{static['id']}/members"
    stranger = await account.post(base, json={"email_address": "stranger.x@bakery.example"})
    assert_problem(stranger, 404, "Resource Not Found")
    assert_conforms(stranger, "POST", SEGMENT_MEMBERS)
    no_email = await account.post(base, json={})
    body = assert_problem(no_email, 400, "Invalid Resource")
    assert body["errors"] == [
        {"field": "", "message": "Required fields were not provided: email_address"}
    ]
    on_saved = await account.post(
        f"/lists/{list_id}/segments/{saved['id']}/members", json={"email_address": ANN}
    )
    assert_problem(on_saved, 400, "Bad Request")
    # Saved segments list their members too.
    saved_members = await account.get(f"/lists/{list_id}/segments/{saved['id']}/members")
    assert {m["email_address"] for m in saved_members.json()["members"]} == {ANN}
    missing = await account.get(f"/lists/{list_id}/segments/424242/members")
    assert_problem(missing, 404, "Resource Not Found")
    assert_conforms(missing, "GET", SEGMENT_MEMBERS)
    unknown_member = await account.delete(f"{base}/{md5('stranger.x@bakery.example')}")
    assert_problem(unknown_member, 404, "Resource Not Found")
    remove_on_saved = await account.delete(
        f"/lists/{list_id}/segments/{saved['id']}/members/{md5(ANN)}"
    )
    assert_problem(remove_on_saved, 400, "Bad Request")


# -- tags are static segments ---------------------------------------------------------------


async def test_member_tags_are_static_segments_and_back(account: Account) -> None:
    list_id = await audience(account)
    tagged = await account.post(
        f"/lists/{list_id}/members/{md5(ANN)}/tags",
        json={"tags": [{"name": "Sourdough", "status": "active"}]},
    )
    assert tagged.status_code == 204, tagged.text
    statics = (await account.get(f"/lists/{list_id}/segments", params={"type": "static"})).json()
    assert [(s["name"], s["member_count"]) for s in statics["segments"]] == [("Sourdough", 1)]
    tag_segment = statics["segments"][0]
    member = (await account.get(f"/lists/{list_id}/members/{md5(ANN)}")).json()
    assert member["tags"] == [{"id": tag_segment["id"], "name": "Sourdough"}]

    # Adding through the segment tags the member, with the same id.
    await account.post(
        f"/lists/{list_id}/segments/{tag_segment['id']}", json={"members_to_add": [BOB]}
    )
    bob = (await account.get(f"/lists/{list_id}/members/{md5(BOB)}")).json()
    assert bob["tags"] == [{"id": tag_segment["id"], "name": "Sourdough"}]

    # A static segment made here is a tag the members' endpoint reuses.
    regulars = await create(account, list_id, {"name": "Regulars", "static_segment": [ANN]})
    await account.post(
        f"/lists/{list_id}/members/{md5(CY)}/tags",
        json={"tags": [{"name": "regulars", "status": "active"}]},
    )
    cy = (await account.get(f"/lists/{list_id}/members/{md5(CY)}")).json()
    assert [t["id"] for t in cy["tags"]] == [regulars["id"]]
    assert await emails_of(account, list_id, regulars["id"]) == {ANN, CY}

    # Removing the tag from a member leaves the segment, one member fewer.
    await account.post(
        f"/lists/{list_id}/members/{md5(ANN)}/tags",
        json={"tags": [{"name": "Regulars", "status": "inactive"}]},
    )
    assert await emails_of(account, list_id, regulars["id"]) == {CY}


async def test_tag_search_by_prefix(account: Account) -> None:
    list_id = await audience(account)
    await create(account, list_id, {"name": "VIP", "static_segment": [ANN]})
    await create(account, list_id, {"name": "Ultra VIP", "static_segment": []})
    await create(
        account,
        list_id,
        {"name": "Saved VIPs", "options": {"conditions": [text_merge("FNAME", "is", "Ann")]}},
    )
    await account.post(
        f"/lists/{list_id}/members/{md5(BOB)}/tags",
        json={"tags": [{"name": "vintage", "status": "active"}]},
    )
    path = f"/lists/{list_id}/tag-search"
    found = assert_conforms(await account.get(path, params={"name": "vi"}), "GET", TAG_SEARCH)
    assert sorted(t["name"] for t in found["tags"]) == ["VIP", "vintage"]
    assert found["total_items"] == 2
    assert all(isinstance(t["id"], int) for t in found["tags"])
    everything = (await account.get(path)).json()
    assert sorted(t["name"] for t in everything["tags"]) == ["Ultra VIP", "VIP", "vintage"]
    unknown = await account.get("/lists/nope/tag-search", params={"name": "x"})
    assert_problem(unknown, 404, "Resource Not Found")
    assert_conforms(unknown, "GET", TAG_SEARCH)
