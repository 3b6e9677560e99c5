"""Handlers of interest categories and interests: parse → rules → render."""

from __future__ import annotations

from typing import Any

from chimplink.emulator import problems
from chimplink.emulator.context import ApiContext
from chimplink.emulator.links import link, self_links
from chimplink.emulator.lists.models import require_list
from chimplink.emulator.params import page
from chimplink.emulator.segments import interests as rules
from chimplink.emulator.segments.interests import Interest, InterestCategory
from chimplink.emulator.segments.render import category_body, interest_body


def _new_id(ctx: ApiContext) -> str:
    return ctx.backend.new_id(10)


def _category(ctx: ApiContext) -> InterestCategory:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    return rules.require_category(ctx.account, list_id, ctx.params["interest_category_id"])


def _interest(ctx: ApiContext) -> Interest:
    category = _category(ctx)
    return rules.require_interest(
        ctx.account,
        list_id=category.list_id,
        category_id=category.id,
        interest_id=ctx.params["interest_id"],
    )


def _render_interest(ctx: ApiContext, interest: Interest) -> dict[str, Any]:
    count = rules.subscriber_count(ctx.account, interest.list_id, interest.id)
    return interest_body(ctx, interest, subscriber_count=count)


# -- categories -----------------------------------------------------------------------


async def list_categories(ctx: ApiContext) -> dict[str, Any]:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    wanted_type = ctx.query.get("type") or None
    if wanted_type is not None and wanted_type not in rules.CATEGORY_TYPES:
        raise problems.field_error("type", f"Schema describes enum, {wanted_type} found instead")
    categories = [
        c
        for c in rules.categories_in(ctx.account, list_id)
        if wanted_type is None or c.type == wanted_type
    ]
    href = ctx.api_url(f"/lists/{list_id}/interest-categories")
    return {
        "list_id": list_id,
        "categories": [category_body(ctx, c) for c in page(ctx.query, categories)],
        "total_items": len(categories),
        "_links": [
            *self_links(href, "Lists/InterestCategories/Collection"),
            link("parent", ctx.api_url(f"/lists/{list_id}")),
            link("create", href, "POST"),
        ],
    }


async def create_category(ctx: ApiContext) -> dict[str, Any]:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    body = await ctx.validated_json()
    category = rules.create_category(
        ctx.account, list_id=list_id, body=body, new_id=lambda: _new_id(ctx)
    )
    return category_body(ctx, category)


async def get_category(ctx: ApiContext) -> dict[str, Any]:
    return category_body(ctx, _category(ctx))


async def update_category(ctx: ApiContext) -> dict[str, Any]:
    category = _category(ctx)
    body = await ctx.validated_json()
    return category_body(ctx, rules.update_category(ctx.account, category=category, body=body))


async def delete_category(ctx: ApiContext) -> None:
    rules.delete_category(ctx.account, _category(ctx))


# -- interests ------------------------------------------------------------------------


async def list_interests(ctx: ApiContext) -> dict[str, Any]:
    category = _category(ctx)
    interests = rules.interests_in(ctx.account, category.list_id, category.id)
    href = ctx.api_url(f"/lists/{category.list_id}/interest-categories/{category.id}/interests")
    return {
        "list_id": category.list_id,
        "category_id": category.id,
        "interests": [_render_interest(ctx, i) for i in page(ctx.query, interests)],
        "total_items": len(interests),
        "_links": [
            *self_links(href, "Lists/InterestCategories/Interests/Collection"),
            link(
                "parent",
                ctx.api_url(f"/lists/{category.list_id}/interest-categories/{category.id}"),
            ),
            link("create", href, "POST"),
        ],
    }


async def create_interest(ctx: ApiContext) -> dict[str, Any]:
    category = _category(ctx)
    body = await ctx.validated_json()
    interest = rules.create_interest(
        ctx.account, category=category, body=body, new_id=lambda: _new_id(ctx)
    )
    return _render_interest(ctx, interest)


async def get_interest(ctx: ApiContext) -> dict[str, Any]:
    return _render_interest(ctx, _interest(ctx))


async def update_interest(ctx: ApiContext) -> dict[str, Any]:
    interest = _interest(ctx)
    body = await ctx.validated_json()
    return _render_interest(ctx, rules.update_interest(ctx.account, interest=interest, body=body))


async def delete_interest(ctx: ApiContext) -> None:
    rules.delete_interest(ctx.account, _interest(ctx))
