"""E-commerce state: stores and everything a store holds (REFERENCE.md §10).

A store is tied to exactly one audience for life; customers, products (with
their variants), orders, carts and promo rules (with their codes) live inside
it, so deleting a store drops all of them (the audience and its members stay).
Identifiers are chosen by the caller, as in Mailchimp: the platform's own ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any, TypeVar, get_origin

from pydantic import BaseModel, Field

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, now_iso, register_store
from chimplink.emulator.context import json_type


class Variant(BaseModel):
    id: str
    title: str
    url: str = ""
    sku: str = ""
    price: float = 0.0
    inventory_quantity: int = 0
    image_url: str = ""
    backorders: str = ""
    visibility: str = ""
    created_at: str = Field(default_factory=now_iso)
    updated_at: str = Field(default_factory=now_iso)


class Product(BaseModel):
    id: str
    title: str
    handle: str = ""
    url: str = ""
    description: str = ""
    type: str = ""
    vendor: str = ""
    image_url: str = ""
    published_at_foreign: str = ""
    images: list[dict[str, Any]] = Field(default_factory=list)
    variants: dict[str, Variant] = Field(default_factory=dict)


class Customer(BaseModel):
    id: str
    email_address: str
    opt_in_status: bool = False
    company: str = ""
    first_name: str = ""
    last_name: str = ""
    sms_phone_number: str = ""
    address: dict[str, Any] = Field(default_factory=dict)
    created_at: str = Field(default_factory=now_iso)
    updated_at: str = Field(default_factory=now_iso)


class Line(BaseModel):
    id: str
    product_id: str
    product_variant_id: str
    quantity: int
    price: float
    discount: float = 0.0


class Purchase(BaseModel):
    """What orders and carts share: a buyer, a total and line items."""

    id: str
    customer_id: str
    currency_code: str
    order_total: float
    lines: dict[str, Line] = Field(default_factory=dict)
    # Descriptive fields (ORDER_DETAILS / CART_DETAILS) stored as sent; the spec
    # validated their types.
    details: dict[str, Any] = Field(default_factory=dict)
    created_at: str = Field(default_factory=now_iso)
    updated_at: str = Field(default_factory=now_iso)


class Order(Purchase):
    pass


class Cart(Purchase):
    pass


class PromoCode(BaseModel):
    id: str
    code: str
    redemption_url: str
    usage_count: int = 0
    enabled: bool = True
    created_at_foreign: str = ""
    updated_at_foreign: str = ""


class PromoRule(BaseModel):
    id: str
    description: str
    amount: float
    type: str  # fixed | percentage
    target: str  # per_item | total | shipping
    title: str = ""
    starts_at: str = ""
    ends_at: str = ""
    enabled: bool = True
    created_at_foreign: str = ""
    updated_at_foreign: str = ""
    promo_codes: dict[str, PromoCode] = Field(default_factory=dict)


class Store(BaseModel):
    id: str
    list_id: str  # fixed at creation (REFERENCE.md §10)
    name: str
    currency_code: str
    platform: str = ""
    domain: str = ""
    is_syncing: bool = False
    email_address: str = ""
    money_format: str = ""
    primary_locale: str = ""
    timezone: str = ""
    phone: str = ""
    address: dict[str, Any] = Field(default_factory=dict)
    created_at: str = Field(default_factory=now_iso)
    updated_at: str = Field(default_factory=now_iso)
    customers: dict[str, Customer] = Field(default_factory=dict)
    products: dict[str, Product] = Field(default_factory=dict)
    orders: dict[str, Order] = Field(default_factory=dict)
    carts: dict[str, Cart] = Field(default_factory=dict)
    promo_rules: dict[str, PromoRule] = Field(default_factory=dict)


@register_store("ecommerce")
class EcommerceStore(BaseModel):
    stores: dict[str, Store] = Field(default_factory=dict)


# Optional fields copied verbatim from request to response (types checked by the spec).
STORE_FIELDS = (
    "name",
    "platform",
    "domain",
    "is_syncing",
    "email_address",
    "currency_code",
    "money_format",
    "primary_locale",
    "timezone",
    "phone",
    "address",
)
CUSTOMER_FIELDS = ("company", "first_name", "last_name", "sms_phone_number", "address")
PRODUCT_FIELDS = (
    "title",
    "handle",
    "url",
    "description",
    "type",
    "vendor",
    "image_url",
    "published_at_foreign",
    "images",
)
VARIANT_FIELDS = (
    "title",
    "url",
    "sku",
    "price",
    "inventory_quantity",
    "image_url",
    "backorders",
    "visibility",
)
ORDER_DETAILS = (
    "financial_status",
    "fulfillment_status",
    "campaign_id",
    "landing_site",
    "processed_at_foreign",
    "cancelled_at_foreign",
    "updated_at_foreign",
    "shipping_total",
    "tax_total",
    "discount_total",
    "order_url",
    "tracking_number",
    "tracking_carrier",
    "tracking_url",
    "tracking_code",
    "shipping_address",
    "billing_address",
    "promos",
    "outreach",
)
CART_DETAILS = ("campaign_id", "checkout_url", "tax_total")
PROMO_RULE_FIELDS = (
    "title",
    "description",
    "starts_at",
    "ends_at",
    "amount",
    "type",
    "target",
    "enabled",
    "created_at_foreign",
    "updated_at_foreign",
)
PROMO_CODE_FIELDS = (
    "code",
    "redemption_url",
    "usage_count",
    "enabled",
    "created_at_foreign",
    "updated_at_foreign",
)


# The spec types these as `date-time`. They are normalised to ISO 8601 in UTC on
# the way in (platforms send "2018-06-12 01:20:05" or "...+0000"), and left out
# of responses while unset, since "" is not a date-time.
DATETIME_FIELDS = (
    "processed_at_foreign",
    "cancelled_at_foreign",
    "updated_at_foreign",
    "published_at_foreign",
    "created_at_foreign",
    "starts_at",
    "ends_at",
)


def normalise_datetimes(body: MutableMapping[str, Any], *, prefix: str = "") -> None:
    for name in DATETIME_FIELDS:
        value = body.get(name)
        if not isinstance(value, str):
            continue
        if not value.strip():
            body[name] = ""
            continue
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise problems.field_error(
                f"{prefix}{name}", f"{name} must be an ISO 8601 date-time, {value} found instead"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        body[name] = parsed.astimezone(UTC).replace(microsecond=0).isoformat()


def without_blank_datetimes(body: dict[str, Any]) -> dict[str, Any]:
    for name in DATETIME_FIELDS:
        if body.get(name) == "":
            del body[name]
    return body


def ecommerce_of(account: Account) -> EcommerceStore:
    return account.store(EcommerceStore)


_JSON_KINDS: dict[Any, str] = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    dict: "object",
    list: "array",
}


def assign(
    target: BaseModel, body: Mapping[str, Any], names: Iterable[str], *, prefix: str = ""
) -> None:
    """Copy the fields of `names` present in `body` onto a model, all or none.

    The spec has checked the types already; this re-checks them against the
    model's current values, so a value the spec could not check (see
    `check_strings`) never reaches a response.
    """
    present = [name for name in names if name in body]
    fields = type(target).model_fields
    for name in present:
        expected = _JSON_KINDS.get(get_origin(fields[name].annotation) or fields[name].annotation)
        found = json_type(body[name])
        if expected not in (None, found) and not (expected == "number" and found == "integer"):
            raise problems.field_error(
                f"{prefix}{name}", f"Schema describes {expected}, {found} found instead"
            )
    for name in present:
        setattr(target, name, body[name])


def check_strings(body: Mapping[str, Any], names: Iterable[str], *, prefix: str = "") -> None:
    """Type-check string fields the spec's validation misses.

    `spec._convert` drops keys named `title` and `description` everywhere,
    property names included, so the request schemas no longer type them.
    """
    for name in names:
        if name in body and not isinstance(body[name], str):
            raise problems.field_error(
                f"{prefix}{name}",
                f"Schema describes string, {json_type(body[name])} found instead",
            )


def copy_details(target: dict[str, Any], body: Mapping[str, Any], names: Iterable[str]) -> None:
    for name in names:
        if name in body:
            target[name] = body[name]


def require_id(body: Mapping[str, Any], field: str = "id", *, prefix: str = "") -> str:
    """A caller-chosen id: present and not blank (an empty id could never be addressed)."""
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise problems.invalid_resource(
            errors=[{"field": prefix, "message": f"Required fields were not provided: {field}"}]
        )
    return value


def already_exists(article: str) -> problems.ProblemError:
    """Mailchimp's duplicate-id answer ("... An order with the provided ID already exists ...")."""
    return problems.bad_request(
        f"We were unable to process the request. {article} with the provided ID "
        "already exists in the account."
    )


T = TypeVar("T")


def found_or_404(items: Mapping[str, T], key: str) -> T:
    """The item under `key`, or Mailchimp's 404 "Resource Not Found"."""
    found = items.get(key)
    if found is None:
        raise problems.not_found()
    return found


def require_store(account: Account, store_id: str) -> Store:
    return found_or_404(ecommerce_of(account).stores, store_id)


def require_customer(store: Store, customer_id: str) -> Customer:
    return found_or_404(store.customers, customer_id)


def require_product(store: Store, product_id: str) -> Product:
    return found_or_404(store.products, product_id)


def require_variant(product: Product, variant_id: str) -> Variant:
    return found_or_404(product.variants, variant_id)


def require_order(store: Store, order_id: str) -> Order:
    return found_or_404(store.orders, order_id)


def require_cart(store: Store, cart_id: str) -> Cart:
    return found_or_404(store.carts, cart_id)


def require_promo_rule(store: Store, promo_rule_id: str) -> PromoRule:
    return found_or_404(store.promo_rules, promo_rule_id)


def require_promo_code(rule: PromoRule, promo_code_id: str) -> PromoCode:
    return found_or_404(rule.promo_codes, promo_code_id)


def customer_totals(store: Store) -> dict[str, tuple[int, float]]:
    """customer id → (orders_count, total_spent), derived from the orders so never stale."""
    totals: dict[str, tuple[int, float]] = {}
    for order in store.orders.values():
        count, spent = totals.get(order.customer_id, (0, 0.0))
        totals[order.customer_id] = (count + 1, spent + order.order_total)
    return totals


def orders_for_campaign(account: Account, campaign_id: str) -> list[tuple[Store, Order]]:
    """Orders attributed to a campaign (`campaign_id`), for the campaign's report (§10)."""
    found: list[tuple[Store, Order]] = []
    for store in ecommerce_of(account).stores.values():
        for order in store.orders.values():
            if order.details.get("campaign_id") == campaign_id:
                found.append((store, order))
    return found
