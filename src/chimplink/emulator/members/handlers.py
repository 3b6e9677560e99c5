"""Handlers of /lists/{list_id}/members...: parse → rules (writes.py) → render (render.py)."""

from __future__ import annotations

import re
from itertools import islice
from typing import Any

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, Backend, now_iso
from chimplink.emulator.context import ApiContext
from chimplink.emulator.links import link
from chimplink.emulator.lists.models import require_list
from chimplink.emulator.members import errors, events, writes
from chimplink.emulator.members.models import (
    STATUSES,
    Member,
    MemberEvent,
    find_member,
    members_of,
    require_member,
    subscriber_hash,
)
from chimplink.emulator.members.render import member_response, members_base, render_member
from chimplink.emulator.merge_fields.models import MergeField, fields_in
from chimplink.emulator.params import DEFAULT_COUNT, MAX_COUNT, bool_param, int_param, page

# status_if_new is required only when the PUT creates the contact (§8.2).
_PUT_RELAX = frozenset({"status_if_new"})
SORT_FIELDS = ("timestamp_opt", "timestamp_signup", "last_changed")
INTEREST_MATCHES = ("any", "all", "none")
# "Event names must be 2-30 characters" (§8.6); Mailchimp also limits them to
# letters, digits, dashes and underscores.
_EVENT_NAME = re.compile(r"^[A-Za-z0-9_-]{2,30}$")


def emit(
    backend: Backend,
    outcome: writes.Outcome,
    *,
    account: Account,
    fields: list[MergeField],
    source: str = "api",
    reason: str = "",
) -> None:
    for event in events.for_outcome(
        outcome, account_id=account.account_id, fields=fields, source=source, reason=reason
    ):
        backend.emit(event)


def _by_tag(fields: list[MergeField]) -> dict[str, MergeField]:
    return {f.tag: f for f in fields}


# -- collection -------------------------------------------------------------------


def _enum(ctx: ApiContext, name: str, allowed: tuple[str, ...]) -> str | None:
    value = ctx.query.get(name)
    if not value:
        return None
    if value not in allowed:
        raise problems.field_error(name, f"Schema describes enum, {value} found instead")
    return value


def _time(ctx: ApiContext, name: str) -> str | None:
    raw = ctx.query.get(name)
    if not raw:
        return None
    parsed = writes.parse_timestamp(raw)
    if parsed is None:
        raise problems.field_error(
            name, f"{raw} is not a valid date-time (use ISO 8601, e.g. 2024-05-01T12:00:00Z)."
        )
    return parsed.isoformat()


async def list_members(ctx: ApiContext) -> dict[str, Any]:
    """GET /lists/{list_id}/members with Mailchimp's filters (REFERENCE.md §6).

    Timestamps are compared as normalised ISO strings (all stored ones are
    UTC `+00:00`). `since_*` bounds are inclusive, so an incremental sync
    that passes its last seen `last_changed` never misses a change made in
    the same second; `before_*` bounds are exclusive.
    """
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    in_list = members_of(ctx.account).members.get(list_id, {})
    query = ctx.query
    status = _enum(ctx, "status", STATUSES)
    sort_field = _enum(ctx, "sort_field", SORT_FIELDS)
    sort_dir = _enum(ctx, "sort_dir", ("ASC", "DESC"))
    match = _enum(ctx, "interest_match", INTEREST_MATCHES)
    since_changed = _time(ctx, "since_last_changed")
    before_changed = _time(ctx, "before_last_changed")
    since_opt = _time(ctx, "since_timestamp_opt")
    before_opt = _time(ctx, "before_timestamp_opt")
    unsubscribed_since = _time(ctx, "unsubscribed_since")
    email_type = query.get("email_type") or None
    unique_email_id = query.get("unique_email_id") or None
    vip_only = bool_param(query, "vip_only")
    interest_ids = [i for i in (query.get("interest_ids") or "").split(",") if i.strip()]

    filtered = any(
        (
            status,
            since_changed,
            before_changed,
            since_opt,
            before_opt,
            unsubscribed_since,
            email_type,
            unique_email_id,
            vip_only,
            interest_ids,
        )
    )
    count = int_param(query, "count", DEFAULT_COUNT, lo=1, hi=MAX_COUNT)
    offset = int_param(query, "offset", 0, lo=0, hi=2**31)

    def keep(m: Member) -> bool:
        if status is not None and m.status != status:
            return False
        if since_changed is not None and m.last_changed < since_changed:
            return False
        if before_changed is not None and m.last_changed >= before_changed:
            return False
        if since_opt is not None and (not m.timestamp_opt or m.timestamp_opt < since_opt):
            return False
        if before_opt is not None and (not m.timestamp_opt or m.timestamp_opt >= before_opt):
            return False
        if unsubscribed_since is not None and (
            m.status != "unsubscribed" or m.last_changed < unsubscribed_since
        ):
            return False
        if email_type is not None and m.email_type != email_type:
            return False
        if unique_email_id is not None and m.unique_email_id != unique_email_id:
            return False
        if vip_only and not m.vip:
            return False
        if interest_ids:
            chosen = [bool(m.interests.get(i)) for i in interest_ids]
            wanted = match or "any"
            if wanted == "any" and not any(chosen):
                return False
            if wanted == "all" and not all(chosen):
                return False
            if wanted == "none" and any(chosen):
                return False
        return True

    if not filtered and sort_field is None:
        total = len(in_list)
        chosen = list(islice(in_list.values(), offset, offset + count))
    else:
        matching = [m for m in in_list.values() if keep(m)] if filtered else list(in_list.values())
        if sort_field is not None:
            if sort_field == "last_changed":
                matching.sort(key=lambda m: (m.last_changed, m.change_seq))
            else:
                matching.sort(key=lambda m: (getattr(m, sort_field), m.change_seq))
            if sort_dir == "DESC":
                matching.reverse()
        total = len(matching)
        chosen = matching[offset : offset + count]
    fields = fields_in(ctx.account, list_id)
    tags = [f.tag for f in fields]
    base = members_base(ctx, list_id)
    return {
        "members": [render_member(m, tags=tags, base=base) for m in chosen],
        "list_id": list_id,
        "total_items": total,
        "_links": [
            link("self", base, "GET", "Lists/Members/CollectionResponse"),
            link("parent", ctx.api_url(f"/lists/{list_id}"), "GET", "Lists/Instance"),
            link("create", base, "POST", "Lists/Members/Response"),
        ],
    }


# -- one member -----------------------------------------------------------------------


async def get_member(ctx: ApiContext) -> dict[str, Any]:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    return member_response(ctx, require_member(ctx.account, list_id, ctx.params["subscriber_hash"]))


async def create_member(ctx: ApiContext) -> dict[str, Any]:
    """POST: add a contact; an address already on the audience (even archived) is
    "Member Exists" (§5)."""
    account = ctx.account
    list_id = ctx.params["list_id"]
    require_list(account, list_id)
    body = await ctx.validated_json()
    data = writes.parse_input(body)
    assert data.email_address is not None and data.status is not None  # schema-required
    if find_member(account, list_id, data.email_address) is not None:
        raise errors.member_exists(data.email_address)
    fields = fields_in(account, list_id)
    outcome = writes.create(
        account=account,
        backend=ctx.backend,
        list_id=list_id,
        data=data,
        status=data.status,
        fields=_by_tag(fields),
        skip_merge_validation=bool_param(ctx.query, "skip_merge_validation"),
    )
    emit(ctx.backend, outcome, account=account, fields=fields)
    return member_response(ctx, outcome.member, fields)


async def upsert_member(ctx: ApiContext) -> dict[str, Any]:
    """PUT: create with `status_if_new`, or update (`status` overwrites).

    `email_address` is required on every PUT (the spec's schema and the 2026
    guide agree); `status_if_new` only when the call creates the contact
    (§8.2). On an existing contact a different `email_address` changes the
    contact's address in place: that is how integrations rename a contact.
    An archived contact is re-added with `status`, or else `status_if_new`.
    """
    account = ctx.account
    list_id = ctx.params["list_id"]
    require_list(account, list_id)
    body = await ctx.validated_json(relax=_PUT_RELAX)
    data = writes.parse_input(body)
    data.tags = None  # not a PUT body field (§8.2)
    assert data.email_address is not None
    key = ctx.params["subscriber_hash"]
    skip = bool_param(ctx.query, "skip_merge_validation")
    fields = fields_in(account, list_id)
    member = find_member(account, list_id, key)
    if member is None:
        if data.status_if_new is None:
            raise problems.missing_fields("status_if_new")
        expected = subscriber_hash(key) if "@" in key else key.lower()
        if subscriber_hash(data.email_address) != expected:
            raise errors.hash_mismatch()
        outcome = writes.create(
            account=account,
            backend=ctx.backend,
            list_id=list_id,
            data=data,
            status=data.status or data.status_if_new,
            fields=_by_tag(fields),
            skip_merge_validation=skip,
        )
    else:
        status = data.status
        if member.status == "archived" and status is None:
            status = data.status_if_new
        outcome = writes.update(
            account=account,
            backend=ctx.backend,
            member=member,
            data=data,
            status=status,
            fields=_by_tag(fields),
            skip_merge_validation=skip,
        )
    emit(ctx.backend, outcome, account=account, fields=fields)
    return member_response(ctx, outcome.member, fields)


async def update_member(ctx: ApiContext) -> dict[str, Any]:
    account = ctx.account
    list_id = ctx.params["list_id"]
    require_list(account, list_id)
    member = require_member(account, list_id, ctx.params["subscriber_hash"])
    body = await ctx.validated_json()
    data = writes.parse_input(body)
    data.tags = None  # not a PATCH body field
    fields = fields_in(account, list_id)
    outcome = writes.update(
        account=account,
        backend=ctx.backend,
        member=member,
        data=data,
        status=data.status,
        fields=_by_tag(fields),
        skip_merge_validation=bool_param(ctx.query, "skip_merge_validation"),
    )
    emit(ctx.backend, outcome, account=account, fields=fields)
    return member_response(ctx, outcome.member, fields)


async def archive_member(ctx: ApiContext) -> None:
    account = ctx.account
    list_id = ctx.params["list_id"]
    require_list(account, list_id)
    member = require_member(account, list_id, ctx.params["subscriber_hash"])
    outcome = writes.archive(account, member)
    emit(ctx.backend, outcome, account=account, fields=fields_in(account, list_id))


async def delete_permanent(ctx: ApiContext) -> None:
    account = ctx.account
    list_id = ctx.params["list_id"]
    require_list(account, list_id)
    member = require_member(account, list_id, ctx.params["subscriber_hash"])
    fired = events.deleted(
        member, account_id=account.account_id, fields=fields_in(account, list_id), source="api"
    )
    writes.delete_permanently(account, member)
    for event in fired:
        ctx.backend.emit(event)


# -- tags ---------------------------------------------------------------------------------


async def list_tags(ctx: ApiContext) -> dict[str, Any]:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    member = require_member(ctx.account, list_id, ctx.params["subscriber_hash"])
    href = f"{members_base(ctx, list_id)}/{member.id}/tags"
    return {
        "tags": [
            {
                "id": t["id"],
                "name": t["name"],
                "date_added": t.get("date_added") or member.last_changed,
            }
            for t in page(ctx.query, member.tags)
        ],
        "total_items": len(member.tags),
        "_links": [
            link("self", href, "GET", "Lists/Members/Tags/CollectionResponse"),
            link(
                "parent",
                f"{members_base(ctx, list_id)}/{member.id}",
                "GET",
                "Lists/Members/Response",
            ),
        ],
    }


async def update_tags(ctx: ApiContext) -> None:
    """POST .../tags: `active` adds (creating the tag), `inactive` removes → 204 (§8.4)."""
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    member = require_member(ctx.account, list_id, ctx.params["subscriber_hash"])
    body = await ctx.validated_json()
    updates: list[tuple[str, bool]] = []
    for index, item in enumerate(body["tags"]):
        name = str(item["name"]).strip()
        if not name:
            raise problems.field_error(f"tags.{index}.name", "Tag names cannot be empty.")
        if len(name) > 100:
            raise problems.field_error(
                f"tags.{index}.name", "Tag names must be at most 100 characters long."
            )
        updates.append((name, item["status"] == "active"))
    writes.set_tags(ctx.account, backend=ctx.backend, member=member, updates=updates)


# -- events -------------------------------------------------------------------------------


async def list_events(ctx: ApiContext) -> dict[str, Any]:
    """GET .../events, newest first."""
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    member = require_member(ctx.account, list_id, ctx.params["subscriber_hash"])
    found = members_of(ctx.account).events.get(list_id, {}).get(member.contact_id, [])
    newest_first = list(reversed(found))
    href = f"{members_base(ctx, list_id)}/{member.id}/events"
    return {
        "events": [
            {"name": e.name, "properties": dict(e.properties), "occurred_at": e.occurred_at}
            for e in page(ctx.query, newest_first)
        ],
        "total_items": len(found),
        "_links": [
            link("self", href, "GET", "Lists/Members/Events/CollectionResponse"),
            link("create", href, "POST", "Lists/Members/Events/Instance"),
        ],
    }


async def create_event(ctx: ApiContext) -> None:
    """POST .../events: name 2–30 characters, string properties, optional
    occurred_at (ISO 8601, default now) and is_syncing → 204 (§8.6)."""
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    member = require_member(ctx.account, list_id, ctx.params["subscriber_hash"])
    body = await ctx.validated_json()
    name = str(body["name"])
    if not _EVENT_NAME.match(name):
        raise problems.field_error(
            "name",
            "Event names must be 2 to 30 characters long and contain only letters, "
            "numbers, dashes and underscores.",
        )
    properties = body.get("properties") or {}
    for key, value in properties.items():
        if not isinstance(value, str):
            raise problems.field_error(
                f"properties.{key}", "Event property values must be strings."
            )
    occurred = body.get("occurred_at")
    if occurred:
        parsed = writes.parse_timestamp(str(occurred))
        if parsed is None:
            raise problems.field_error(
                "occurred_at", f"{occurred} is not a valid date-time (use ISO 8601)."
            )
        occurred_at = parsed.isoformat()
    else:
        occurred_at = now_iso()
    members_of(ctx.account).events.setdefault(list_id, {}).setdefault(member.contact_id, []).append(
        MemberEvent(
            name=name,
            properties=dict(properties),
            occurred_at=occurred_at,
            is_syncing=bool(body.get("is_syncing", False)),
        )
    )
