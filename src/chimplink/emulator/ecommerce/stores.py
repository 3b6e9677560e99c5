"""E-commerce stores: `/ecommerce/stores[/{store_id}]`."""

from __future__ import annotations

import re
from typing import Any

from chimplink.emulator import problems
from chimplink.emulator.backend import now_iso
from chimplink.emulator.context import ApiContext
from chimplink.emulator.ecommerce.models import (
    STORE_FIELDS,
    Store,
    already_exists,
    assign,
    ecommerce_of,
    require_id,
    require_store,
)
from chimplink.emulator.links import self_links
from chimplink.emulator.lists.models import lists_of
from chimplink.emulator.params import page

_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


def store_url(ctx: ApiContext, store_id: str) -> str:
    return ctx.api_url(f"/ecommerce/stores/{store_id}")


def render_store(ctx: ApiContext, store: Store) -> dict[str, Any]:
    return {
        "id": store.id,
        "list_id": store.list_id,
        "name": store.name,
        "platform": store.platform,
        "domain": store.domain,
        "is_syncing": store.is_syncing,
        "email_address": store.email_address,
        "currency_code": store.currency_code,
        "money_format": store.money_format,
        "primary_locale": store.primary_locale,
        "timezone": store.timezone,
        "phone": store.phone,
        "address": store.address,
        "list_is_active": store.list_id in lists_of(ctx.account).lists,
        "created_at": store.created_at,
        "updated_at": store.updated_at,
        "_links": self_links(store_url(ctx, store.id), "Ecommerce/Stores/Response"),
    }


def _check_currency(body: dict[str, Any]) -> None:
    code = body.get("currency_code")
    if code is not None and not _CURRENCY.match(code):
        raise problems.field_error(
            "currency_code", "currency_code must be a three-letter ISO 4217 code."
        )
    if code is not None:
        body["currency_code"] = code.upper()


def _check_domain(ctx: ApiContext, domain: str, own_id: str) -> None:
    """One store per domain in an account (the Magento plugin's 2018 reports)."""
    if not domain:
        return
    for other in ecommerce_of(ctx.account).stores.values():
        if other.id != own_id and other.domain == domain:
            raise problems.bad_request(
                "We were unable to process the request. "
                f"A store with the domain {domain} already exists in the account."
            )


async def list_stores(ctx: ApiContext) -> dict[str, Any]:
    stores = list(ecommerce_of(ctx.account).stores.values())
    return {
        "stores": [render_store(ctx, store) for store in page(ctx.query, stores)],
        "total_items": len(stores),
        "_links": self_links(ctx.api_url("/ecommerce/stores"), "Ecommerce/Stores/Collection"),
    }


async def create_store(ctx: ApiContext) -> dict[str, Any]:
    body = await ctx.validated_json()
    store_id = require_id(body)
    for name in ("name", "list_id"):
        require_id(body, name)
    _check_currency(body)
    state = ecommerce_of(ctx.account)
    if store_id in state.stores:
        raise already_exists("A store")
    if body["list_id"] not in lists_of(ctx.account).lists:
        raise problems.field_error("list_id", "The list_id does not match any audience.")
    _check_domain(ctx, body.get("domain", ""), store_id)
    store = Store(id=store_id, list_id=body["list_id"], name=body["name"], currency_code="USD")
    assign(store, body, STORE_FIELDS)
    state.stores[store_id] = store
    return render_store(ctx, store)


async def get_store(ctx: ApiContext) -> dict[str, Any]:
    return render_store(ctx, require_store(ctx.account, ctx.params["store_id"]))


async def update_store(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    body = await ctx.validated_json()
    # "The list_id cannot change later" (REFERENCE.md §10): the PATCH schema has
    # no list_id; sending a different one is refused rather than ignored.
    if "list_id" in body and body["list_id"] != store.list_id:
        raise problems.field_error(
            "list_id", "The list_id of a store cannot be changed once the store is created."
        )
    if "name" in body:
        require_id(body, "name")
    _check_currency(body)
    if "domain" in body:
        _check_domain(ctx, body["domain"], store.id)
    assign(store, body, STORE_FIELDS)
    store.updated_at = now_iso()
    return render_store(ctx, store)


async def delete_store(ctx: ApiContext) -> None:
    store = require_store(ctx.account, ctx.params["store_id"])
    del ecommerce_of(ctx.account).stores[store.id]
