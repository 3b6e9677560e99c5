"""Promo rules and their promo codes: `/ecommerce/stores/{store_id}/promo-rules[...]`.

A promo rule is the discount (amount, fixed | percentage, per_item | total |
shipping); its codes are what shoppers type. Deleting a rule deletes its codes.
"""

from __future__ import annotations

from typing import Any

from chimplink.emulator.context import ApiContext
from chimplink.emulator.ecommerce.models import (
    PROMO_CODE_FIELDS,
    PROMO_RULE_FIELDS,
    PromoCode,
    PromoRule,
    Store,
    already_exists,
    assign,
    check_strings,
    normalise_datetimes,
    require_id,
    require_promo_code,
    require_promo_rule,
    require_store,
    without_blank_datetimes,
)
from chimplink.emulator.links import self_links
from chimplink.emulator.params import page


def _rule_url(ctx: ApiContext, store: Store, rule_id: str) -> str:
    return ctx.api_url(f"/ecommerce/stores/{store.id}/promo-rules/{rule_id}")


def render_rule(ctx: ApiContext, store: Store, rule: PromoRule) -> dict[str, Any]:
    return without_blank_datetimes(
        {
            "id": rule.id,
            "title": rule.title,
            "description": rule.description,
            "starts_at": rule.starts_at,
            "ends_at": rule.ends_at,
            "amount": rule.amount,
            "type": rule.type,
            "target": rule.target,
            "enabled": rule.enabled,
            "created_at_foreign": rule.created_at_foreign,
            "updated_at_foreign": rule.updated_at_foreign,
            "_links": self_links(
                _rule_url(ctx, store, rule.id), "Ecommerce/Stores/PromoRules/Response"
            ),
        }
    )


def render_code(ctx: ApiContext, store: Store, rule: PromoRule, code: PromoCode) -> dict[str, Any]:
    return without_blank_datetimes(
        {
            "id": code.id,
            "code": code.code,
            "redemption_url": code.redemption_url,
            "usage_count": code.usage_count,
            "enabled": code.enabled,
            "created_at_foreign": code.created_at_foreign,
            "updated_at_foreign": code.updated_at_foreign,
            "_links": self_links(
                f"{_rule_url(ctx, store, rule.id)}/promo-codes/{code.id}",
                "Ecommerce/Stores/PromoRules/PromoCodes/Response",
            ),
        }
    )


async def list_rules(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    rules = list(store.promo_rules.values())
    return {
        "store_id": store.id,
        "promo_rules": [render_rule(ctx, store, r) for r in page(ctx.query, rules)],
        "total_items": len(rules),
        "_links": self_links(
            ctx.api_url(f"/ecommerce/stores/{store.id}/promo-rules"),
            "Ecommerce/Stores/PromoRules/Collection",
        ),
    }


async def add_rule(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    body = await ctx.validated_json()
    normalise_datetimes(body)
    check_strings(body, ("title", "description"))
    rule_id = require_id(body)
    if rule_id in store.promo_rules:
        raise already_exists("A promo rule")
    rule = PromoRule(
        id=rule_id,
        description=body["description"],
        amount=body["amount"],
        type=body["type"],
        target=body["target"],
    )
    assign(rule, body, PROMO_RULE_FIELDS)
    store.promo_rules[rule_id] = rule
    return render_rule(ctx, store, rule)


async def get_rule(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    return render_rule(ctx, store, require_promo_rule(store, ctx.params["promo_rule_id"]))


async def patch_rule(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    rule = require_promo_rule(store, ctx.params["promo_rule_id"])
    body = await ctx.validated_json()
    normalise_datetimes(body)
    check_strings(body, ("title", "description"))
    assign(rule, body, PROMO_RULE_FIELDS)
    return render_rule(ctx, store, rule)


async def delete_rule(ctx: ApiContext) -> None:
    store = require_store(ctx.account, ctx.params["store_id"])
    rule = require_promo_rule(store, ctx.params["promo_rule_id"])
    del store.promo_rules[rule.id]


async def list_codes(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    rule = require_promo_rule(store, ctx.params["promo_rule_id"])
    codes = list(rule.promo_codes.values())
    return {
        "store_id": store.id,
        "promo_codes": [render_code(ctx, store, rule, c) for c in page(ctx.query, codes)],
        "total_items": len(codes),
        "_links": self_links(
            f"{_rule_url(ctx, store, rule.id)}/promo-codes",
            "Ecommerce/Stores/PromoRules/PromoCodes/Collection",
        ),
    }


async def add_code(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    rule = require_promo_rule(store, ctx.params["promo_rule_id"])
    body = await ctx.validated_json()
    normalise_datetimes(body)
    code_id = require_id(body)
    if code_id in rule.promo_codes:
        raise already_exists("A promo code")
    code = PromoCode(id=code_id, code=body["code"], redemption_url=body["redemption_url"])
    assign(code, body, PROMO_CODE_FIELDS)
    rule.promo_codes[code_id] = code
    return render_code(ctx, store, rule, code)


async def get_code(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    rule = require_promo_rule(store, ctx.params["promo_rule_id"])
    return render_code(ctx, store, rule, require_promo_code(rule, ctx.params["promo_code_id"]))


async def patch_code(ctx: ApiContext) -> dict[str, Any]:
    store = require_store(ctx.account, ctx.params["store_id"])
    rule = require_promo_rule(store, ctx.params["promo_rule_id"])
    code = require_promo_code(rule, ctx.params["promo_code_id"])
    body = await ctx.validated_json()
    normalise_datetimes(body)
    assign(code, body, PROMO_CODE_FIELDS)
    return render_code(ctx, store, rule, code)


async def delete_code(ctx: ApiContext) -> None:
    store = require_store(ctx.account, ctx.params["store_id"])
    rule = require_promo_rule(store, ctx.params["promo_rule_id"])
    code = require_promo_code(rule, ctx.params["promo_code_id"])
    del rule.promo_codes[code.id]
