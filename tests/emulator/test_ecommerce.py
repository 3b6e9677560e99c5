"""E-commerce: stores, customers (and their audience members), products + variants,
orders and carts + lines, promo rules + codes (REFERENCE.md §10)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conformance import assert_conforms
from tests.conftest import Account, Emulator
from tests.emulator.test_deliveries import fields, settled, wait_until
from tests.emulator.test_webhooks import Receiver, make_hook, running_receiver

STORES = "/ecommerce/stores"
STORE = "/ecommerce/stores/{store_id}"
CUSTOMERS = f"{STORE}/customers"
CUSTOMER = f"{CUSTOMERS}/{{customer_id}}"
PRODUCTS = f"{STORE}/products"
PRODUCT = f"{PRODUCTS}/{{product_id}}"
VARIANTS = f"{PRODUCT}/variants"
VARIANT = f"{VARIANTS}/{{variant_id}}"
ORDERS = f"{STORE}/orders"
ORDER = f"{ORDERS}/{{order_id}}"
ORDER_LINES = f"{ORDER}/lines"
ORDER_LINE = f"{ORDER_LINES}/{{line_id}}"
CARTS = f"{STORE}/carts"
CART = f"{CARTS}/{{cart_id}}"
CART_LINES = f"{CART}/lines"
CART_LINE = f"{CART_LINES}/{{line_id}}"
RULES = f"{STORE}/promo-rules"
RULE = f"{RULES}/{{promo_rule_id}}"
CODES = f"{RULE}/promo-codes"
CODE = f"{CODES}/{{promo_code_id}}"

NO_PRODUCT = "A product with the provided ID does not exist in the account for this list."
NO_VARIANT = "A product with the provided variant ID does not exist in the account for this list."

LIST_BODY = {
    "name": "Shop customers",
    "permission_reminder": "You bought something from us.",
    "email_type_option": False,
    "contact": {
        "company": "Shop Co",
        "address1": "1 Road",
        "city": "Atlanta",
        "state": "GA",
        "zip": "30308",
        "country": "US",
    },
    "campaign_defaults": {
        "from_name": "Shop Co",
        "from_email": "news@shop-co.example",
        "subject": "News",
        "language": "en",
    },
}
MUG = {
    "id": "mug",
    "title": "Mug",
    "variants": [
        {"id": "mug-red", "title": "Red mug", "price": 9.5, "sku": "M-R"},
        {"id": "mug-blue", "title": "Blue mug", "price": 9.5},
    ],
}


def shaped(template: str, **ids: str) -> str:
    return template.format(**ids)


def digest(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


def expect_problem(
    response: httpx.Response, method: str, path: str, status: int, title: str
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = assert_conforms(response, method, path)
    assert body["title"] == title, body
    return body


def ok(response: httpx.Response, method: str, path: str) -> Any:
    assert response.status_code in (200, 204), response.text
    return assert_conforms(response, method, path)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as server:
        yield server


async def make_list(account: Account) -> str:
    response = await account.post("/lists", json=LIST_BODY)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def make_store(account: Account, store_id: str = "shop", **extra: Any) -> dict[str, Any]:
    list_id = extra.pop("list_id", None) or await make_list(account)
    body = {"id": store_id, "list_id": list_id, "name": "Shop", "currency_code": "USD", **extra}
    response = await account.post(STORES, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def member_status(account: Account, list_id: str, email: str) -> str | None:
    response = await account.get(f"/lists/{list_id}/members/{digest(email)}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def put_member(account: Account, list_id: str, email: str, status: str) -> None:
    response = await account.put(
        f"/lists/{list_id}/members/{digest(email)}",
        json={"email_address": email, "status_if_new": status},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status


# -- stores -------------------------------------------------------------------------


async def test_store_lifecycle_conforms(account: Account) -> None:
    list_id = await make_list(account)
    created = ok(
        await account.post(
            STORES,
            json={
                "id": "shop-1",
                "list_id": list_id,
                "name": "Shop",
                "currency_code": "usd",
                "domain": "shop.example",
                "platform": "custom",
                "address": {"city": "Atlanta", "country_code": "US"},
            },
        ),
        "POST",
        STORES,
    )
    assert created["id"] == "shop-1"
    assert created["list_id"] == list_id
    assert created["currency_code"] == "USD"
    assert created["is_syncing"] is False
    assert created["list_is_active"] is True
    assert created["_links"][0]["rel"] == "self"
    assert created["_links"][0]["href"].endswith("/3.0/ecommerce/stores/shop-1")

    url = shaped(STORE, store_id="shop-1")
    fetched = ok(await account.get(url), "GET", STORE)
    assert fetched["name"] == "Shop"
    assert fetched["address"]["city"] == "Atlanta"

    patched = ok(
        await account.patch(url, json={"name": "Shop 2", "is_syncing": True}), "PATCH", STORE
    )
    assert patched["name"] == "Shop 2"
    assert patched["is_syncing"] is True
    assert patched["list_id"] == list_id

    listed = ok(await account.get(STORES), "GET", STORES)
    assert listed["total_items"] == 1
    assert [s["id"] for s in listed["stores"]] == ["shop-1"]

    assert ok(await account.delete(url), "DELETE", STORE) is None
    missing = expect_problem(await account.get(url), "GET", STORE, 404, "Resource Not Found")
    assert missing["detail"] == "The requested resource could not be found."
    expect_problem(await account.delete(url), "DELETE", STORE, 404, "Resource Not Found")
    expect_problem(
        await account.patch(url, json={"name": "x"}), "PATCH", STORE, 404, "Resource Not Found"
    )


async def test_store_create_errors(account: Account) -> None:
    store = await make_store(account, "dup", domain="dup.example")
    again = await account.post(
        STORES,
        json={"id": "dup", "list_id": store["list_id"], "name": "S", "currency_code": "USD"},
    )
    body = expect_problem(again, "POST", STORES, 400, "Bad Request")
    assert body["detail"] == (
        "We were unable to process the request. "
        "A store with the provided ID already exists in the account."
    )

    same_domain = await account.post(
        STORES,
        json={
            "id": "other",
            "list_id": store["list_id"],
            "name": "S",
            "currency_code": "USD",
            "domain": "dup.example",
        },
    )
    body = expect_problem(same_domain, "POST", STORES, 400, "Bad Request")
    assert "A store with the domain dup.example already exists" in body["detail"]

    unknown_list = await account.post(
        STORES, json={"id": "x", "list_id": "nope", "name": "S", "currency_code": "USD"}
    )
    body = expect_problem(unknown_list, "POST", STORES, 400, "Invalid Resource")
    assert body["errors"][0]["field"] == "list_id"

    missing = await account.post(STORES, json={"id": "x", "name": "S"})
    body = expect_problem(missing, "POST", STORES, 400, "Invalid Resource")
    assert body["errors"][0]["message"].startswith("Required fields were not provided:")
    assert "list_id" in body["errors"][0]["message"]

    wrong_type = await account.post(
        STORES, json={"id": "x", "list_id": store["list_id"], "name": 5, "currency_code": "USD"}
    )
    body = expect_problem(wrong_type, "POST", STORES, 400, "Invalid Resource")
    assert body["errors"] == [
        {"field": "name", "message": "Schema describes string, integer found instead"}
    ]

    bad_currency = await account.post(
        STORES, json={"id": "x", "list_id": store["list_id"], "name": "S", "currency_code": "US"}
    )
    expect_problem(bad_currency, "POST", STORES, 400, "Invalid Resource")

    blank_id = await account.post(
        STORES, json={"id": " ", "list_id": store["list_id"], "name": "S", "currency_code": "USD"}
    )
    expect_problem(blank_id, "POST", STORES, 400, "Invalid Resource")

    broken = await account.post(STORES, content=b"{not json")
    expect_problem(broken, "POST", STORES, 400, "JSON Parse Exception")

    array = await account.post(STORES, json=[1, 2])
    expect_problem(array, "POST", STORES, 400, "Invalid Resource")


async def test_store_list_id_cannot_change(account: Account) -> None:
    store = await make_store(account)
    other_list = await make_list(account)
    url = shaped(STORE, store_id="shop")
    response = await account.patch(url, json={"list_id": other_list})
    body = expect_problem(response, "PATCH", STORE, 400, "Invalid Resource")
    assert body["errors"][0]["field"] == "list_id"
    assert (await account.get(url)).json()["list_id"] == store["list_id"]
    bad_type = await account.patch(url, json={"is_syncing": "yes"})
    expect_problem(bad_type, "PATCH", STORE, 400, "Invalid Resource")


async def test_stores_are_paged(account: Account) -> None:
    list_id = await make_list(account)
    for n in range(3):
        await make_store(account, f"s{n}", list_id=list_id)
    page = ok(await account.get(STORES, params={"count": 2, "offset": 1}), "GET", STORES)
    assert page["total_items"] == 3
    assert [s["id"] for s in page["stores"]] == ["s1", "s2"]
    too_many = await account.get(STORES, params={"count": 1001})
    expect_problem(too_many, "GET", STORES, 400, "Invalid Resource")


async def test_stores_are_per_account(emulator: Emulator, account: Account) -> None:
    await make_store(account)
    other = await emulator.account("Other")
    response = await other.get(shaped(STORE, store_id="shop"))
    expect_problem(response, "GET", STORE, 404, "Resource Not Found")


# -- customers ------------------------------------------------------------------------


async def test_customer_lifecycle_conforms(account: Account) -> None:
    await make_store(account)
    collection = shaped(CUSTOMERS, store_id="shop")
    created = ok(
        await account.post(
            collection,
            json={
                "id": "c1",
                "email_address": "ann@shop-co.example",
                "opt_in_status": True,
                "first_name": "Ann",
                "company": "Ann Inc",
                "address": {"city": "Paris", "country_code": "FR"},
            },
        ),
        "POST",
        CUSTOMERS,
    )
    assert created["id"] == "c1"
    assert created["opt_in_status"] is True
    assert created["orders_count"] == 0
    assert created["total_spent"] == 0
    assert created["address"]["city"] == "Paris"

    url = shaped(CUSTOMER, store_id="shop", customer_id="c1")
    assert ok(await account.get(url), "GET", CUSTOMER)["first_name"] == "Ann"
    patched = ok(await account.patch(url, json={"last_name": "Lee"}), "PATCH", CUSTOMER)
    assert patched["last_name"] == "Lee"
    assert patched["first_name"] == "Ann"

    put = ok(
        await account.put(
            url,
            json={
                "id": "c1",
                "email_address": "ANN@shop-co.example",
                "opt_in_status": True,
                "company": "Ann Ltd",
            },
        ),
        "PUT",
        CUSTOMER,
    )
    assert put["company"] == "Ann Ltd"

    upserted = ok(
        await account.put(
            shaped(CUSTOMER, store_id="shop", customer_id="c2"),
            json={"id": "c2", "email_address": "bob@shop-co.example", "opt_in_status": False},
        ),
        "PUT",
        CUSTOMER,
    )
    assert upserted["id"] == "c2"

    listed = ok(await account.get(collection), "GET", CUSTOMERS)
    assert listed["store_id"] == "shop"
    assert listed["total_items"] == 2
    by_email = ok(
        await account.get(collection, params={"email_address": "bob@shop-co.example"}),
        "GET",
        CUSTOMERS,
    )
    assert [c["id"] for c in by_email["customers"]] == ["c2"]
    paged = ok(await account.get(collection, params={"count": 1, "offset": 1}), "GET", CUSTOMERS)
    assert [c["id"] for c in paged["customers"]] == ["c2"]
    assert paged["total_items"] == 2

    assert ok(await account.delete(url), "DELETE", CUSTOMER) is None
    expect_problem(await account.get(url), "GET", CUSTOMER, 404, "Resource Not Found")
    expect_problem(await account.delete(url), "DELETE", CUSTOMER, 404, "Resource Not Found")
    expect_problem(
        await account.patch(url, json={"first_name": "X"}),
        "PATCH",
        CUSTOMER,
        404,
        "Resource Not Found",
    )


async def test_customer_errors(account: Account) -> None:
    await make_store(account)
    collection = shaped(CUSTOMERS, store_id="shop")
    await account.post(
        collection,
        json={"id": "c1", "email_address": "ann@shop-co.example", "opt_in_status": False},
    )
    dup = await account.post(
        collection, json={"id": "c1", "email_address": "x@shop-co.example", "opt_in_status": False}
    )
    body = expect_problem(dup, "POST", CUSTOMERS, 400, "Bad Request")
    assert body["detail"] == (
        "We were unable to process the request. "
        "A customer with the provided ID already exists in the account."
    )

    too_long = await account.post(
        collection,
        json={"id": "x" * 51, "email_address": "long@shop-co.example", "opt_in_status": False},
    )
    body = expect_problem(too_long, "POST", CUSTOMERS, 400, "Invalid Resource")
    assert body["errors"][0]["field"] == "id"

    no_email = await account.post(collection, json={"id": "c9", "opt_in_status": False})
    body = expect_problem(no_email, "POST", CUSTOMERS, 400, "Invalid Resource")
    assert body["errors"] == [
        {"field": "", "message": "Required fields were not provided: email_address"}
    ]

    no_opt_in = await account.post(collection, json={"id": "c9", "email_address": "a@b.example"})
    body = expect_problem(no_opt_in, "POST", CUSTOMERS, 400, "Invalid Resource")
    assert "opt_in_status" in body["errors"][0]["message"]

    url = shaped(CUSTOMER, store_id="shop", customer_id="c1")
    changed_email = await account.put(
        url, json={"id": "c1", "email_address": "new@shop-co.example", "opt_in_status": False}
    )
    body = expect_problem(changed_email, "PUT", CUSTOMER, 400, "Bad Request")
    assert body["detail"] == "An email address may not be changed once a customer is created."

    other_id = await account.put(
        url, json={"id": "c2", "email_address": "ann@shop-co.example", "opt_in_status": False}
    )
    expect_problem(other_id, "PUT", CUSTOMER, 400, "Invalid Resource")

    bad_type = await account.patch(url, json={"opt_in_status": "yes"})
    expect_problem(bad_type, "PATCH", CUSTOMER, 400, "Invalid Resource")

    unknown_store = await account.get(shaped(CUSTOMERS, store_id="nope"))
    expect_problem(unknown_store, "GET", CUSTOMERS, 404, "Resource Not Found")
    unknown_store_post = await account.post(
        shaped(CUSTOMERS, store_id="nope"),
        json={"id": "c1", "email_address": "a@b.example", "opt_in_status": False},
    )
    expect_problem(unknown_store_post, "POST", CUSTOMERS, 404, "Resource Not Found")


async def test_new_customer_adds_subscribed_or_transactional_member(account: Account) -> None:
    store = await make_store(account)
    list_id = store["list_id"]
    collection = shaped(CUSTOMERS, store_id="shop")
    await account.post(
        collection,
        json={
            "id": "in",
            "email_address": "in@shop-co.example",
            "opt_in_status": True,
            "first_name": "Ina",
        },
    )
    await account.post(
        collection,
        json={"id": "out", "email_address": "out@shop-co.example", "opt_in_status": False},
    )
    assert await member_status(account, list_id, "in@shop-co.example") == "subscribed"
    assert await member_status(account, list_id, "out@shop-co.example") == "transactional"
    member = (await account.get(f"/lists/{list_id}/members/{digest('in@shop-co.example')}")).json()
    assert member["merge_fields"]["FNAME"] == "Ina"


async def test_opt_in_false_to_true_upgrades_transactional_only(account: Account) -> None:
    store = await make_store(account)
    list_id = store["list_id"]
    collection = shaped(CUSTOMERS, store_id="shop")
    email = "tx@shop-co.example"
    await account.post(
        collection, json={"id": "tx", "email_address": email, "opt_in_status": False}
    )
    assert await member_status(account, list_id, email) == "transactional"
    url = shaped(CUSTOMER, store_id="shop", customer_id="tx")
    await account.patch(url, json={"opt_in_status": True})
    assert await member_status(account, list_id, email) == "subscribed"
    # true → false does not unsubscribe.
    patched = await account.patch(url, json={"opt_in_status": False})
    assert patched.json()["opt_in_status"] is False
    assert await member_status(account, list_id, email) == "subscribed"


async def test_customer_never_overwrites_an_existing_member(account: Account) -> None:
    store = await make_store(account)
    list_id = store["list_id"]
    collection = shaped(CUSTOMERS, store_id="shop")
    await put_member(account, list_id, "gone@shop-co.example", "unsubscribed")
    await put_member(account, list_id, "wait@shop-co.example", "pending")
    await put_member(account, list_id, "fan@shop-co.example", "subscribed")
    await put_member(account, list_id, "tx@shop-co.example", "transactional")

    for cid, email, opt_in in (
        ("gone", "gone@shop-co.example", True),
        ("wait", "wait@shop-co.example", True),
        ("fan", "fan@shop-co.example", False),
        ("tx", "tx@shop-co.example", True),
    ):
        response = await account.post(
            collection, json={"id": cid, "email_address": email, "opt_in_status": opt_in}
        )
        assert response.status_code == 200, response.text
    assert await member_status(account, list_id, "gone@shop-co.example") == "unsubscribed"
    assert await member_status(account, list_id, "wait@shop-co.example") == "pending"
    assert await member_status(account, list_id, "fan@shop-co.example") == "subscribed"
    # A pre-existing transactional member is not upgraded by a *new* customer.
    assert await member_status(account, list_id, "tx@shop-co.example") == "transactional"

    # An unsubscribed contact is never re-subscribed, even by a false → true change.
    await account.put(
        shaped(CUSTOMER, store_id="shop", customer_id="gone"),
        json={"id": "gone", "email_address": "gone@shop-co.example", "opt_in_status": False},
    )
    await account.patch(
        shaped(CUSTOMER, store_id="shop", customer_id="gone"), json={"opt_in_status": True}
    )
    assert await member_status(account, list_id, "gone@shop-co.example") == "unsubscribed"


# -- products and variants ----------------------------------------------------------------


async def test_product_lifecycle_conforms(account: Account) -> None:
    await make_store(account)
    collection = shaped(PRODUCTS, store_id="shop")
    created = ok(await account.post(collection, json=MUG), "POST", PRODUCTS)
    assert created["currency_code"] == "USD"
    assert [v["id"] for v in created["variants"]] == ["mug-red", "mug-blue"]
    assert created["variants"][0]["sku"] == "M-R"

    url = shaped(PRODUCT, store_id="shop", product_id="mug")
    assert ok(await account.get(url), "GET", PRODUCT)["title"] == "Mug"
    patched = ok(
        await account.patch(url, json={"title": "Big mug", "vendor": "Potter"}), "PATCH", PRODUCT
    )
    assert patched["title"] == "Big mug"
    assert patched["vendor"] == "Potter"

    put = ok(await account.put(url, json={"id": "mug", "description": "Holds tea"}), "PUT", PRODUCT)
    assert put["description"] == "Holds tea"
    assert len(put["variants"]) == 2

    tee = {"id": "tee", "title": "Tee", "variants": [{"id": "tee", "title": "Tee"}]}
    created_by_put = ok(
        await account.put(shaped(PRODUCT, store_id="shop", product_id="tee"), json=tee),
        "PUT",
        PRODUCT,
    )
    assert created_by_put["id"] == "tee"

    listed = ok(await account.get(collection, params={"count": 1}), "GET", PRODUCTS)
    assert listed["total_items"] == 2
    assert [p["id"] for p in listed["products"]] == ["mug"]

    assert ok(await account.delete(url), "DELETE", PRODUCT) is None
    expect_problem(await account.get(url), "GET", PRODUCT, 404, "Resource Not Found")
    expect_problem(await account.delete(url), "DELETE", PRODUCT, 404, "Resource Not Found")
    expect_problem(
        await account.patch(url, json={"title": "x"}),
        "PATCH",
        PRODUCT,
        404,
        "Resource Not Found",
    )


async def test_product_errors(account: Account) -> None:
    await make_store(account)
    collection = shaped(PRODUCTS, store_id="shop")
    await account.post(collection, json=MUG)
    dup = await account.post(collection, json=MUG)
    body = expect_problem(dup, "POST", PRODUCTS, 400, "Bad Request")
    assert body["detail"] == (
        "We were unable to process the request. "
        "A product with the provided ID already exists in the account."
    )
    no_variants = await account.post(collection, json={"id": "p", "title": "P"})
    body = expect_problem(no_variants, "POST", PRODUCTS, 400, "Invalid Resource")
    assert "variants" in body["errors"][0]["message"]
    empty = await account.post(collection, json={"id": "p", "title": "P", "variants": []})
    body = expect_problem(empty, "POST", PRODUCTS, 400, "Invalid Resource")
    assert body["errors"][0]["field"] == "variants"
    untitled_variant = await account.post(
        collection, json={"id": "p", "title": "P", "variants": [{"id": "v"}]}
    )
    expect_problem(untitled_variant, "POST", PRODUCTS, 400, "Invalid Resource")
    put_new_without_variants = await account.put(
        shaped(PRODUCT, store_id="shop", product_id="p"), json={"id": "p", "title": "P"}
    )
    expect_problem(put_new_without_variants, "PUT", PRODUCT, 400, "Invalid Resource")
    assert (await account.get(shaped(PRODUCT, store_id="shop", product_id="p"))).status_code == 404
    listing = await account.get(shaped(PRODUCTS, store_id="nope"))
    expect_problem(listing, "GET", PRODUCTS, 404, "Resource Not Found")


async def test_variant_lifecycle_conforms(account: Account) -> None:
    await make_store(account)
    await account.post(shaped(PRODUCTS, store_id="shop"), json=MUG)
    collection = shaped(VARIANTS, store_id="shop", product_id="mug")
    created = ok(
        await account.post(
            collection, json={"id": "mug-green", "title": "Green mug", "inventory_quantity": 4}
        ),
        "POST",
        VARIANTS,
    )
    assert created["inventory_quantity"] == 4
    dup = await account.post(collection, json={"id": "mug-green", "title": "Again"})
    body = expect_problem(dup, "POST", VARIANTS, 400, "Bad Request")
    assert "A variant with the provided ID already exists" in body["detail"]

    listed = ok(await account.get(collection, params={"offset": 2}), "GET", VARIANTS)
    assert listed["total_items"] == 3
    assert listed["product_id"] == "mug"
    assert [v["id"] for v in listed["variants"]] == ["mug-green"]

    url = shaped(VARIANT, store_id="shop", product_id="mug", variant_id="mug-green")
    assert ok(await account.get(url), "GET", VARIANT)["title"] == "Green mug"
    patched = ok(await account.patch(url, json={"price": 12.0}), "PATCH", VARIANT)
    assert patched["price"] == 12.0
    put = ok(await account.put(url, json={"id": "mug-green", "title": "Lime mug"}), "PUT", VARIANT)
    assert put["title"] == "Lime mug"
    assert put["price"] == 12.0
    new_url = shaped(VARIANT, store_id="shop", product_id="mug", variant_id="mug-black")
    assert (
        ok(
            await account.put(new_url, json={"id": "mug-black", "title": "Black mug"}),
            "PUT",
            VARIANT,
        )["id"]
        == "mug-black"
    )
    untitled = await account.put(
        shaped(VARIANT, store_id="shop", product_id="mug", variant_id="v9"), json={"id": "v9"}
    )
    expect_problem(untitled, "PUT", VARIANT, 400, "Invalid Resource")

    assert ok(await account.delete(url), "DELETE", VARIANT) is None
    expect_problem(await account.get(url), "GET", VARIANT, 404, "Resource Not Found")
    expect_problem(await account.delete(url), "DELETE", VARIANT, 404, "Resource Not Found")
    expect_problem(
        await account.patch(url, json={"price": 1}), "PATCH", VARIANT, 404, "Resource Not Found"
    )
    expect_problem(
        await account.get(shaped(VARIANTS, store_id="shop", product_id="nope")),
        "GET",
        VARIANTS,
        404,
        "Resource Not Found",
    )
    no_title = await account.post(collection, json={"id": "v2"})
    expect_problem(no_title, "POST", VARIANTS, 400, "Invalid Resource")


async def test_the_last_variant_cannot_be_deleted(account: Account) -> None:
    await make_store(account)
    tee = {"id": "tee", "title": "Tee", "variants": [{"id": "tee", "title": "Tee"}]}
    await account.post(shaped(PRODUCTS, store_id="shop"), json=tee)
    url = shaped(VARIANT, store_id="shop", product_id="tee", variant_id="tee")
    body = expect_problem(await account.delete(url), "DELETE", VARIANT, 400, "Bad Request")
    assert "at least one variant" in body["detail"]
    assert (await account.get(url)).status_code == 200


# -- orders -----------------------------------------------------------------------------


def order_body(order_id: str = "o1", **extra: Any) -> dict[str, Any]:
    return {
        "id": order_id,
        "customer": {
            "id": "buyer",
            "email_address": "buyer@shop-co.example",
            "opt_in_status": False,
        },
        "currency_code": "USD",
        "order_total": 19.0,
        "lines": [
            {
                "id": "l1",
                "product_id": "mug",
                "product_variant_id": "mug-red",
                "quantity": 2,
                "price": 9.5,
            }
        ],
        **extra,
    }


async def test_order_lifecycle_conforms(account: Account) -> None:
    store = await make_store(account)
    await account.post(shaped(PRODUCTS, store_id="shop"), json=MUG)
    collection = shaped(ORDERS, store_id="shop")
    created = ok(
        await account.post(
            collection,
            json=order_body(financial_status="paid", campaign_id="cmp1", tracking_code="prec"),
        ),
        "POST",
        ORDERS,
    )
    assert created["store_id"] == "shop"
    assert created["financial_status"] == "paid"
    assert created["customer"]["id"] == "buyer"
    assert created["customer"]["orders_count"] == 1
    assert created["customer"]["total_spent"] == 19.0
    assert created["lines"][0]["product_title"] == "Mug"
    assert created["lines"][0]["product_variant_title"] == "Red mug"
    # The buyer became a customer, and a transactional member of the audience.
    customer = await account.get(shaped(CUSTOMER, store_id="shop", customer_id="buyer"))
    assert customer.json()["email_address"] == "buyer@shop-co.example"
    assert await member_status(account, store["list_id"], "buyer@shop-co.example") == (
        "transactional"
    )

    url = shaped(ORDER, store_id="shop", order_id="o1")
    assert ok(await account.get(url), "GET", ORDER)["order_total"] == 19.0
    patched = ok(
        await account.patch(
            url,
            json={
                "fulfillment_status": "shipped",
                "lines": [
                    {
                        "id": "l2",
                        "product_id": "mug",
                        "product_variant_id": "mug-blue",
                        "quantity": 1,
                        "price": 9.5,
                    }
                ],
                "order_total": 28.5,
            },
        ),
        "PATCH",
        ORDER,
    )
    assert patched["fulfillment_status"] == "shipped"
    assert [line["id"] for line in patched["lines"]] == ["l1", "l2"]
    assert patched["customer"]["total_spent"] == 28.5

    replaced = ok(
        await account.put(
            url,
            json={
                "id": "o1",
                "lines": [
                    {
                        "id": "l3",
                        "product_id": "mug",
                        "product_variant_id": "mug-red",
                        "quantity": 1,
                        "price": 9.5,
                    }
                ],
            },
        ),
        "PUT",
        ORDER,
    )
    assert [line["id"] for line in replaced["lines"]] == ["l3"]
    assert replaced["financial_status"] == "paid"

    new_by_put = ok(
        await account.put(shaped(ORDER, store_id="shop", order_id="o2"), json=order_body("o2")),
        "PUT",
        ORDER,
    )
    assert new_by_put["id"] == "o2"

    listed = ok(await account.get(collection), "GET", ORDERS)
    assert listed["total_items"] == 2
    by_campaign = ok(await account.get(collection, params={"campaign_id": "cmp1"}), "GET", ORDERS)
    assert [o["id"] for o in by_campaign["orders"]] == ["o1"]
    by_customer = ok(
        await account.get(collection, params={"customer_id": "buyer", "count": 1, "offset": 1}),
        "GET",
        ORDERS,
    )
    assert by_customer["total_items"] == 2
    assert [o["id"] for o in by_customer["orders"]] == ["o2"]
    everywhere = ok(await account.get("/ecommerce/orders"), "GET", "/ecommerce/orders")
    assert {o["id"] for o in everywhere["orders"]} == {"o1", "o2"}
    assert all(o["store_id"] == "shop" for o in everywhere["orders"])

    assert ok(await account.delete(url), "DELETE", ORDER) is None
    expect_problem(await account.get(url), "GET", ORDER, 404, "Resource Not Found")
    expect_problem(await account.delete(url), "DELETE", ORDER, 404, "Resource Not Found")
    expect_problem(
        await account.patch(url, json={"order_total": 1}),
        "PATCH",
        ORDER,
        404,
        "Resource Not Found",
    )
    customer_after = (
        await account.get(shaped(CUSTOMER, store_id="shop", customer_id="buyer"))
    ).json()
    assert customer_after["orders_count"] == 1


async def test_order_lines_must_reference_existing_products(account: Account) -> None:
    store = await make_store(account)
    await account.post(shaped(PRODUCTS, store_id="shop"), json=MUG)
    collection = shaped(ORDERS, store_id="shop")
    body = order_body()
    body["lines"][0]["product_id"] = "ghost"
    missing_product = await account.post(collection, json=body)
    problem = expect_problem(missing_product, "POST", ORDERS, 400, "Bad Request")
    assert problem["detail"] == NO_PRODUCT

    body = order_body()
    body["lines"][0]["product_variant_id"] = "ghost"
    missing_variant = await account.post(collection, json=body)
    problem = expect_problem(missing_variant, "POST", ORDERS, 400, "Bad Request")
    assert problem["detail"] == NO_VARIANT

    # A refused order leaves no customer and no audience member behind.
    assert (await account.get(shaped(CUSTOMERS, store_id="shop"))).json()["total_items"] == 0
    assert await member_status(account, store["list_id"], "buyer@shop-co.example") is None
    assert (await account.get(collection)).json()["total_items"] == 0

    await account.post(collection, json=order_body())
    dup = await account.post(collection, json=order_body())
    problem = expect_problem(dup, "POST", ORDERS, 400, "Bad Request")
    assert problem["detail"] == (
        "We were unable to process the request. "
        "An order with the provided ID already exists in the account."
    )
    url = shaped(ORDER, store_id="shop", order_id="o1")
    bad_patch = await account.patch(
        url, json={"lines": [{"id": "l1", "product_variant_id": "ghost"}]}
    )
    problem = expect_problem(bad_patch, "PATCH", ORDER, 400, "Bad Request")
    assert problem["detail"] == NO_VARIANT
    bad_put = await account.put(
        url,
        json={
            "id": "o1",
            "lines": [
                {
                    "id": "l9",
                    "product_id": "ghost",
                    "product_variant_id": "x",
                    "quantity": 1,
                    "price": 1,
                }
            ],
        },
    )
    expect_problem(bad_put, "PUT", ORDER, 400, "Bad Request")
    incomplete_new = await account.put(
        shaped(ORDER, store_id="shop", order_id="o7"), json={"id": "o7", "order_total": 1}
    )
    expect_problem(incomplete_new, "PUT", ORDER, 400, "Invalid Resource")

    no_lines = await account.post(collection, json={"id": "o3", "currency_code": "USD"})
    problem = expect_problem(no_lines, "POST", ORDERS, 400, "Invalid Resource")
    assert "Required fields were not provided" in problem["errors"][0]["message"]

    new_buyer_without_email = order_body("o4")
    new_buyer_without_email["customer"] = {"id": "anon"}
    problem = expect_problem(
        await account.post(collection, json=new_buyer_without_email),
        "POST",
        ORDERS,
        400,
        "Invalid Resource",
    )
    assert problem["errors"] == [
        {"field": "customer", "message": "Required fields were not provided: email_address"}
    ]
    list_unknown = await account.get(shaped(ORDERS, store_id="nope"))
    expect_problem(list_unknown, "GET", ORDERS, 404, "Resource Not Found")
    bad_filter = await account.get("/ecommerce/orders", params={"count": "many"})
    expect_problem(bad_filter, "GET", "/ecommerce/orders", 400, "Invalid Resource")


async def test_order_lines_endpoints(account: Account) -> None:
    await make_store(account)
    await account.post(shaped(PRODUCTS, store_id="shop"), json=MUG)
    await account.post(shaped(ORDERS, store_id="shop"), json=order_body())
    lines = shaped(ORDER_LINES, store_id="shop", order_id="o1")
    listed = ok(await account.get(lines), "GET", ORDER_LINES)
    assert listed["order_id"] == "o1"
    assert listed["total_items"] == 1
    line_url = shaped(ORDER_LINE, store_id="shop", order_id="o1", line_id="l1")
    line = ok(await account.get(line_url), "GET", ORDER_LINE)
    assert line["quantity"] == 2

    added = ok(
        await account.post(
            lines,
            json={
                "id": "l2",
                "product_id": "mug",
                "product_variant_id": "mug-blue",
                "quantity": 1,
                "price": 9.5,
                "discount": 1.0,
            },
        ),
        "POST",
        ORDER_LINES,
    )
    assert added["discount"] == 1.0
    dup = await account.post(
        lines,
        json={
            "id": "l2",
            "product_id": "mug",
            "product_variant_id": "mug-blue",
            "quantity": 1,
            "price": 9.5,
        },
    )
    expect_problem(dup, "POST", ORDER_LINES, 400, "Bad Request")
    ghost = await account.post(
        lines,
        json={
            "id": "l3",
            "product_id": "ghost",
            "product_variant_id": "x",
            "quantity": 1,
            "price": 1,
        },
    )
    assert expect_problem(ghost, "POST", ORDER_LINES, 400, "Bad Request")["detail"] == NO_PRODUCT

    patched = ok(await account.patch(line_url, json={"quantity": 5}), "PATCH", ORDER_LINE)
    assert patched["quantity"] == 5
    bad = await account.patch(line_url, json={"product_id": "ghost"})
    expect_problem(bad, "PATCH", ORDER_LINE, 400, "Bad Request")

    paged = ok(await account.get(lines, params={"count": 1, "offset": 1}), "GET", ORDER_LINES)
    assert [x["id"] for x in paged["lines"]] == ["l2"]
    assert ok(await account.delete(line_url), "DELETE", ORDER_LINE) is None
    expect_problem(await account.get(line_url), "GET", ORDER_LINE, 404, "Resource Not Found")
    expect_problem(await account.delete(line_url), "DELETE", ORDER_LINE, 404, "Resource Not Found")
    expect_problem(
        await account.get(shaped(ORDER_LINES, store_id="shop", order_id="nope")),
        "GET",
        ORDER_LINES,
        404,
        "Resource Not Found",
    )


async def test_order_for_existing_customer_by_id(account: Account) -> None:
    await make_store(account)
    await account.post(shaped(PRODUCTS, store_id="shop"), json=MUG)
    await account.post(
        shaped(CUSTOMERS, store_id="shop"),
        json={"id": "buyer", "email_address": "buyer@shop-co.example", "opt_in_status": True},
    )
    body = order_body()
    body["customer"] = {"id": "buyer"}
    created = (await account.post(shaped(ORDERS, store_id="shop"), json=body)).json()
    assert created["customer"]["email_address"] == "buyer@shop-co.example"
    assert created["customer"]["opt_in_status"] is True
    other_email = order_body("o2")
    other_email["customer"]["email_address"] = "someone-else@shop-co.example"
    response = await account.post(shaped(ORDERS, store_id="shop"), json=other_email)
    problem = expect_problem(response, "POST", ORDERS, 400, "Bad Request")
    assert problem["detail"] == "An email address may not be changed once a customer is created."


# -- carts ----------------------------------------------------------------------------------


async def test_cart_lifecycle_conforms(account: Account) -> None:
    await make_store(account)
    await account.post(shaped(PRODUCTS, store_id="shop"), json=MUG)
    collection = shaped(CARTS, store_id="shop")
    body = order_body("cart1", checkout_url="https://shop.example/checkout/1")
    for line in body["lines"]:
        line.pop("discount", None)
    created = ok(await account.post(collection, json=body), "POST", CARTS)
    assert created["checkout_url"] == "https://shop.example/checkout/1"
    assert created["lines"][0]["product_variant_title"] == "Red mug"
    dup = await account.post(collection, json=body)
    problem = expect_problem(dup, "POST", CARTS, 400, "Bad Request")
    assert "A cart with the provided ID already exists" in problem["detail"]
    ghost = dict(body, id="cart2", lines=[dict(body["lines"][0], product_id="ghost")])
    assert (
        expect_problem(
            await account.post(collection, json=ghost), "POST", CARTS, 400, "Bad Request"
        )["detail"]
        == NO_PRODUCT
    )

    url = shaped(CART, store_id="shop", cart_id="cart1")
    assert ok(await account.get(url), "GET", CART)["order_total"] == 19.0
    patched = ok(await account.patch(url, json={"order_total": 9.5}), "PATCH", CART)
    assert patched["order_total"] == 9.5
    listed = ok(await account.get(collection), "GET", CARTS)
    assert listed["total_items"] == 1

    lines = shaped(CART_LINES, store_id="shop", cart_id="cart1")
    assert ok(await account.get(lines), "GET", CART_LINES)["cart_id"] == "cart1"
    added = ok(
        await account.post(
            lines,
            json={
                "id": "l2",
                "product_id": "mug",
                "product_variant_id": "mug-blue",
                "quantity": 1,
                "price": 9.5,
            },
        ),
        "POST",
        CART_LINES,
    )
    assert added["product_variant_title"] == "Blue mug"
    line_url = shaped(CART_LINE, store_id="shop", cart_id="cart1", line_id="l2")
    assert ok(await account.get(line_url), "GET", CART_LINE)["quantity"] == 1
    assert (
        ok(await account.patch(line_url, json={"quantity": 3}), "PATCH", CART_LINE)["quantity"] == 3
    )
    assert ok(await account.delete(line_url), "DELETE", CART_LINE) is None
    for method, path in (("GET", CART_LINE), ("DELETE", CART_LINE)):
        response = await account.request(method, line_url)
        expect_problem(response, method, path, 404, "Resource Not Found")
    expect_problem(
        await account.patch(line_url, json={"quantity": 1}),
        "PATCH",
        CART_LINE,
        404,
        "Resource Not Found",
    )
    missing_fields = await account.post(lines, json={"id": "l5"})
    expect_problem(missing_fields, "POST", CART_LINES, 400, "Invalid Resource")
    expect_problem(
        await account.get(shaped(CART_LINES, store_id="shop", cart_id="nope")),
        "GET",
        CART_LINES,
        404,
        "Resource Not Found",
    )

    assert ok(await account.delete(url), "DELETE", CART) is None
    expect_problem(await account.get(url), "GET", CART, 404, "Resource Not Found")
    expect_problem(await account.delete(url), "DELETE", CART, 404, "Resource Not Found")
    expect_problem(
        await account.patch(url, json={"order_total": 1}),
        "PATCH",
        CART,
        404,
        "Resource Not Found",
    )
    expect_problem(
        await account.get(shaped(CARTS, store_id="nope")),
        "GET",
        CARTS,
        404,
        "Resource Not Found",
    )
    # Orders and carts are different collections: no PUT on carts (405 with Allow).
    put = await account.put(url, json=body)
    assert put.status_code == 405
    assert "PUT" not in put.headers["allow"]


# -- promo rules and codes ----------------------------------------------------------------


async def test_promo_rules_and_codes_conform(account: Account) -> None:
    await make_store(account)
    rules = shaped(RULES, store_id="shop")
    rule = {
        "id": "summer",
        "description": "Summer sale",
        "amount": 0.1,
        "type": "percentage",
        "target": "total",
    }
    created = ok(await account.post(rules, json=rule), "POST", RULES)
    assert created["enabled"] is True
    dup = await account.post(rules, json=rule)
    problem = expect_problem(dup, "POST", RULES, 400, "Bad Request")
    assert "A promo rule with the provided ID already exists" in problem["detail"]
    bad_enum = await account.post(rules, json=dict(rule, id="x", type="gift"))
    problem = expect_problem(bad_enum, "POST", RULES, 400, "Invalid Resource")
    assert problem["errors"][0]["field"] == "type"

    url = shaped(RULE, store_id="shop", promo_rule_id="summer")
    assert ok(await account.get(url), "GET", RULE)["target"] == "total"
    patched = ok(await account.patch(url, json={"enabled": False, "amount": 0.2}), "PATCH", RULE)
    assert patched["enabled"] is False
    assert patched["amount"] == 0.2
    listed = ok(await account.get(rules), "GET", RULES)
    assert listed["total_items"] == 1

    codes = shaped(CODES, store_id="shop", promo_rule_id="summer")
    code = {"id": "sun10", "code": "SUN10", "redemption_url": "https://shop.example/sun"}
    created_code = ok(await account.post(codes, json=code), "POST", CODES)
    assert created_code["usage_count"] == 0
    dup_code = await account.post(codes, json=code)
    expect_problem(dup_code, "POST", CODES, 400, "Bad Request")
    no_url = await account.post(codes, json={"id": "x", "code": "X"})
    expect_problem(no_url, "POST", CODES, 400, "Invalid Resource")
    code_url = shaped(CODE, store_id="shop", promo_rule_id="summer", promo_code_id="sun10")
    assert ok(await account.get(code_url), "GET", CODE)["code"] == "SUN10"
    assert (
        ok(await account.patch(code_url, json={"usage_count": 3}), "PATCH", CODE)["usage_count"]
        == 3
    )
    assert ok(await account.get(codes), "GET", CODES)["total_items"] == 1
    assert ok(await account.delete(code_url), "DELETE", CODE) is None
    for method in ("GET", "DELETE"):
        response = await account.request(method, code_url)
        expect_problem(response, method, CODE, 404, "Resource Not Found")
    expect_problem(
        await account.patch(code_url, json={"usage_count": 1}),
        "PATCH",
        CODE,
        404,
        "Resource Not Found",
    )
    expect_problem(
        await account.get(shaped(CODES, store_id="shop", promo_rule_id="nope")),
        "GET",
        CODES,
        404,
        "Resource Not Found",
    )

    # Deleting the rule deletes its codes.
    await account.post(codes, json=code)
    assert ok(await account.delete(url), "DELETE", RULE) is None
    for method in ("GET", "DELETE"):
        response = await account.request(method, url)
        expect_problem(response, method, RULE, 404, "Resource Not Found")
    expect_problem(
        await account.patch(url, json={"amount": 1}), "PATCH", RULE, 404, "Resource Not Found"
    )
    expect_problem(
        await account.get(shaped(RULES, store_id="nope")),
        "GET",
        RULES,
        404,
        "Resource Not Found",
    )


async def test_deleting_a_store_deletes_its_data_but_not_members(account: Account) -> None:
    store = await make_store(account)
    await account.post(
        shaped(CUSTOMERS, store_id="shop"),
        json={"id": "c1", "email_address": "keep@shop-co.example", "opt_in_status": True},
    )
    await account.delete(shaped(STORE, store_id="shop"))
    recreated = await make_store(account, list_id=store["list_id"])
    assert recreated["id"] == "shop"
    assert (await account.get(shaped(CUSTOMERS, store_id="shop"))).json()["total_items"] == 0
    assert await member_status(account, store["list_id"], "keep@shop-co.example") == "subscribed"


async def test_customer_subscribing_fires_a_subscribe_webhook(
    emulator: Emulator, account: Account, receiver: Receiver
) -> None:
    store = await make_store(account)
    await make_hook(account, store["list_id"], receiver.url("/hook"))
    collection = shaped(CUSTOMERS, store_id="shop")
    # Transactional contacts are not subscriptions: no event for them ...
    await account.post(
        collection, json={"id": "tx", "email_address": "tx@shop-co.example", "opt_in_status": False}
    )
    await account.post(
        collection,
        json={
            "id": "in",
            "email_address": "in@shop-co.example",
            "opt_in_status": True,
            "first_name": "Ina",
        },
    )
    [first] = await wait_until(emulator, settled(1))
    assert first["type"] == "subscribe"
    assert first["source"] == "api"
    form = fields(receiver.requests("POST", "/hook")[0].body)
    assert form["data[email]"] == "in@shop-co.example"
    assert form["data[list_id]"] == store["list_id"]
    assert form["data[merges][FNAME]"] == "Ina"
    # ... until the customer opts in (false → true), which subscribes them.
    await account.patch(
        shaped(CUSTOMER, store_id="shop", customer_id="tx"), json={"opt_in_status": True}
    )
    found = await wait_until(emulator, settled(2))
    assert [d["type"] for d in found] == ["subscribe", "subscribe"]
    second = fields(receiver.requests("POST", "/hook")[1].body)
    assert second["data[email]"] == "tx@shop-co.example"


async def test_foreign_timestamps_are_normalised_and_checked(account: Account) -> None:
    await make_store(account)
    await account.post(shaped(PRODUCTS, store_id="shop"), json=MUG)
    collection = shaped(ORDERS, store_id="shop")
    # Platforms send "2018-06-12 01:20:05" or "...+0000" (mailchimp-for-wordpress logs).
    created = ok(
        await account.post(
            collection,
            json=order_body(
                processed_at_foreign="2018-06-12 01:20:05",
                updated_at_foreign="2022-12-07T12:39:28+0100",
            ),
        ),
        "POST",
        ORDERS,
    )
    assert created["processed_at_foreign"] == "2018-06-12T01:20:05+00:00"
    assert created["updated_at_foreign"] == "2022-12-07T11:39:28+00:00"
    assert "cancelled_at_foreign" not in created  # unset: no date-time to give
    bad = await account.post(collection, json=order_body("o2", cancelled_at_foreign="yesterday"))
    problem = expect_problem(bad, "POST", ORDERS, 400, "Invalid Resource")
    assert problem["errors"][0]["field"] == "cancelled_at_foreign"


async def test_titles_and_descriptions_are_type_checked(account: Account) -> None:
    await make_store(account)
    products = shaped(PRODUCTS, store_id="shop")
    response = await account.post(products, json={**MUG, "title": {}})
    problem = expect_problem(response, "POST", PRODUCTS, 400, "Invalid Resource")
    assert problem["errors"] == [
        {"field": "title", "message": "Schema describes string, object found instead"}
    ]
    await account.post(products, json=MUG)
    variant = await account.patch(
        shaped(VARIANT, store_id="shop", product_id="mug", variant_id="mug-red"), json={"title": 1}
    )
    expect_problem(variant, "PATCH", VARIANT, 400, "Invalid Resource")
    rule = await account.post(
        shaped(RULES, store_id="shop"),
        json={"id": "r", "description": ["x"], "amount": 1, "type": "fixed", "target": "total"},
    )
    problem = expect_problem(rule, "POST", RULES, 400, "Invalid Resource")
    assert problem["errors"][0]["field"] == "description"
    assert (await account.get(shaped(PRODUCT, store_id="shop", product_id="mug"))).json()[
        "variants"
    ][0]["title"] == "Red mug"
