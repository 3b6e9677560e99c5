"""E-commerce customers: `/ecommerce/stores/{store_id}/customers[/{customer_id}]`.

Every write goes through `create_customer` / `update_customer`, which orders
and carts use too (a line item's buyer is a customer), so the audience rules of
`audience.py` apply whichever endpoint brought the customer in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chimplink.emulator import problems
from chimplink.emulator.backend import now_iso
from chimplink.emulator.context import ApiContext
from chimplink.emulator.ecommerce.audience import sync_member
from chimplink.emulator.ecommerce.models import (
    CUSTOMER_FIELDS,
    Customer,
    Store,
    already_exists,
    assign,
    customer_totals,
    require_customer,
    require_id,
    require_store,
)
from chimplink.emulator.links import self_links
from chimplink.emulator.members.models import subscriber_hash
from chimplink.emulator.params import page

EMAIL_IMMUTABLE = "An email address may not be changed once a customer is created."


def render_customer(
    ctx: ApiContext, store: Store, customer: Customer, totals: tuple[int, float] | None = None
) -> dict[str, Any]:
    count, spent = totals if totals is not None else customer_totals(store).get(customer.id, (0, 0))
    return {
        "id": customer.id,
        "email_address": customer.email_address,
        "opt_in_status": customer.opt_in_status,
        "company": customer.company,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "sms_phone_number": customer.sms_phone_number,
        "orders_count": count,
        "total_spent": round(float(spent), 2),
        "address": customer.address,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        "_links": self_links(
            ctx.api_url(f"/ecommerce/stores/{store.id}/customers/{customer.id}"),
            "Ecommerce/Stores/Customers/Response",
        ),
    }


def create_customer(
    ctx: ApiContext, store: Store, body: Mapping[str, Any], *, field: str = ""
) -> Customer:
    """A new customer from `body` (its id already checked free), and its audience member."""
    customer_id = require_id(body, prefix=field)
    email = body.get("email_address")
    # The 3.0.85 schema dropped `email_address` from the required list, but a
    # customer is an audience contact and 3.0.55 required it (REFERENCE.md §10).
    if not isinstance(email, str) or not email.strip():
        raise problems.invalid_resource(
            errors=[{"field": field, "message": "Required fields were not provided: email_address"}]
        )
    if "@" not in email:
        raise problems.field_error(
            f"{field}.email_address" if field else "email_address",
            "This value should be a valid email address.",
        )
    customer = Customer(
        id=customer_id,
        email_address=email.strip(),
        opt_in_status=bool(body.get("opt_in_status", False)),
    )
    assign(customer, body, CUSTOMER_FIELDS)
    store.customers[customer_id] = customer
    sync_member(
        account=ctx.account,
        backend=ctx.backend,
        list_id=store.list_id,
        customer=customer,
        previous_opt_in=None,
    )
    return customer


def update_customer(
    ctx: ApiContext, customer: Customer, store: Store, body: Mapping[str, Any]
) -> None:
    email = body.get("email_address")
    if email is not None and subscriber_hash(email) != subscriber_hash(customer.email_address):
        raise problems.bad_request(EMAIL_IMMUTABLE)
    previous = customer.opt_in_status
    if "opt_in_status" in body:
        customer.opt_in_status = bool(body["opt_in_status"])
    assign(customer, body, CUSTOMER_FIELDS)
    customer.updated_at = now_iso()
    sync_member(
        account=ctx.account,
        backend=ctx.backend,
        list_id=store.list_id,
        customer=customer,
        previous_opt_in=previous,
    )


def resolve_buyer(ctx: ApiContext, store: Store, raw: Mapping[str, Any]) -> Customer:
    """The `customer` of an order or cart: an existing one (updated) or a new one."""
    customer_id = require_id(raw, prefix="customer")
    existing = store.customers.get(customer_id)
    if existing is None:
        return create_customer(ctx, store, raw, field="customer")
    if len(raw) > 1:
        update_customer(ctx, existing, store, raw)
    return existing


async def list_customers(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    customers = list(store.customers.values())
    email = ctx.query.get("email_address")
    if email:
        wanted = subscriber_hash(email)
        customers = [c for c in customers if subscriber_hash(c.email_address) == wanted]
    totals = customer_totals(store)
    return {
        "store_id": store.id,
        "customers": [
            render_customer(ctx, store, c, totals.get(c.id, (0, 0.0)))
            for c in page(ctx.query, customers)
        ],
        "total_items": len(customers),
        "_links": self_links(
            ctx.api_url(f"/ecommerce/stores/{store.id}/customers"),
            "Ecommerce/Stores/Customers/Collection",
        ),
    }


async def add_customer(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    body = await ctx.validated_json()
    if require_id(body) in store.customers:
        raise already_exists("A customer")
    return render_customer(ctx, store, create_customer(ctx, store, body))


async def get_customer(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    return render_customer(ctx, store, require_customer(store, ctx.params["customer_id"]))


async def put_customer(ctx: ApiContext) -> dict[str, Any]:
    """Add or update ("upsert") a customer."""
    store = require_store(ctx.account, ctx.params["store_id"])
    body = await ctx.validated_json()
    customer_id = ctx.params["customer_id"]
    if require_id(body) != customer_id:
        raise problems.field_error("id", "The id in the body must match the id in the URL.")
    existing = store.customers.get(customer_id)
    if existing is None:
        return render_customer(ctx, store, create_customer(ctx, store, body))
    update_customer(ctx, existing, store, body)
    return render_customer(ctx, store, existing)


async def patch_customer(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    customer = require_customer(store, ctx.params["customer_id"])
    body = await ctx.validated_json()
    update_customer(ctx, customer, store, body)
    return render_customer(ctx, store, customer)


async def delete_customer(ctx: ApiContext) -> None:
    store = require_store(ctx.account, ctx.params["store_id"])
    customer = require_customer(store, ctx.params["customer_id"])
    del store.customers[customer.id]
