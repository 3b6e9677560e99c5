"""Control plane: what a subscriber or an admin does in Mailchimp's UI.

`POST /_emulator/lists/{list_id}/members/{subscriber_hash}/actions` with
`{action, source?, merge_fields?, new_email?, reason?}`:

    unsubscribe     the contact clicks "unsubscribe" (user) or an admin unsubscribes it
    update_profile  the contact edits its profile form, or an admin edits the contact
    change_email    the address changes (fires upemail, then profile, §4.1)
    clean           the address bounces (`reason` hard | abuse, default hard)
    subscribe       the contact signs up again through a form (user), or an admin
                    subscribes it

These bypass the API-only rules where Mailchimp's UI allows it: a contact may
re-subscribe itself through a signup form whatever its status, but an admin
cannot subscribe an unsubscribed or cleaned contact ("Member In Compliance
State", as through the API). Addresses are still checked (fake, forgotten,
taken) and merge values still type-checked. Events carry the action's
`source` (user | admin), so webhooks filtered by source see them as Mailchimp
sends them. The reply is the updated member, as the API renders it.
"""

from __future__ import annotations

from typing import Any

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, Backend
from chimplink.emulator.context import ApiContext
from chimplink.emulator.lists.models import lists_of
from chimplink.emulator.members import writes
from chimplink.emulator.members.handlers import emit
from chimplink.emulator.members.models import members_of, require_member
from chimplink.emulator.members.render import member_response
from chimplink.emulator.merge_fields.models import fields_in

ACTIONS = ("unsubscribe", "update_profile", "change_email", "clean", "subscribe")
SOURCES = ("user", "admin")
CLEAN_REASONS = ("hard", "abuse")


def owner_of(backend: Backend, list_id: str) -> Account:
    """The account holding audience `list_id` (control routes carry no credentials)."""
    for account in backend.iter_accounts():
        if list_id in lists_of(account).lists:
            return account
    raise problems.not_found()


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise problems.field_error(name, f"{name} must be a string")
    return value.strip()


async def subscriber_action(ctx: ApiContext) -> dict[str, Any]:
    body = await ctx.json_object()
    action = body.get("action")
    if action not in ACTIONS:
        raise problems.bad_request(
            f"Unknown action {action!r}. Valid actions: {', '.join(ACTIONS)}."
        )
    source = body.get("source", "user")
    if source not in SOURCES:
        raise problems.bad_request(
            f"Unknown source {source!r}. Valid sources: {', '.join(SOURCES)}."
        )
    reason = _text(body, "reason")
    list_id = ctx.params["list_id"]
    account = owner_of(ctx.backend, list_id)
    member = require_member(account, list_id, ctx.params["subscriber_hash"])
    fields = fields_in(account, list_id)
    data = writes.MemberInput()
    status: str | None = None
    enforce = False
    event_reason = ""
    if action == "unsubscribe":
        status = "unsubscribed"
        event_reason = "abuse" if reason == "abuse" else "manual"
    elif action == "clean":
        if reason and reason not in CLEAN_REASONS:
            raise problems.field_error(
                "reason", f"reason must be one of: {', '.join(CLEAN_REASONS)}"
            )
        status = "cleaned"
        event_reason = reason or "hard"
    elif action == "subscribe":
        status = "subscribed"
        # Only the contact itself may opt back in; an admin is bound by compliance.
        enforce = source == "admin"
    elif action == "update_profile":
        merge_fields = body.get("merge_fields")
        if not isinstance(merge_fields, dict) or not merge_fields:
            raise problems.field_error(
                "merge_fields", "update_profile needs a non-empty merge_fields object"
            )
        data.merge_fields = merge_fields
    else:  # change_email
        new_email = _text(body, "new_email")
        if not new_email:
            raise problems.missing_fields("new_email")
        data.email_address = new_email
    outcome = writes.update(
        account=account,
        backend=ctx.backend,
        member=member,
        data=data,
        status=status,
        fields={f.tag: f for f in fields},
        skip_merge_validation=True,
        enforce=enforce,
    )
    if action == "unsubscribe" and outcome.changed:
        member.unsubscribe_reason = reason or (
            "N/A (Unsubscribed by an admin)" if source == "admin" else ""
        )
    emit(ctx.backend, outcome, account=account, fields=fields, source=source, reason=event_reason)
    return member_response(ctx, outcome.member, fields)


def count_subscribed(account: Account) -> int:
    """The account's subscribed contacts (the root's `total_subscribers`)."""
    return sum(
        1
        for in_list in members_of(account).members.values()
        for member in in_list.values()
        if member.status == "subscribed"
    )
