"""Response bodies of segments, interests and the members they list."""

from __future__ import annotations

from typing import Any

from chimplink.emulator.context import ApiContext
from chimplink.emulator.links import link, self_links
from chimplink.emulator.segments.interests import Interest, InterestCategory
from chimplink.emulator.segments.models import Segment


def segment_body(ctx: ApiContext, segment: Segment, *, member_count: int) -> dict[str, Any]:
    href = ctx.api_url(f"/lists/{segment.list_id}/segments/{segment.id}")
    body: dict[str, Any] = {
        "id": segment.id,
        "name": segment.name,
        "member_count": member_count,
        "type": segment.type,
        "created_at": segment.created_at,
        "updated_at": segment.updated_at,
        "list_id": segment.list_id,
        "_links": [
            link("self", href, "GET", "Lists/Segments/Instance"),
            link("parent", ctx.api_url(f"/lists/{segment.list_id}/segments")),
            link("update", href, "PATCH"),
            link("delete", href, "DELETE"),
            link("members", f"{href}/members"),
        ],
    }
    options = segment.options
    if options is not None:
        # Static segments (tags) have no conditions (the spec's `Conditions2`).
        body["options"] = options.as_json()
    return body


def category_body(ctx: ApiContext, category: InterestCategory) -> dict[str, Any]:
    href = ctx.api_url(f"/lists/{category.list_id}/interest-categories/{category.id}")
    return {
        "list_id": category.list_id,
        "id": category.id,
        "title": category.title,
        "display_order": category.display_order,
        "type": category.type,
        "_links": [
            *self_links(href, "Lists/InterestCategories/Instance"),
            link("parent", ctx.api_url(f"/lists/{category.list_id}/interest-categories")),
            link("update", href, "PATCH"),
            link("delete", href, "DELETE"),
            link("interests", f"{href}/interests"),
        ],
    }


def interest_body(ctx: ApiContext, interest: Interest, *, subscriber_count: int) -> dict[str, Any]:
    parent = f"/lists/{interest.list_id}/interest-categories/{interest.category_id}/interests"
    href = ctx.api_url(f"{parent}/{interest.id}")
    return {
        "category_id": interest.category_id,
        "list_id": interest.list_id,
        "id": interest.id,
        "name": interest.name,
        # The spec types subscriber_count as a string, as Mailchimp sends it.
        "subscriber_count": str(subscriber_count),
        "display_order": interest.display_order,
        "_links": [
            *self_links(href, "Lists/InterestCategories/Interests/Instance"),
            link("parent", ctx.api_url(parent)),
            link("update", href, "PATCH"),
            link("delete", href, "DELETE"),
        ],
    }
