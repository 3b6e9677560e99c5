"""E-commerce stores, customers, products and orders: the fields chimplink reads (§10)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chimplink.mailchimp.models._base import MailchimpModel, Timestamp

__all__ = ["Customer", "Order", "OrderLine", "Product", "ProductVariant", "Store"]


class Store(MailchimpModel):
    id: str
    list_id: str | None = None
    name: str | None = None
    currency_code: str | None = None
    domain: str | None = None
    is_syncing: bool | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


class Customer(MailchimpModel):
    id: str
    email_address: str | None = None
    opt_in_status: bool | None = None
    first_name: str | None = None
    last_name: str | None = None
    orders_count: int | None = None
    total_spent: float | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


class ProductVariant(MailchimpModel):
    id: str
    title: str | None = None
    sku: str | None = None
    price: float | None = None
    inventory_quantity: int | None = None


class Product(MailchimpModel):
    id: str
    title: str | None = None
    handle: str | None = None
    url: str | None = None
    description: str | None = None
    image_url: str | None = None
    variants: list[ProductVariant] = Field(default_factory=list)


class OrderLine(MailchimpModel):
    id: str
    product_id: str | None = None
    product_variant_id: str | None = None
    quantity: int | None = None
    price: float | None = None


class Order(MailchimpModel):
    id: str
    customer: dict[str, Any] = Field(default_factory=dict)
    currency_code: str | None = None
    order_total: float | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    processed_at_foreign: Timestamp = None
    lines: list[OrderLine] = Field(default_factory=list)
