"""Handlers of /lists/{list_id}/merge-fields: parse → rules (models.py) → render."""

from __future__ import annotations

from typing import Any

from chimplink.emulator.context import ApiContext
from chimplink.emulator.links import link
from chimplink.emulator.lists.models import require_list
from chimplink.emulator.members.models import members_of
from chimplink.emulator.merge_fields import models
from chimplink.emulator.params import bool_param, page


def render(ctx: ApiContext, field: models.MergeField) -> dict[str, Any]:
    base = ctx.api_url(f"/lists/{field.list_id}/merge-fields")
    href = f"{base}/{field.merge_id}"
    return {
        "merge_id": field.merge_id,
        "tag": field.tag,
        "name": field.name,
        "type": field.type,
        "required": field.required,
        "default_value": field.default_value,
        "public": field.public,
        "display_order": field.display_order,
        "options": dict(field.options),
        "help_text": field.help_text,
        "list_id": field.list_id,
        "_links": [
            link("self", href, "GET", "Lists/MergeFields/Instance"),
            link("parent", base, "GET", "Lists/MergeFields/Collection"),
            link("update", href, "PATCH", "Lists/MergeFields/Instance"),
            link("delete", href, "DELETE"),
        ],
    }


async def list_fields(ctx: ApiContext) -> dict[str, Any]:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    found = models.fields_in(ctx.account, list_id)
    kind = ctx.query.get("type")
    if kind:
        found = [f for f in found if f.type == kind]
    if ctx.query.get("required"):
        wanted = bool_param(ctx.query, "required")
        found = [f for f in found if f.required == wanted]
    base = ctx.api_url(f"/lists/{list_id}/merge-fields")
    return {
        "merge_fields": [render(ctx, f) for f in page(ctx.query, found)],
        "list_id": list_id,
        "total_items": len(found),
        "_links": [
            link("self", base, "GET", "Lists/MergeFields/Collection"),
            link("parent", ctx.api_url(f"/lists/{list_id}"), "GET", "Lists/Instance"),
            link("create", base, "POST", "Lists/MergeFields/Instance"),
        ],
    }


async def create_field(ctx: ApiContext) -> dict[str, Any]:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    body = await ctx.validated_json()
    return render(ctx, models.create(ctx.account, list_id, body))


async def get_field(ctx: ApiContext) -> dict[str, Any]:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    return render(ctx, models.require_field(ctx.account, list_id, ctx.params["merge_id"]))


async def update_field(ctx: ApiContext) -> dict[str, Any]:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    field = models.require_field(ctx.account, list_id, ctx.params["merge_id"])
    body = await ctx.validated_json()
    old_tag = models.update(ctx.account, field, body)
    if old_tag is not None:
        # Members keep their values under the field's new tag (a rare admin
        # operation, so one pass over the audience is fine).
        for member in members_of(ctx.account).members.get(list_id, {}).values():
            if old_tag in member.merge_fields:
                member.merge_fields[field.tag] = member.merge_fields.pop(old_tag)
    return render(ctx, field)


async def delete_field(ctx: ApiContext) -> None:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    field = models.require_field(ctx.account, list_id, ctx.params["merge_id"])
    models.remove(ctx.account, field)
    # Drop the values too, so a later field reusing the tag starts empty.
    for member in members_of(ctx.account).members.get(list_id, {}).values():
        member.merge_fields.pop(field.tag, None)
