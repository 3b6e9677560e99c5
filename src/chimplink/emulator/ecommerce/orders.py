"""Orders and carts, with their line items (REFERENCE.md §10).

Both are a buyer (an e-commerce customer, created on the fly from the
`customer` object when its id is new), a currency, a total and lines. Every
line names an existing product and one of its variants; otherwise Mailchimp
answers 400 "A product with the provided ID does not exist in the account for
this list." (observed, mailchimp-for-wordpress #571 and #754). Lines are
checked before the buyer is touched, so a refused order changes no audience.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chimplink.emulator import problems
from chimplink.emulator.backend import now_iso
from chimplink.emulator.context import ApiContext
from chimplink.emulator.ecommerce.customers import render_customer, resolve_buyer, update_customer
from chimplink.emulator.ecommerce.models import (
    CART_DETAILS,
    ORDER_DETAILS,
    Cart,
    Line,
    Order,
    Purchase,
    Store,
    already_exists,
    copy_details,
    customer_totals,
    ecommerce_of,
    normalise_datetimes,
    require_id,
    require_store,
    without_blank_datetimes,
)
from chimplink.emulator.links import self_links
from chimplink.emulator.params import bool_param, page
from chimplink.emulator.routing import Handler

NO_PRODUCT = "A product with the provided ID does not exist in the account for this list."
NO_VARIANT = "A product with the provided variant ID does not exist in the account for this list."
_LINE_REQUIRED = ("product_id", "product_variant_id", "quantity", "price")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


@dataclass(frozen=True, slots=True)
class Kind:
    """What differs between orders and carts."""

    collection: str  # the Store attribute and URL segment
    param: str  # the path parameter naming one
    article: str  # for "… with the provided ID already exists"
    details: tuple[str, ...]
    has_discounts: bool  # order lines carry `discount` and `image_url`; cart lines do not
    schema: str


ORDERS = Kind("orders", "order_id", "An order", ORDER_DETAILS, True, "Ecommerce/Stores/Orders")
CARTS = Kind("carts", "cart_id", "A cart", CART_DETAILS, False, "Ecommerce/Stores/Carts")

_ORDER_DEFAULTS: dict[str, Any] = {
    "financial_status": "",
    "fulfillment_status": "",
    "campaign_id": "",
    "landing_site": "",
    "cancelled_at_foreign": "",
    "shipping_total": 0,
    "tax_total": 0,
    "discount_total": 0,
    "order_url": "",
    "tracking_number": "",
    "tracking_carrier": "",
    "tracking_url": "",
    "shipping_address": {},
    "billing_address": {},
    "promos": [],
}
_CART_DEFAULTS: dict[str, Any] = {"campaign_id": "", "checkout_url": "", "tax_total": 0}


def _purchases(store: Store, kind: Kind) -> dict[str, Purchase]:
    found: dict[str, Purchase] = getattr(store, kind.collection)
    return found


def _require(store: Store, kind: Kind, purchase_id: str) -> Purchase:
    found = _purchases(store, kind).get(purchase_id)
    if found is None:
        raise problems.not_found()
    return found


def _url(ctx: ApiContext, store: Store, kind: Kind, purchase_id: str) -> str:
    return ctx.api_url(f"/ecommerce/stores/{store.id}/{kind.collection}/{purchase_id}")


# -- lines -----------------------------------------------------------------------


def _check_reference(store: Store, product_id: str, variant_id: str) -> None:
    product = store.products.get(product_id)
    if product is None:
        raise problems.bad_request(NO_PRODUCT)
    if variant_id not in product.variants:
        raise problems.bad_request(NO_VARIANT)


def _missing(raw: Mapping[str, Any], where: str, names: Sequence[str]) -> None:
    absent = [name for name in names if name not in raw]
    if absent:
        raise problems.invalid_resource(
            errors=[
                {
                    "field": where,
                    "message": f"Required fields were not provided: {', '.join(absent)}",
                }
            ]
        )


def _new_line(store: Store, raw: Mapping[str, Any], *, where: str) -> Line:
    line_id = require_id(raw, prefix=where)
    _missing(raw, where, _LINE_REQUIRED)
    _check_reference(store, raw["product_id"], raw["product_variant_id"])
    return Line(
        id=line_id,
        product_id=raw["product_id"],
        product_variant_id=raw["product_variant_id"],
        quantity=raw["quantity"],
        price=raw["price"],
        discount=raw.get("discount", 0.0),
    )


def _build_lines(store: Store, raw_lines: Sequence[Mapping[str, Any]]) -> dict[str, Line]:
    lines: dict[str, Line] = {}
    for index, raw in enumerate(raw_lines):
        line = _new_line(store, raw, where=f"lines.{index}")
        if line.id in lines:
            raise problems.bad_request(
                "We were unable to process the request. "
                f"The line item id {line.id} appears more than once."
            )
        lines[line.id] = line
    return lines


def _updated_line(store: Store, line: Line, raw: Mapping[str, Any]) -> Line:
    changed = line.model_copy(
        update={
            name: raw[name]
            for name in ("product_id", "product_variant_id", "quantity", "price", "discount")
            if name in raw
        }
    )
    _check_reference(store, changed.product_id, changed.product_variant_id)
    return changed


def _merge_lines(
    store: Store, current: dict[str, Line], raw_lines: Sequence[Mapping[str, Any]]
) -> dict[str, Line]:
    """PATCH semantics: lines are matched by id, updated or added; others stay."""
    merged = dict(current)
    for index, raw in enumerate(raw_lines):
        where = f"lines.{index}"
        line_id = require_id(raw, prefix=where)
        existing = merged.get(line_id)
        merged[line_id] = (
            _updated_line(store, existing, raw)
            if existing is not None
            else _new_line(store, raw, where=where)
        )
    return merged


def render_line(
    ctx: ApiContext, store: Store, kind: Kind, purchase: Purchase, line: Line
) -> dict[str, Any]:
    product = store.products.get(line.product_id)
    variant = product.variants.get(line.product_variant_id) if product else None
    body: dict[str, Any] = {
        "id": line.id,
        "product_id": line.product_id,
        "product_title": product.title if product else "",
        "product_variant_id": line.product_variant_id,
        "product_variant_title": variant.title if variant else "",
        "quantity": line.quantity,
        "price": line.price,
    }
    if kind.has_discounts:
        body["discount"] = line.discount
        body["image_url"] = (variant.image_url if variant else "") or (
            product.image_url if product else ""
        )
    body["_links"] = self_links(
        f"{_url(ctx, store, kind, purchase.id)}/lines/{line.id}", f"{kind.schema}/Lines/Response"
    )
    return body


# -- orders and carts ----------------------------------------------------------------


def render_purchase(
    ctx: ApiContext,
    store: Store,
    kind: Kind,
    purchase: Purchase,
    totals: dict[str, tuple[int, float]] | None = None,
) -> dict[str, Any]:
    if totals is None:
        totals = customer_totals(store)
    customer = store.customers.get(purchase.customer_id)
    defaults = _ORDER_DEFAULTS if kind is ORDERS else _CART_DEFAULTS
    body: dict[str, Any] = {
        "id": purchase.id,
        "customer": (
            render_customer(ctx, store, customer, totals.get(customer.id, (0, 0.0)))
            if customer is not None
            else {"id": purchase.customer_id}
        ),
        "currency_code": purchase.currency_code,
        "order_total": purchase.order_total,
        **defaults,
        **purchase.details,
        "lines": [
            render_line(ctx, store, kind, purchase, line) for line in purchase.lines.values()
        ],
    }
    if kind is ORDERS:
        body["store_id"] = store.id
        body.setdefault("processed_at_foreign", purchase.created_at)
        body.setdefault("updated_at_foreign", purchase.updated_at)
        if "outreach" in purchase.details:
            outreach = purchase.details["outreach"]
            body["outreach"] = {"id": outreach.get("id", ""), "name": "", "type": ""}
    else:
        body["created_at"] = purchase.created_at
        body["updated_at"] = purchase.updated_at
    body["_links"] = self_links(_url(ctx, store, kind, purchase.id), f"{kind.schema}/Response")
    return without_blank_datetimes(body)


def _check_currency(body: Mapping[str, Any]) -> None:
    code = body.get("currency_code")
    if code is not None and not _CURRENCY.match(code):
        raise problems.field_error(
            "currency_code", "currency_code must be a three-letter ISO 4217 code."
        )


def _create(ctx: ApiContext, store: Store, kind: Kind, body: Mapping[str, Any]) -> Purchase:
    purchase_id = require_id(body)
    _missing(body, "", ("customer", "currency_code", "order_total", "lines"))
    _check_currency(body)
    lines = _build_lines(store, body["lines"])
    customer = resolve_buyer(ctx, store, body["customer"])
    cls = Order if kind is ORDERS else Cart
    purchase = cls(
        id=purchase_id,
        customer_id=customer.id,
        currency_code=body["currency_code"].upper(),
        order_total=body["order_total"],
        lines=lines,
    )
    copy_details(purchase.details, body, kind.details)
    _purchases(store, kind)[purchase_id] = purchase
    return purchase


def _update(
    ctx: ApiContext, store: Store, purchase: Purchase, body: Mapping[str, Any], *, replace: bool
) -> None:
    """PUT (`replace`: lines given replace all lines) or PATCH (lines merged by id)."""
    _check_currency(body)
    lines = purchase.lines
    if "lines" in body:
        lines = (
            _build_lines(store, body["lines"])
            if replace
            else _merge_lines(store, purchase.lines, body["lines"])
        )
    raw_customer = body.get("customer")
    if raw_customer is not None:
        if "id" in raw_customer and raw_customer["id"] != purchase.customer_id:
            purchase.customer_id = resolve_buyer(ctx, store, raw_customer).id
        else:
            current = store.customers.get(purchase.customer_id)
            if current is not None:
                update_customer(ctx, current, store, raw_customer)
    purchase.lines = lines
    if "currency_code" in body:
        purchase.currency_code = body["currency_code"].upper()
    if "order_total" in body:
        purchase.order_total = body["order_total"]
    kind = ORDERS if isinstance(purchase, Order) else CARTS
    copy_details(purchase.details, body, kind.details)
    purchase.updated_at = now_iso()


def _collection(ctx: ApiContext, store: Store, kind: Kind, items: list[Purchase]) -> dict[str, Any]:
    totals = customer_totals(store)
    return {
        "store_id": store.id,
        kind.collection: [
            render_purchase(ctx, store, kind, item, totals) for item in page(ctx.query, items)
        ],
        "total_items": len(items),
        "_links": self_links(
            ctx.api_url(f"/ecommerce/stores/{store.id}/{kind.collection}"),
            f"{kind.schema}/Collection",
        ),
    }


def _order_filters(ctx: ApiContext, orders: list[Purchase]) -> list[Purchase]:
    query = ctx.query
    if query.get("customer_id"):
        orders = [o for o in orders if o.customer_id == query["customer_id"]]
    if query.get("campaign_id"):
        orders = [o for o in orders if o.details.get("campaign_id") == query["campaign_id"]]
    if query.get("outreach_id"):
        orders = [
            o for o in orders if o.details.get("outreach", {}).get("id") == query["outreach_id"]
        ]
    if query.get("has_outreach"):
        wanted = bool_param(query, "has_outreach")
        orders = [o for o in orders if ("outreach" in o.details) == wanted]
    return orders


# -- handlers: orders and carts --------------------------------------------------------


def _handlers(kind: Kind) -> dict[str, Handler]:
    async def list_all(ctx: ApiContext) -> dict[str, Any]:
        store = require_store(ctx.account, ctx.params["store_id"])
        items = list(_purchases(store, kind).values())
        if kind is ORDERS:
            items = _order_filters(ctx, items)
        return _collection(ctx, store, kind, items)

    async def add(ctx: ApiContext) -> dict[str, Any]:
        store = require_store(ctx.account, ctx.params["store_id"])
        body = await ctx.validated_json()
        normalise_datetimes(body)
        if require_id(body) in _purchases(store, kind):
            raise already_exists(kind.article)
        return render_purchase(ctx, store, kind, _create(ctx, store, kind, body))

    async def get(ctx: ApiContext) -> dict[str, Any]:
        store = require_store(ctx.account, ctx.params["store_id"])
        return render_purchase(ctx, store, kind, _require(store, kind, ctx.params[kind.param]))

    async def put(ctx: ApiContext) -> dict[str, Any]:
        """Add or update: creating needs what POST needs; lines sent replace all lines."""
        store = require_store(ctx.account, ctx.params["store_id"])
        body = await ctx.validated_json()
        normalise_datetimes(body)
        purchase_id = ctx.params[kind.param]
        if require_id(body) != purchase_id:
            raise problems.field_error("id", "The id in the body must match the id in the URL.")
        existing = _purchases(store, kind).get(purchase_id)
        if existing is None:
            return render_purchase(ctx, store, kind, _create(ctx, store, kind, body))
        _update(ctx, store, existing, body, replace=True)
        return render_purchase(ctx, store, kind, existing)

    async def patch(ctx: ApiContext) -> dict[str, Any]:
        store = require_store(ctx.account, ctx.params["store_id"])
        purchase = _require(store, kind, ctx.params[kind.param])
        body = await ctx.validated_json()
        normalise_datetimes(body)
        _update(ctx, store, purchase, body, replace=False)
        return render_purchase(ctx, store, kind, purchase)

    async def delete(ctx: ApiContext) -> None:
        store = require_store(ctx.account, ctx.params["store_id"])
        purchase = _require(store, kind, ctx.params[kind.param])
        del _purchases(store, kind)[purchase.id]

    # -- lines --

    async def list_lines(ctx: ApiContext) -> dict[str, Any]:
        store = require_store(ctx.account, ctx.params["store_id"])
        purchase = _require(store, kind, ctx.params[kind.param])
        lines = list(purchase.lines.values())
        return {
            "store_id": store.id,
            kind.param: purchase.id,
            "lines": [
                render_line(ctx, store, kind, purchase, line) for line in page(ctx.query, lines)
            ],
            "total_items": len(lines),
            "_links": self_links(
                f"{_url(ctx, store, kind, purchase.id)}/lines", f"{kind.schema}/Lines/Collection"
            ),
        }

    def _line(ctx: ApiContext) -> tuple[Store, Purchase, Line]:
        store = require_store(ctx.account, ctx.params["store_id"])
        purchase = _require(store, kind, ctx.params[kind.param])
        line = purchase.lines.get(ctx.params["line_id"])
        if line is None:
            raise problems.not_found()
        return store, purchase, line

    async def get_line(ctx: ApiContext) -> dict[str, Any]:
        store, purchase, line = _line(ctx)
        return render_line(ctx, store, kind, purchase, line)

    async def add_line(ctx: ApiContext) -> dict[str, Any]:
        store = require_store(ctx.account, ctx.params["store_id"])
        purchase = _require(store, kind, ctx.params[kind.param])
        body = await ctx.validated_json()
        if require_id(body) in purchase.lines:
            raise already_exists("A line item")
        line = _new_line(store, body, where="")
        purchase.lines[line.id] = line
        purchase.updated_at = now_iso()
        return render_line(ctx, store, kind, purchase, line)

    async def patch_line(ctx: ApiContext) -> dict[str, Any]:
        store, purchase, line = _line(ctx)
        body = await ctx.validated_json()
        changed = _updated_line(store, line, body)
        purchase.lines[line.id] = changed
        purchase.updated_at = now_iso()
        return render_line(ctx, store, kind, purchase, changed)

    async def delete_line(ctx: ApiContext) -> None:
        _store, purchase, line = _line(ctx)
        del purchase.lines[line.id]
        purchase.updated_at = now_iso()

    return {
        "list": list_all,
        "add": add,
        "get": get,
        "put": put,
        "patch": patch,
        "delete": delete,
        "list_lines": list_lines,
        "get_line": get_line,
        "add_line": add_line,
        "patch_line": patch_line,
        "delete_line": delete_line,
    }


order_handlers = _handlers(ORDERS)
cart_handlers = _handlers(CARTS)


async def list_account_orders(ctx: ApiContext) -> dict[str, Any]:
    """`GET /ecommerce/orders`: the orders of every store in the account."""
    rows: list[tuple[Store, Purchase]] = [
        (store, order)
        for store in ecommerce_of(ctx.account).stores.values()
        for order in _order_filters(ctx, list(store.orders.values()))
    ]
    return {
        "orders": [
            render_purchase(ctx, store, ORDERS, order) for store, order in page(ctx.query, rows)
        ],
        "total_items": len(rows),
        "_links": self_links(ctx.api_url("/ecommerce/orders"), "Ecommerce/Orders/Collection"),
    }
