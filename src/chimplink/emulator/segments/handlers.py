"""Handlers of segments, segment members and tag search: parse → rules → render."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chimplink.emulator import problems, spec
from chimplink.emulator.context import ApiContext
from chimplink.emulator.links import link, self_links
from chimplink.emulator.lists.models import require_list
from chimplink.emulator.members.models import find_member, require_member
from chimplink.emulator.members.render import member_response
from chimplink.emulator.params import bool_param, page
from chimplink.emulator.segments import models
from chimplink.emulator.segments.conditions import Options, parse_options
from chimplink.emulator.segments.models import Segment
from chimplink.emulator.segments.render import segment_body

SEGMENT_TYPES = ("saved", "static", "fuzzy")


def _statuses(query: Mapping[str, str]) -> frozenset[str]:
    """The member statuses a segment shows: subscribed, plus what include_* adds."""
    statuses = set(models.BASE_STATUSES)
    for flag, status in (
        ("include_cleaned", "cleaned"),
        ("include_transactional", "transactional"),
        ("include_unsubscribed", "unsubscribed"),
    ):
        if bool_param(query, flag):
            statuses.add(status)
    return frozenset(statuses)


def _segment(ctx: ApiContext) -> Segment:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    return models.require_segment(
        ctx.account,
        list_id=list_id,
        segment_id=ctx.params["segment_id"],
        new_id=ctx.backend.new_int_id,
    )


def _render(ctx: ApiContext, segment: Segment, statuses: frozenset[str]) -> dict[str, Any]:
    count = len(models.segment_members(ctx.account, segment, statuses=statuses))
    return segment_body(ctx, segment, member_count=count)


def _definition(body: Mapping[str, Any]) -> tuple[list[str] | None, Options | None]:
    static = body.get("static_segment")
    raw_options = body.get("options")
    if static is not None and raw_options is not None:
        raise problems.invalid_resource(
            'The "static_segment" field cannot be provided with the "options" field.'
        )
    options = parse_options(raw_options) if raw_options is not None else None
    return (list(static) if static is not None else None), options


# -- segments ---------------------------------------------------------------------


async def list_segments(ctx: ApiContext) -> dict[str, Any]:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    query = ctx.query
    statuses = _statuses(query)
    wanted_type = query.get("type") or None
    if wanted_type is not None and wanted_type not in SEGMENT_TYPES:
        raise problems.field_error("type", f"Schema describes enum, {wanted_type} found instead")
    bounds = {
        name: models.parse_time(query[name], param=name)
        for name in (
            "since_created_at",
            "before_created_at",
            "since_updated_at",
            "before_updated_at",
        )
        if query.get(name)
    }
    selected: list[Segment] = []
    for segment in models.list_segments(ctx.account, list_id, new_id=ctx.backend.new_int_id):
        if wanted_type is not None and segment.type != wanted_type:
            continue
        created = models.parse_time(segment.created_at, param="created_at")
        updated = models.parse_time(segment.updated_at, param="updated_at")
        if "since_created_at" in bounds and created <= bounds["since_created_at"]:
            continue
        if "before_created_at" in bounds and created >= bounds["before_created_at"]:
            continue
        if "since_updated_at" in bounds and updated <= bounds["since_updated_at"]:
            continue
        if "before_updated_at" in bounds and updated >= bounds["before_updated_at"]:
            continue
        selected.append(segment)
    return {
        "segments": [_render(ctx, s, statuses) for s in page(query, selected)],
        "list_id": list_id,
        "total_items": len(selected),
        "_links": [
            *self_links(ctx.api_url(f"/lists/{list_id}/segments"), "Lists/Segments/Collection"),
            link("parent", ctx.api_url(f"/lists/{list_id}")),
            link("create", ctx.api_url(f"/lists/{list_id}/segments"), "POST"),
        ],
    }


async def create_segment(ctx: ApiContext) -> dict[str, Any]:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    body = await ctx.validated_json()
    static, options = _definition(body)
    if static is None and options is None:
        # Observed wording (amro/gibbon#228, brandonseydel/MailChimp.Net#160).
        raise problems.invalid_resource(
            'Must provide either an "options" field or a "static_segment" field'
        )
    segment = models.create_segment(
        ctx.account,
        list_id=list_id,
        name=str(body["name"]),
        static_emails=static,
        options=options,
        new_id=ctx.backend.new_int_id,
    )
    return _render(ctx, segment, models.BASE_STATUSES)


async def get_segment(ctx: ApiContext) -> dict[str, Any]:
    statuses = _statuses(ctx.query)
    return _render(ctx, _segment(ctx), statuses)


async def _patch_body(ctx: ApiContext) -> dict[str, Any]:
    """The PATCH body, validated against the spec except for `options`.

    The vendored spec's PATCH schema (`List5` → `Conditions1`) types each of
    `options.conditions` as an array: a conversion artifact (POST's `Conditions`
    and every Mailchimp example use objects). `parse_options` checks `options`
    against the condition schemas instead.
    """
    body = await ctx.json_object()
    route = ctx.route
    assert route is not None
    spec.validate_request(
        route.method, route.path, {k: v for k, v in body.items() if k != "options"}
    )
    return body


async def update_segment(ctx: ApiContext) -> dict[str, Any]:
    segment = _segment(ctx)
    body = await _patch_body(ctx)
    static, options = _definition(body)
    models.update_segment(
        ctx.account, segment=segment, name=str(body["name"]), static_emails=static, options=options
    )
    return _render(ctx, segment, models.BASE_STATUSES)


async def delete_segment(ctx: ApiContext) -> None:
    models.delete_segment(ctx.account, _segment(ctx))


async def batch_members(ctx: ApiContext) -> dict[str, Any]:
    segment = _segment(ctx)
    body = await ctx.validated_json(allow_empty=True)
    to_add: list[str] = list(body.get("members_to_add") or [])
    to_remove: list[str] = list(body.get("members_to_remove") or [])
    for name, emails in (("members_to_add", to_add), ("members_to_remove", to_remove)):
        if len(emails) > models.MAX_BATCH:
            message = (
                f"{name} has {len(emails)} emails; a maximum of {models.MAX_BATCH} "
                "members can be sent in one call."
            )
            raise problems.invalid_resource(message, errors=[{"field": name, "message": message}])
    models.require_static(segment)
    result = models.batch_update(ctx.account, segment=segment, to_add=to_add, to_remove=to_remove)
    error_count = 0
    for error in result.errors:
        addresses = error["email_addresses"]
        error_count += len(addresses) if isinstance(addresses, list) else 1
    return {
        "members_added": [member_response(ctx, m) for m in result.added],
        "members_removed": [member_response(ctx, m) for m in result.removed],
        "errors": result.errors,
        "total_added": len(result.added),
        "total_removed": len(result.removed),
        "error_count": error_count,
        "_links": self_links(
            ctx.api_url(f"/lists/{segment.list_id}/segments/{segment.id}"),
            "Lists/Segments/BatchPOSTResponse",
        ),
    }


# -- segment members -------------------------------------------------------------


async def list_segment_members(ctx: ApiContext) -> dict[str, Any]:
    segment = _segment(ctx)
    members = models.segment_members(ctx.account, segment, statuses=_statuses(ctx.query))
    href = ctx.api_url(f"/lists/{segment.list_id}/segments/{segment.id}/members")
    return {
        "members": [member_response(ctx, m) for m in page(ctx.query, members)],
        "total_items": len(members),
        "_links": [
            *self_links(href, "Lists/Segments/Members/Collection"),
            link("parent", ctx.api_url(f"/lists/{segment.list_id}/segments/{segment.id}")),
            link("create", href, "POST"),
        ],
    }


async def add_segment_member(ctx: ApiContext) -> dict[str, Any]:
    segment = _segment(ctx)
    body = await ctx.validated_json()
    models.require_static(segment)
    email = str(body["email_address"])
    member = find_member(ctx.account, segment.list_id, email) if "@" in email else None
    if member is None or member.status == "archived":
        # Only contacts of the audience can join one of its segments.
        raise problems.not_found()
    models.add_member(ctx.account, segment=segment, member=member)
    return member_response(ctx, member)


async def remove_segment_member(ctx: ApiContext) -> None:
    segment = _segment(ctx)
    models.require_static(segment)
    member = require_member(ctx.account, segment.list_id, ctx.params["subscriber_hash"])
    if not models.remove_member(ctx.account, segment=segment, member=member):
        raise problems.not_found()


# -- tags ---------------------------------------------------------------------------


async def search_tags(ctx: ApiContext) -> dict[str, Any]:
    """Tags (static segments) whose name starts with `name`, ignoring case.

    The spec: "The search query will be compared to each tag as a prefix";
    without `name`, every tag of the audience.
    """
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    prefix = (ctx.query.get("name") or "").strip().casefold()
    tags = [
        {"id": segment.id, "name": segment.name}
        for segment in models.list_segments(ctx.account, list_id, new_id=ctx.backend.new_int_id)
        if segment.type == "static" and segment.name.casefold().startswith(prefix)
    ]
    return {"tags": tags, "total_items": len(tags)}
