"""Products and their variants: `/ecommerce/stores/{store_id}/products[...]/variants[...]`.

A product always has at least one variant (REFERENCE.md §10: "variants (≥1; a
variant may reuse the product id/title)"); order and cart lines name both the
product and the variant, so both must exist before a line refers to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chimplink.emulator import problems
from chimplink.emulator.backend import now_iso
from chimplink.emulator.context import ApiContext
from chimplink.emulator.ecommerce.models import (
    PRODUCT_FIELDS,
    VARIANT_FIELDS,
    Product,
    Store,
    Variant,
    already_exists,
    assign,
    check_strings,
    normalise_datetimes,
    require_id,
    require_product,
    require_store,
    require_variant,
    without_blank_datetimes,
)
from chimplink.emulator.links import self_links
from chimplink.emulator.params import page

LAST_VARIANT = "A product must have at least one variant; this is its last one."


def _product_url(ctx: ApiContext, store: Store, product_id: str) -> str:
    return ctx.api_url(f"/ecommerce/stores/{store.id}/products/{product_id}")


def render_variant(
    ctx: ApiContext, store: Store, product: Product, variant: Variant
) -> dict[str, Any]:
    return {
        "id": variant.id,
        "title": variant.title,
        "url": variant.url,
        "sku": variant.sku,
        "price": variant.price,
        "inventory_quantity": variant.inventory_quantity,
        "image_url": variant.image_url,
        "backorders": variant.backorders,
        "visibility": variant.visibility,
        "created_at": variant.created_at,
        "updated_at": variant.updated_at,
        "_links": self_links(
            f"{_product_url(ctx, store, product.id)}/variants/{variant.id}",
            "Ecommerce/Stores/Products/Variants/Response",
        ),
    }


def render_product(ctx: ApiContext, store: Store, product: Product) -> dict[str, Any]:
    url = _product_url(ctx, store, product.id)
    return without_blank_datetimes(
        {
            "id": product.id,
            "currency_code": store.currency_code,
            "title": product.title,
            "handle": product.handle,
            "url": product.url,
            "description": product.description,
            "type": product.type,
            "vendor": product.vendor,
            "image_url": product.image_url,
            "variants": [render_variant(ctx, store, product, v) for v in product.variants.values()],
            "images": [
                {
                    "id": image.get("id", ""),
                    "url": image.get("url", ""),
                    "variant_ids": image.get("variant_ids", []),
                    "_links": self_links(
                        f"{url}/images/{image.get('id', '')}",
                        "Ecommerce/Stores/Products/Images/Response",
                    ),
                }
                for image in product.images
            ],
            "published_at_foreign": product.published_at_foreign,
            "_links": self_links(url, "Ecommerce/Stores/Products/Response"),
        }
    )


def _upsert_variants(product: Product, raw: Sequence[Mapping[str, Any]], *, field: str) -> None:
    """Add or update variants by id; everything is checked before anything changes."""
    for index, item in enumerate(raw):
        where = f"{field}.{index}" if field else ""
        variant_id = require_id(item, prefix=where)
        check_strings(item, ("title",), prefix=f"{where}." if where else "")
        if variant_id not in product.variants and not isinstance(item.get("title"), str):
            raise problems.invalid_resource(
                errors=[{"field": where, "message": "Required fields were not provided: title"}]
            )
    for index, item in enumerate(raw):
        existing = product.variants.get(item["id"])
        if existing is None:
            existing = Variant(id=item["id"], title=item["title"])
            product.variants[existing.id] = existing
        else:
            existing.updated_at = now_iso()
        where = f"{field}.{index}." if field else ""
        assign(existing, item, VARIANT_FIELDS, prefix=where)


def _check_images(body: Mapping[str, Any]) -> None:
    for index, image in enumerate(body.get("images", [])):
        require_id(image, prefix=f"images.{index}")


def new_product(store: Store, body: Mapping[str, Any], *, field: str = "") -> Product:
    """Create a product (id checked free by the caller) with its variants."""
    product_id = require_id(body, prefix=field)
    missing = [name for name in ("title", "variants") if name not in body]
    if missing:
        raise problems.invalid_resource(
            errors=[
                {
                    "field": field,
                    "message": f"Required fields were not provided: {', '.join(missing)}",
                }
            ]
        )
    variants = body["variants"]
    prefix = f"{field}.variants" if field else "variants"
    if not variants:
        raise problems.field_error(prefix, "A product must have at least one variant.")
    _check_images(body)
    check_strings(body, ("title", "description"), prefix=f"{field}." if field else "")
    product = Product(id=product_id, title=body["title"])
    _upsert_variants(product, variants, field=prefix)
    assign(product, body, PRODUCT_FIELDS)
    store.products[product_id] = product
    return product


async def list_products(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    products = list(store.products.values())
    return {
        "store_id": store.id,
        "products": [render_product(ctx, store, p) for p in page(ctx.query, products)],
        "total_items": len(products),
        "_links": self_links(
            ctx.api_url(f"/ecommerce/stores/{store.id}/products"),
            "Ecommerce/Stores/Products/Collection",
        ),
    }


async def add_product(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    body = await ctx.validated_json()
    normalise_datetimes(body)
    if require_id(body) in store.products:
        raise already_exists("A product")
    return render_product(ctx, store, new_product(store, body))


async def get_product(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    return render_product(ctx, store, require_product(store, ctx.params["product_id"]))


def _update_product(product: Product, body: Mapping[str, Any]) -> None:
    _check_images(body)
    check_strings(body, ("title", "description"))
    if "variants" in body:
        _upsert_variants(product, body["variants"], field="variants")
    assign(product, body, PRODUCT_FIELDS)


async def put_product(ctx: ApiContext) -> dict[str, Any]:
    """Add or update a product; creating one needs what POST needs."""
    store = require_store(ctx.account, ctx.params["store_id"])
    body = await ctx.validated_json()
    normalise_datetimes(body)
    product_id = ctx.params["product_id"]
    if require_id(body) != product_id:
        raise problems.field_error("id", "The id in the body must match the id in the URL.")
    existing = store.products.get(product_id)
    if existing is None:
        return render_product(ctx, store, new_product(store, body))
    _update_product(existing, body)
    return render_product(ctx, store, existing)


async def patch_product(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    product = require_product(store, ctx.params["product_id"])
    body = await ctx.validated_json()
    normalise_datetimes(body)
    _update_product(product, body)
    return render_product(ctx, store, product)


async def delete_product(ctx: ApiContext) -> None:
    store = require_store(ctx.account, ctx.params["store_id"])
    product = require_product(store, ctx.params["product_id"])
    del store.products[product.id]


# -- variants ------------------------------------------------------------------


async def list_variants(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    product = require_product(store, ctx.params["product_id"])
    variants = list(product.variants.values())
    return {
        "store_id": store.id,
        "product_id": product.id,
        "variants": [render_variant(ctx, store, product, v) for v in page(ctx.query, variants)],
        "total_items": len(variants),
        "_links": self_links(
            f"{_product_url(ctx, store, product.id)}/variants",
            "Ecommerce/Stores/Products/Variants/Collection",
        ),
    }


async def add_variant(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    product = require_product(store, ctx.params["product_id"])
    body = await ctx.validated_json()
    variant_id = require_id(body)
    if variant_id in product.variants:
        raise already_exists("A variant")
    _upsert_variants(product, [body], field="")
    return render_variant(ctx, store, product, product.variants[variant_id])


async def get_variant(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    product = require_product(store, ctx.params["product_id"])
    variant = require_variant(product, ctx.params["variant_id"])
    return render_variant(ctx, store, product, variant)


async def put_variant(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    product = require_product(store, ctx.params["product_id"])
    body = await ctx.validated_json()
    variant_id = ctx.params["variant_id"]
    if require_id(body) != variant_id:
        raise problems.field_error("id", "The id in the body must match the id in the URL.")
    _upsert_variants(product, [body], field="")
    return render_variant(ctx, store, product, product.variants[variant_id])


async def patch_variant(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    product = require_product(store, ctx.params["product_id"])
    variant = require_variant(product, ctx.params["variant_id"])
    body = await ctx.validated_json()
    assign(variant, body, VARIANT_FIELDS)
    variant.updated_at = now_iso()
    return render_variant(ctx, store, product, variant)


async def delete_variant(ctx: ApiContext) -> None:
    store = require_store(ctx.account, ctx.params["store_id"])
    product = require_product(store, ctx.params["product_id"])
    variant = require_variant(product, ctx.params["variant_id"])
    if len(product.variants) == 1:
        raise problems.bad_request(LAST_VARIANT)
    del product.variants[variant.id]
