"""A member as Mailchimp's API returns it (the spec's ListMembers2), built as a plain dict.

Rendering is on the hot path (GET and PUT member), so it is one dict literal:
no model dumps, no validation. `merge_fields` lists every merge field of the
audience, empty ones as "" (as Mailchimp does); `tags` holds at most 50
entries, `tags_count` the true number (REFERENCE.md §8.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chimplink.emulator.context import ApiContext
from chimplink.emulator.links import SCHEMA_BASE
from chimplink.emulator.members.models import Member
from chimplink.emulator.merge_fields.models import MergeField, fields_in

MAX_TAGS_SHOWN = 50
_INSTANCE = f"{SCHEMA_BASE}/Definitions/Lists/Members/Response.json"
_COLLECTION = f"{SCHEMA_BASE}/Definitions/Lists/Members/CollectionResponse.json"
_PUT = f"{SCHEMA_BASE}/Definitions/Lists/Members/PUT.json"
_PATCH = f"{SCHEMA_BASE}/Definitions/Lists/Members/PATCH.json"


def member_response(
    ctx: ApiContext, member: Member, fields: Sequence[MergeField] | None = None
) -> dict[str, Any]:
    """One member as every endpoint that shows one renders it (members, segments)."""
    if fields is None:
        fields = fields_in(ctx.account, member.list_id)
    return render_member(
        member, tags=[f.tag for f in fields], base=members_base(ctx, member.list_id)
    )


def members_base(ctx: ApiContext, list_id: str) -> str:
    return ctx.api_url(f"/lists/{list_id}/members")


def render_member(member: Member, *, tags: Sequence[str], base: str) -> dict[str, Any]:
    """`tags` are the audience's merge tags in display order; `base` is
    `members_base()` (computed once per request, also for collections)."""
    values = member.merge_fields
    merge_fields = {tag: values.get(tag, "") for tag in tags}
    first = values.get("FNAME", "")
    last = values.get("LNAME", "")
    full_name = (
        f"{first} {last}".strip() if isinstance(first, str) and isinstance(last, str) else ""
    )
    location = member.location
    href = f"{base}/{member.id}"
    return {
        "id": member.id,
        "email_address": member.email_address,
        "unique_email_id": member.unique_email_id,
        "contact_id": member.contact_id,
        "full_name": full_name,
        "web_id": member.web_id,
        "email_type": member.email_type,
        "status": member.status,
        "unsubscribe_reason": member.unsubscribe_reason,
        "consents_to_one_to_one_messaging": True,
        "merge_fields": merge_fields,
        "interests": dict(member.interests),
        "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
        "ip_signup": member.ip_signup,
        "timestamp_signup": member.timestamp_signup,
        "ip_opt": member.ip_opt,
        "timestamp_opt": member.timestamp_opt,
        "member_rating": member.member_rating,
        "last_changed": member.last_changed,
        "language": member.language,
        "vip": member.vip,
        "email_client": "",
        "location": {
            "latitude": location.get("latitude", 0),
            "longitude": location.get("longitude", 0),
            "gmtoff": 0,
            "dstoff": 0,
            "country_code": "",
            "timezone": "",
            "region": "",
        },
        "marketing_permissions": list(member.marketing_permissions),
        "source": member.source,
        "tags_count": len(member.tags),
        "tags": [{"id": t["id"], "name": t["name"]} for t in member.tags[:MAX_TAGS_SHOWN]],
        "list_id": member.list_id,
        "_links": [
            {"rel": "self", "href": href, "method": "GET", "targetSchema": _INSTANCE},
            {"rel": "parent", "href": base, "method": "GET", "targetSchema": _COLLECTION},
            {
                "rel": "update",
                "href": href,
                "method": "PATCH",
                "targetSchema": _INSTANCE,
                "schema": _PATCH,
            },
            {
                "rel": "upsert",
                "href": href,
                "method": "PUT",
                "targetSchema": _INSTANCE,
                "schema": _PUT,
            },
            {"rel": "delete", "href": href, "method": "DELETE"},
            {"rel": "tags", "href": f"{href}/tags", "method": "GET"},
            {"rel": "events", "href": f"{href}/events", "method": "GET"},
        ],
    }
