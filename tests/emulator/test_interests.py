"""Interest categories and interests (REFERENCE.md §8.6), with subscriber counts."""

from __future__ import annotations

from typing import Any

from tests.conformance import assert_conforms
from tests.conftest import Account
from tests.emulator.test_segments import new_list, put_member

CATEGORIES = "/lists/{list_id}/interest-categories"
CATEGORY = CATEGORIES + "/{interest_category_id}"
INTERESTS = CATEGORY + "/interests"
INTEREST = INTERESTS + "/{interest_id}"


async def new_category(
    account: Account, list_id: str, title: str = "Colours", kind: str = "checkboxes"
) -> dict[str, Any]:
    response = await account.post(
        f"/lists/{list_id}/interest-categories", json={"title": title, "type": kind}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = assert_conforms(response, "POST", CATEGORIES)
    return body


async def new_interest(
    account: Account, list_id: str, category_id: str, name: str
) -> dict[str, Any]:
    response = await account.post(
        f"/lists/{list_id}/interest-categories/{category_id}/interests", json={"name": name}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = assert_conforms(response, "POST", INTERESTS)
    return body


def _assert_problem(response: Any, status: int, title: str, detail: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["title"] == title
    if detail is not None:
        assert body["detail"] == detail


# -- categories ----------------------------------------------------------------------


async def test_create_get_list_update_delete_a_category(account: Account) -> None:
    list_id = await new_list(account)
    created = await new_category(account, list_id, "Colours", "checkboxes")
    assert created["title"] == "Colours"
    assert created["type"] == "checkboxes"
    assert created["list_id"] == list_id
    category_id = created["id"]
    path = f"/lists/{list_id}/interest-categories/{category_id}"

    got = assert_conforms(await account.get(path), "GET", CATEGORY)
    assert got["id"] == category_id

    await new_category(account, list_id, "Sizes", "dropdown")
    listed = assert_conforms(
        await account.get(f"/lists/{list_id}/interest-categories"), "GET", CATEGORIES
    )
    assert listed["total_items"] == 2
    assert [c["title"] for c in listed["categories"]] == ["Colours", "Sizes"]
    only = (
        await account.get(f"/lists/{list_id}/interest-categories", params={"type": "dropdown"})
    ).json()
    assert [c["title"] for c in only["categories"]] == ["Sizes"]
    paged = (
        await account.get(f"/lists/{list_id}/interest-categories", params={"count": 1, "offset": 1})
    ).json()
    assert [c["title"] for c in paged["categories"]] == ["Sizes"]
    assert paged["total_items"] == 2

    updated = assert_conforms(
        await account.patch(path, json={"title": "Favourite colours", "type": "radio"}),
        "PATCH",
        CATEGORY,
    )
    assert (updated["title"], updated["type"]) == ("Favourite colours", "radio")

    deleted = await account.delete(path)
    assert deleted.status_code == 204
    assert_conforms(deleted, "DELETE", CATEGORY)
    gone = await account.get(path)
    _assert_problem(gone, 404, "Resource Not Found")
    assert_conforms(gone, "GET", CATEGORY)


async def test_category_needs_title_and_a_known_type(account: Account) -> None:
    list_id = await new_list(account)
    path = f"/lists/{list_id}/interest-categories"
    missing = await account.post(path, json={"type": "checkboxes"})
    _assert_problem(missing, 400, "Invalid Resource")
    assert missing.json()["errors"] == [
        {"field": "", "message": "Required fields were not provided: title"}
    ]
    assert_conforms(missing, "POST", CATEGORIES)
    wrong = await account.post(path, json={"title": "Colours", "type": "select"})
    _assert_problem(wrong, 400, "Invalid Resource")
    assert wrong.json()["errors"][0]["field"] == "type"
    not_json = await account.post(path, content=b"{nope")
    _assert_problem(not_json, 400, "JSON Parse Exception")


async def test_duplicate_category_title_is_refused_like_mailchimp(account: Account) -> None:
    list_id = await new_list(account)
    await new_category(account, list_id, "Colours")
    again = await account.post(
        f"/lists/{list_id}/interest-categories", json={"title": "colours", "type": "radio"}
    )
    _assert_problem(
        again,
        400,
        "Invalid Resource",
        'Cannot add "colours" because it already exists on the list.',
    )
    other = await new_category(account, list_id, "Sizes")
    clash = await account.patch(
        f"/lists/{list_id}/interest-categories/{other['id']}",
        json={"title": "Colours", "type": "radio"},
    )
    _assert_problem(clash, 400, "Invalid Resource")
    assert_conforms(clash, "PATCH", CATEGORY)


async def test_unknown_audience_and_category_are_404(account: Account) -> None:
    list_id = await new_list(account)
    for response, method, template in (
        (await account.get("/lists/nope/interest-categories"), "GET", CATEGORIES),
        (
            await account.post(
                "/lists/nope/interest-categories", json={"title": "X", "type": "radio"}
            ),
            "POST",
            CATEGORIES,
        ),
        (
            await account.patch(
                f"/lists/{list_id}/interest-categories/nope",
                json={"title": "X", "type": "radio"},
            ),
            "PATCH",
            CATEGORY,
        ),
        (await account.delete(f"/lists/{list_id}/interest-categories/nope"), "DELETE", CATEGORY),
    ):
        _assert_problem(response, 404, "Resource Not Found")
        assert_conforms(response, method, template)
    bad_type = await account.get(f"/lists/{list_id}/interest-categories", params={"type": "x"})
    _assert_problem(bad_type, 400, "Invalid Resource")


# -- interests -----------------------------------------------------------------------


async def test_create_get_list_update_delete_an_interest(account: Account) -> None:
    list_id = await new_list(account)
    category = await new_category(account, list_id)
    base = f"/lists/{list_id}/interest-categories/{category['id']}/interests"
    red = await new_interest(account, list_id, category["id"], "Red")
    assert red["name"] == "Red"
    assert red["category_id"] == category["id"]
    assert red["subscriber_count"] == "0"
    await new_interest(account, list_id, category["id"], "Blue")

    listed = assert_conforms(await account.get(base), "GET", INTERESTS)
    assert [i["name"] for i in listed["interests"]] == ["Red", "Blue"]
    assert listed["total_items"] == 2
    assert listed["category_id"] == category["id"]

    path = f"{base}/{red['id']}"
    assert assert_conforms(await account.get(path), "GET", INTEREST)["name"] == "Red"
    renamed = assert_conforms(
        await account.patch(path, json={"name": "Crimson", "display_order": 3}), "PATCH", INTEREST
    )
    assert (renamed["name"], renamed["display_order"]) == ("Crimson", 3)

    deleted = await account.delete(path)
    assert deleted.status_code == 204
    assert_conforms(deleted, "DELETE", INTEREST)
    missing = await account.get(path)
    _assert_problem(missing, 404, "Resource Not Found")
    assert_conforms(missing, "GET", INTEREST)


async def test_interest_errors(account: Account) -> None:
    list_id = await new_list(account)
    category = await new_category(account, list_id)
    other = await new_category(account, list_id, "Sizes", "radio")
    base = f"/lists/{list_id}/interest-categories/{category['id']}/interests"
    no_name = await account.post(base, json={"display_order": 1})
    _assert_problem(no_name, 400, "Invalid Resource")
    assert no_name.json()["errors"] == [
        {"field": "", "message": "Required fields were not provided: name"}
    ]
    assert_conforms(no_name, "POST", INTERESTS)
    wrong_type = await account.post(base, json={"name": 5})
    _assert_problem(wrong_type, 400, "Invalid Resource")
    assert (
        wrong_type.json()["errors"][0]["message"]
        == "Schema describes string, integer found instead"
    )

    red = await new_interest(account, list_id, category["id"], "Red")
    # Interest names are unique across the audience, not only in one category.
    twice = await account.post(
        f"/lists/{list_id}/interest-categories/{other['id']}/interests", json={"name": "RED"}
    )
    _assert_problem(
        twice, 400, "Invalid Resource", 'Cannot add "RED" because it already exists on the list.'
    )
    blue = await new_interest(account, list_id, category["id"], "Blue")
    clash = await account.patch(f"{base}/{blue['id']}", json={"name": "Red"})
    _assert_problem(clash, 400, "Invalid Resource")
    assert_conforms(clash, "PATCH", INTEREST)

    # An interest is only found under its own category.
    elsewhere = f"/lists/{list_id}/interest-categories/{other['id']}/interests/{red['id']}"
    _assert_problem(await account.get(elsewhere), 404, "Resource Not Found")
    gone = await account.delete(f"{base}/nope")
    _assert_problem(gone, 404, "Resource Not Found")
    assert_conforms(gone, "DELETE", INTEREST)
    for response, method, template in (
        (
            await account.get(f"/lists/{list_id}/interest-categories/nope/interests"),
            "GET",
            INTERESTS,
        ),
        (
            await account.post(
                f"/lists/{list_id}/interest-categories/nope/interests", json={"name": "X"}
            ),
            "POST",
            INTERESTS,
        ),
    ):
        _assert_problem(response, 404, "Resource Not Found")
        assert_conforms(response, method, template)


async def test_subscriber_count_counts_subscribed_members_who_chose_the_interest(
    account: Account,
) -> None:
    list_id = await new_list(account)
    category = await new_category(account, list_id)
    red = await new_interest(account, list_id, category["id"], "Red")
    blue = await new_interest(account, list_id, category["id"], "Blue")
    await put_member(account, list_id, "ann.lee@bakery.example", interests={red["id"]: True})
    await put_member(
        account,
        list_id,
        "bob.ray@bakery.example",
        interests={red["id"]: True, blue["id"]: False},
    )
    await put_member(
        account,
        list_id,
        "cy.orr@bakery.example",
        status="unsubscribed",
        interests={red["id"]: True, blue["id"]: True},
    )
    base = f"/lists/{list_id}/interest-categories/{category['id']}/interests"
    counts = {
        i["name"]: i["subscriber_count"] for i in (await account.get(base)).json()["interests"]
    }
    assert counts == {"Red": "2", "Blue": "0"}
    single = (await account.get(f"{base}/{red['id']}")).json()
    assert single["subscriber_count"] == "2"


async def test_deleting_a_category_forgets_its_interests_on_members(account: Account) -> None:
    list_id = await new_list(account)
    category = await new_category(account, list_id)
    red = await new_interest(account, list_id, category["id"], "Red")
    email = "ann.lee@bakery.example"
    await put_member(account, list_id, email, interests={red["id"]: True})
    segment = await account.post(
        f"/lists/{list_id}/segments", json={"name": "Everyone", "static_segment": [email]}
    )
    segment_id = segment.json()["id"]
    before = (await account.get(f"/lists/{list_id}/segments/{segment_id}/members")).json()
    assert before["members"][0]["interests"] == {red["id"]: True}

    deleted = await account.delete(f"/lists/{list_id}/interest-categories/{category['id']}")
    assert deleted.status_code == 204
    after = (await account.get(f"/lists/{list_id}/segments/{segment_id}/members")).json()
    assert red["id"] not in after["members"][0]["interests"]
    interest = await account.get(
        f"/lists/{list_id}/interest-categories/{category['id']}/interests/{red['id']}"
    )
    _assert_problem(interest, 404, "Resource Not Found")
