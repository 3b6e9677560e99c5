"""Batch subscribe or unsubscribe: `POST /lists/{list_id}` (REFERENCE.md §8.3).

Up to 500 members per call. The body is checked against the spec's schema
first (a schema error fails the whole call, as Mailchimp's validator does);
then each member goes through the same rules as a single write, and a rule
it breaks becomes an entry of `errors[]` instead of failing the call:

- an address already on the audience without `update_existing: true` →
  `ERROR_CONTACT_EXISTS`;
- fake addresses, compliance, forgotten addresses, merge field problems →
  `ERROR_GENERIC`, with `field` / `field_message` for merge fields (added
  2022-08-03);
- an address twice in one request → an error for the repeats, unless
  `skip_duplicate_check` (then the first appearance wins silently).

`sync_tags: true` with `update_existing` replaces an existing member's tags
with the request's (tags are otherwise added, since 2022-01-24).

Mailchimp serves an account's 10 connections in parallel; the emulator serves
them on one event loop, where a request's latency starts when the loop reads
it. Creating 500 members is ~35 ms of work: done in one go, it would leave the
requests that reach the socket meanwhile unread, and the emulator's own CPU
would show up as extra latency on them (measured with ten concurrent calls:
up to 0.4 s on an idle machine, 1 s on a loaded one). So the members are
worked through in slices of at most `MAX_HOLD_S`, with the loop free to read
other requests in between.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any, TypeVar

from chimplink.emulator import problems
from chimplink.emulator.context import ApiContext
from chimplink.emulator.links import link
from chimplink.emulator.lists.models import require_list
from chimplink.emulator.members import writes
from chimplink.emulator.members.handlers import emit
from chimplink.emulator.members.models import find_member
from chimplink.emulator.members.render import members_base, render_member
from chimplink.emulator.merge_fields.models import fields_in
from chimplink.emulator.params import bool_param

MAX_MEMBERS = 500
CONTACT_EXISTS = "ERROR_CONTACT_EXISTS"
GENERIC = "ERROR_GENERIC"
# The longest the handler keeps the event loop before letting other requests in.
MAX_HOLD_S = 0.002

T = TypeVar("T")


async def cooperatively(items: Iterable[T]) -> AsyncIterator[T]:
    """Yield `items`, giving the event loop a turn whenever `MAX_HOLD_S` has passed."""
    held_since = time.perf_counter()
    for item in items:
        if time.perf_counter() - held_since > MAX_HOLD_S:
            await asyncio.sleep(0)
            held_since = time.perf_counter()
        yield item


def _error(
    email: str, message: str, *, code: str = GENERIC, field: str = "", field_message: str = ""
) -> dict[str, str]:
    return {
        "email_address": email,
        "error": message,
        "error_code": code,
        "field": field,
        "field_message": field_message,
    }


def _from_problem(email: str, exc: problems.ProblemError) -> dict[str, str]:
    first = exc.errors[0] if exc.errors else None
    if first is not None and exc.detail.startswith("The resource submitted could not be validated"):
        # A schema-style failure: the field's own message says more than the generic detail.
        return _error(email, first["message"], field=first["field"], field_message=first["message"])
    if first is not None:
        return _error(email, exc.detail, field=first["field"], field_message=first["message"])
    return _error(email, exc.detail)


async def batch_subscribe(ctx: ApiContext) -> dict[str, Any]:
    account = ctx.account
    list_id = ctx.params["list_id"]
    require_list(account, list_id)
    raw = await ctx.json_object()
    members = raw.get("members")
    if isinstance(members, list) and len(members) > MAX_MEMBERS:
        raise problems.invalid_resource(
            detail=(
                f"Batch subscribe accepts at most {MAX_MEMBERS} members per call; "
                f"this request has {len(members)}. Split it into several calls."
            ),
            errors=[
                {
                    "field": "members",
                    "message": f"Schema describes array with at most {MAX_MEMBERS} items, "
                    f"{len(members)} found instead",
                }
            ],
        )
    body = await ctx.validated_json()
    update_existing = bool(body.get("update_existing", False))
    sync_tags = bool(body.get("sync_tags", False)) and update_existing
    skip_merge = bool_param(ctx.query, "skip_merge_validation")
    skip_duplicates = bool_param(ctx.query, "skip_duplicate_check")
    fields = fields_in(account, list_id)
    by_tag = {f.tag: f for f in fields}
    tags = [f.tag for f in fields]
    base = members_base(ctx, list_id)

    created: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    seen: set[str] = set()
    async for item in cooperatively(body["members"]):
        email = str(item.get("email_address") or "").strip()
        if not email:
            failures.append(
                _error(
                    "",
                    "Required fields were not provided: email_address",
                    field="email_address",
                    field_message="Required fields were not provided: email_address",
                )
            )
            continue
        key = email.lower()
        if key in seen:
            if not skip_duplicates:
                failures.append(_error(email, f"{email} appears more than once in this request."))
            continue
        seen.add(key)
        try:
            data = writes.parse_input(item)
            existing = find_member(account, list_id, email)
            if existing is None:
                if data.status is None:
                    raise problems.missing_fields("status")
                outcome = writes.create(
                    account=account,
                    backend=ctx.backend,
                    list_id=list_id,
                    data=data,
                    status=data.status,
                    fields=by_tag,
                    skip_merge_validation=skip_merge,
                )
                created.append(render_member(outcome.member, tags=tags, base=base))
            elif not update_existing:
                failures.append(
                    _error(
                        email,
                        f"{email} is already a list member, do you want to update? "
                        "please provide update_existing:true in the request body",
                        code=CONTACT_EXISTS,
                    )
                )
                continue
            else:
                outcome = writes.update(
                    account=account,
                    backend=ctx.backend,
                    member=existing,
                    data=data,
                    status=data.status,
                    fields=by_tag,
                    skip_merge_validation=skip_merge,
                    sync_tags=sync_tags,
                )
                updated.append(render_member(outcome.member, tags=tags, base=base))
        except problems.ProblemError as exc:
            failures.append(_from_problem(email, exc))
            continue
        emit(ctx.backend, outcome, account=account, fields=fields)

    href = ctx.api_url(f"/lists/{list_id}")
    return {
        "new_members": created,
        "updated_members": updated,
        "errors": failures,
        "total_created": len(created),
        "total_updated": len(updated),
        "error_count": len(failures),
        "_links": [
            link("self", href, "GET", "Lists/Instance"),
            link("parent", ctx.api_url("/lists"), "GET", "Lists/CollectionResponse"),
        ],
    }
