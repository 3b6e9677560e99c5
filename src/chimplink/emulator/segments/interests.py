"""Interest categories ("groups") and their interests: state and Mailchimp's rules.

A category has a `title` and a display `type` (checkboxes | dropdown | radio |
hidden); each interest has a `name` (REFERENCE.md §8.6). A member opts into
interests through its `interests: {"<interest_id>": true|false}` map, so an
interest's `subscriber_count` is computed from the members, never stored.

Names are unique across the audience: Mailchimp answers a duplicate with
400 "Invalid Resource", `Cannot add "<name>" because it already exists on the
list.` (observed in client code handling that exact detail).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from pydantic import BaseModel, Field

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, register_store
from chimplink.emulator.members.models import members_of

CATEGORY_TYPES = ("checkboxes", "dropdown", "radio", "hidden")


class InterestCategory(BaseModel):
    id: str
    list_id: str
    title: str
    type: str
    display_order: int = 0


class Interest(BaseModel):
    id: str
    category_id: str
    list_id: str
    name: str
    display_order: int = 0


@register_store("interest_categories")
class InterestsStore(BaseModel):
    # list_id → category id → category (insertion order is the listing order)
    categories: dict[str, dict[str, InterestCategory]] = Field(default_factory=dict)
    # list_id → interest id → interest
    interests: dict[str, dict[str, Interest]] = Field(default_factory=dict)


def interests_store(account: Account) -> InterestsStore:
    return account.store(InterestsStore)


# -- lookups ------------------------------------------------------------------


def categories_in(account: Account, list_id: str) -> list[InterestCategory]:
    return list(interests_store(account).categories.get(list_id, {}).values())


def require_category(account: Account, list_id: str, category_id: str) -> InterestCategory:
    found = interests_store(account).categories.get(list_id, {}).get(category_id)
    if found is None:
        raise problems.not_found()
    return found


def interests_in(account: Account, list_id: str, category_id: str) -> list[Interest]:
    return [
        interest
        for interest in interests_store(account).interests.get(list_id, {}).values()
        if interest.category_id == category_id
    ]


def require_interest(
    account: Account, *, list_id: str, category_id: str, interest_id: str
) -> Interest:
    found = interests_store(account).interests.get(list_id, {}).get(interest_id)
    if found is None or found.category_id != category_id:
        raise problems.not_found()
    return found


def known_interest_ids(account: Account, list_id: str) -> set[str]:
    """Every interest id of the audience: the keys a member's `interests` map may use."""
    return set(interests_store(account).interests.get(list_id, {}))


def require_known_interests(account: Account, list_id: str, interests: Iterable[str]) -> None:
    """Refuse a member's `interests` map naming an unknown id, as Mailchimp does.

    Mailchimp: 400 "Invalid Resource", detail `Invalid interest ID: '<id>'.`
    (observed, drewm/mailchimp-api#294).
    """
    known = known_interest_ids(account, list_id)
    for interest_id in interests:
        if interest_id not in known:
            raise problems.invalid_resource(f"Invalid interest ID: '{interest_id}'.")


def subscriber_count(account: Account, list_id: str, interest_id: str) -> int:
    """Subscribed members who opted into the interest (Mailchimp counts subscribers)."""
    return sum(
        1
        for member in members_of(account).members.get(list_id, {}).values()
        if member.status == "subscribed" and member.interests.get(interest_id) is True
    )


# -- changes ------------------------------------------------------------------


def _already_exists(name: str) -> problems.ProblemError:
    return problems.invalid_resource(f'Cannot add "{name}" because it already exists on the list.')


def _check_title_free(
    account: Account, *, list_id: str, title: str, except_id: str | None = None
) -> None:
    wanted = title.strip().casefold()
    for category in categories_in(account, list_id):
        if category.id != except_id and category.title.strip().casefold() == wanted:
            raise _already_exists(title)


def _check_name_free(
    account: Account, *, list_id: str, name: str, except_id: str | None = None
) -> None:
    wanted = name.strip().casefold()
    for interest in interests_store(account).interests.get(list_id, {}).values():
        if interest.id != except_id and interest.name.strip().casefold() == wanted:
            raise _already_exists(name)


def _require_text(field: str, value: str) -> str:
    if not value.strip():
        raise problems.field_error(field, "This value should not be blank.")
    return value


def create_category(
    account: Account,
    *,
    list_id: str,
    body: Mapping[str, object],
    new_id: Callable[[], str],
) -> InterestCategory:
    """`body` was validated against the spec (title and type present, type in the enum)."""
    title = _require_text("title", str(body["title"]))
    _check_title_free(account, list_id=list_id, title=title)
    category = InterestCategory(
        id=new_id(),
        list_id=list_id,
        title=title,
        type=str(body["type"]),
        display_order=_display_order(body),
    )
    interests_store(account).categories.setdefault(list_id, {})[category.id] = category
    return category


def update_category(
    account: Account, *, category: InterestCategory, body: Mapping[str, object]
) -> InterestCategory:
    title = _require_text("title", str(body["title"]))
    _check_title_free(account, list_id=category.list_id, title=title, except_id=category.id)
    category.title = title
    category.type = str(body["type"])
    if "display_order" in body:
        category.display_order = _display_order(body)
    return category


def delete_category(account: Account, category: InterestCategory) -> None:
    """Deleting a category deletes its interests and members' choices of them."""
    store = interests_store(account)
    for interest in interests_in(account, category.list_id, category.id):
        _forget_interest(account, interest)
    store.categories.get(category.list_id, {}).pop(category.id, None)


def create_interest(
    account: Account,
    *,
    category: InterestCategory,
    body: Mapping[str, object],
    new_id: Callable[[], str],
) -> Interest:
    name = _require_text("name", str(body["name"]))
    _check_name_free(account, list_id=category.list_id, name=name)
    interest = Interest(
        id=new_id(),
        category_id=category.id,
        list_id=category.list_id,
        name=name,
        display_order=_display_order(body),
    )
    interests_store(account).interests.setdefault(category.list_id, {})[interest.id] = interest
    return interest


def update_interest(
    account: Account, *, interest: Interest, body: Mapping[str, object]
) -> Interest:
    name = _require_text("name", str(body["name"]))
    _check_name_free(account, list_id=interest.list_id, name=name, except_id=interest.id)
    interest.name = name
    if "display_order" in body:
        interest.display_order = _display_order(body)
    return interest


def delete_interest(account: Account, interest: Interest) -> None:
    _forget_interest(account, interest)


def _forget_interest(account: Account, interest: Interest) -> None:
    interests_store(account).interests.get(interest.list_id, {}).pop(interest.id, None)
    for member in members_of(account).members.get(interest.list_id, {}).values():
        member.interests.pop(interest.id, None)


def _display_order(body: Mapping[str, object]) -> int:
    value = body.get("display_order", 0)
    # The spec validated the type; bool is an int subclass JSON Schema rejects too.
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
