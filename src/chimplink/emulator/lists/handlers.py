"""Handlers of /lists and /lists/{list_id}: parse → rules → render."""

from __future__ import annotations

from typing import Any

from chimplink.emulator import problems
from chimplink.emulator.backend import now_iso
from chimplink.emulator.context import ApiContext
from chimplink.emulator.links import link
from chimplink.emulator.lists.models import MailingList, lists_of, require_list
from chimplink.emulator.lists.stats import list_stats
from chimplink.emulator.members.emails import is_valid_syntax
from chimplink.emulator.members.models import drop_list as drop_members
from chimplink.emulator.members.models import members_of, subscriber_hash
from chimplink.emulator.members.writes import parse_timestamp
from chimplink.emulator.merge_fields import models as merge_fields
from chimplink.emulator.params import page
from chimplink.emulator.segments import models as segments
from chimplink.emulator.webhooks import models as webhooks

# The emulator does not model plan limits on audiences; it reports a ceiling
# no test or demo reaches, so `constraints.may_create` stays true.
MAX_LISTS = 1000
_CONTACT_KEYS = ("company", "address1", "address2", "city", "state", "zip", "country", "phone")
# Top-level fields the spec's PATCH schema marks required: PATCH is a partial
# update, so they are optional there; a nested `contact` or `campaign_defaults`
# given in full is still checked against the schema.
_PATCH_RELAX = frozenset(
    {"name", "contact", "permission_reminder", "campaign_defaults", "email_type_option"}
)
_PATCHABLE = (
    "name",
    "permission_reminder",
    "use_archive_bar",
    "notify_on_subscribe",
    "notify_on_unsubscribe",
    "email_type_option",
    "double_optin",
    "marketing_permissions",
)


def render(ctx: ApiContext, mailing_list: MailingList) -> dict[str, Any]:
    href = ctx.api_url(f"/lists/{mailing_list.id}")
    contact = {key: str(mailing_list.contact.get(key, "")) for key in _CONTACT_KEYS}
    return {
        "id": mailing_list.id,
        "web_id": mailing_list.web_id,
        "name": mailing_list.name,
        "contact": contact,
        "permission_reminder": mailing_list.permission_reminder,
        "use_archive_bar": mailing_list.use_archive_bar,
        "campaign_defaults": dict(mailing_list.campaign_defaults),
        "notify_on_subscribe": mailing_list.notify_on_subscribe,
        "notify_on_unsubscribe": mailing_list.notify_on_unsubscribe,
        "date_created": mailing_list.date_created,
        "list_rating": mailing_list.list_rating,
        "email_type_option": mailing_list.email_type_option,
        "subscribe_url_short": mailing_list.subscribe_url_short,
        "subscribe_url_long": mailing_list.subscribe_url_long,
        "beamer_address": mailing_list.beamer_address,
        "visibility": mailing_list.visibility,
        "double_optin": mailing_list.double_optin,
        "has_welcome": mailing_list.has_welcome,
        "marketing_permissions": mailing_list.marketing_permissions,
        "modules": list(mailing_list.modules),
        "stats": list_stats(ctx.account, mailing_list.id),
        "_links": [
            link("self", href, "GET", "Lists/Response"),
            link("parent", ctx.api_url("/lists"), "GET", "Lists/CollectionResponse"),
            link("update", href, "PATCH", "Lists/Response"),
            link("batch-sub-unsub-members", href, "POST", "Lists/BatchPOST/Response"),
            link("delete", href, "DELETE"),
            link("members", f"{href}/members", "GET", "Lists/Members/CollectionResponse"),
            link(
                "merge-fields",
                f"{href}/merge-fields",
                "GET",
                "Lists/MergeFields/CollectionResponse",
            ),
        ],
    }


def _check(body: dict[str, Any]) -> None:
    """What the schema cannot say: a name and a real sender address."""
    if "name" in body and not str(body["name"]).strip():
        raise problems.field_error("name", "The audience name cannot be empty.")
    defaults = body.get("campaign_defaults")
    if isinstance(defaults, dict):
        sender = str(defaults.get("from_email", "")).strip()
        if not is_valid_syntax(sender):
            raise problems.field_error(
                "campaign_defaults.from_email", f"{sender!r} is not a valid email address."
            )


async def create_list(ctx: ApiContext) -> dict[str, Any]:
    body = await ctx.validated_json()
    _check(body)
    backend = ctx.backend
    list_id = backend.new_id(10)
    account = ctx.account
    mailing_list = MailingList(
        id=list_id,
        web_id=backend.new_int_id(),
        name=str(body["name"]).strip(),
        contact=dict(body["contact"]),
        permission_reminder=str(body["permission_reminder"]),
        use_archive_bar=bool(body.get("use_archive_bar", False)),
        campaign_defaults=dict(body["campaign_defaults"]),
        notify_on_subscribe=str(body.get("notify_on_subscribe", "")),
        notify_on_unsubscribe=str(body.get("notify_on_unsubscribe", "")),
        email_type_option=bool(body["email_type_option"]),
        double_optin=bool(body.get("double_optin", False)),
        marketing_permissions=bool(body.get("marketing_permissions", False)),
        subscribe_url_short=f"http://eepurl.com/{backend.new_id(6)}",
        subscribe_url_long=ctx.url(f"/subscribe?u={account.account_id}&id={list_id}"),
        beamer_address=f"{account.dc}-{backend.new_id(10)}@inbound.mailchimp.com",
        date_created=now_iso(),
    )
    lists_of(account).lists[list_id] = mailing_list
    merge_fields.add_defaults(account, list_id)
    return render(ctx, mailing_list)


async def list_lists(ctx: ApiContext) -> dict[str, Any]:
    account = ctx.account
    query = ctx.query
    found = list(lists_of(account).lists.values())
    for name, newer in (("since_date_created", True), ("before_date_created", False)):
        raw = query.get(name)
        if raw:
            bound = parse_timestamp(raw)
            if bound is None:
                raise problems.field_error(name, f"{raw} is not a valid date-time (ISO 8601).")
            edge = bound.isoformat()
            found = [
                lst
                for lst in found
                if (lst.date_created >= edge if newer else lst.date_created < edge)
            ]
    email = query.get("email")
    if email:
        digest = subscriber_hash(email)
        audiences = members_of(account).members
        found = [lst for lst in found if digest in audiences.get(lst.id, {})]
    sort_field = query.get("sort_field")
    if sort_field:
        if sort_field != "date_created":
            raise problems.field_error(
                "sort_field", f"Schema describes enum, {sort_field} found instead"
            )
        found.sort(key=lambda lst: lst.date_created, reverse=query.get("sort_dir") == "DESC")
    total = len(lists_of(account).lists)
    return {
        "lists": [render(ctx, lst) for lst in page(query, found)],
        "total_items": len(found),
        "constraints": {
            "may_create": total < MAX_LISTS,
            "max_instances": MAX_LISTS,
            "current_total_instances": total,
        },
        "_links": [
            link("self", ctx.api_url("/lists"), "GET", "Lists/CollectionResponse"),
            link("create", ctx.api_url("/lists"), "POST", "Lists/Response"),
        ],
    }


async def get_list(ctx: ApiContext) -> dict[str, Any]:
    return render(ctx, require_list(ctx.account, ctx.params["list_id"]))


async def update_list(ctx: ApiContext) -> dict[str, Any]:
    mailing_list = require_list(ctx.account, ctx.params["list_id"])
    body = await ctx.validated_json(relax=_PATCH_RELAX)
    _check(body)
    for key in _PATCHABLE:
        if key in body:
            value = body[key]
            setattr(mailing_list, key, value.strip() if key == "name" else value)
    if "contact" in body:
        mailing_list.contact = dict(body["contact"])
    if "campaign_defaults" in body:
        mailing_list.campaign_defaults = dict(body["campaign_defaults"])
    return render(ctx, mailing_list)


async def delete_list(ctx: ApiContext) -> None:
    """Deleting an audience deletes its contacts, fields, segments, interests and webhooks."""
    account = ctx.account
    list_id = ctx.params["list_id"]
    require_list(account, list_id)
    del lists_of(account).lists[list_id]
    drop_members(members_of(account), list_id)
    merge_fields.drop_list(account, list_id)
    segments.drop_list(account, list_id)
    webhooks.forget_list(account, list_id)
