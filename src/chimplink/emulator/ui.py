"""A read-only HTML view of the emulator's state: `/_emulator/ui` (not part of Mailchimp).

    /_emulator/ui                                         accounts
    /_emulator/ui/accounts/{account_id}                   audiences, files, webhook deliveries
    /_emulator/ui/accounts/{account_id}/lists/{list_id}   members, segments, interest groups

Handy in the demo: what a sync did is visible without an API client. Every
value shown comes from callers (account and audience names, emails, merge
fields), so templates autoescape; pages are plain HTML with no scripts.

File Manager files and webhook deliveries belong to other resource packages;
they are read here through the account's stores by name, defensively (a store
that does not exist, or holds a shape not expected, shows as empty), so this
view never depends on those packages' internals.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel
from starlette.responses import HTMLResponse

from chimplink.emulator.backend import Account
from chimplink.emulator.context import ApiContext
from chimplink.emulator.lists.models import MailingList, lists_of
from chimplink.emulator.members.models import Member, members_of
from chimplink.emulator.pages import html_page, templates
from chimplink.emulator.routing import Route
from chimplink.emulator.segments import interests as interest_rules
from chimplink.emulator.segments import models as segment_rules

MEMBERS_SHOWN = 100
DELIVERIES_SHOWN = 100
FILES_SHOWN = 200

# Other packages' stores, by their registered names.
FILES_STORE = "file_manager"
DELIVERIES_STORE = "webhook_deliveries"

_FILE_COLUMNS = ("id", "name", "type", "content_type", "size", "folder_id", "created_at")
_DELIVERY_COLUMNS = (
    "created_at",
    "type",
    "source",
    "list_id",
    "url",
    "outcome",
    "attempts",
    "last_status",
)


def _page(template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    return html_page(
        templates("chimplink.emulator", "templates/ui"), template, status=status, **context
    )


def _home(ctx: ApiContext) -> str:
    return ctx.url("/_emulator/ui")


def _account_href(ctx: ApiContext, account: Account) -> str:
    return ctx.url(f"/_emulator/ui/accounts/{quote(account.account_id, safe='')}")


def _not_found(ctx: ApiContext, detail: str) -> HTMLResponse:
    return _page(
        "not_found.html",
        status=404,
        title="Not found",
        crumbs=[("Accounts", _home(ctx)), ("Not found", "")],
        detail=detail,
        home=_home(ctx),
    )


def _list_members(account: Account, list_id: str) -> list[Member]:
    return list(members_of(account).members.get(list_id, {}).values())


# -- records of other packages' stores ----------------------------------------------


def _records(value: object, columns: tuple[str, ...], depth: int = 0) -> list[dict[str, Any]]:
    """Flatten `{id: record}`, `[record]` or `{list_id: {id: record}}` into rows.

    Only `columns` are read from each record: a File Manager record carries the
    file's bytes, which a table must not copy.
    """
    items: Iterable[object]
    if isinstance(value, dict):
        items = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return []
    found: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, BaseModel):
            found.append(item.model_dump(mode="json", include=set(columns)))
        elif isinstance(item, dict) and ("id" in item or "name" in item):
            found.append({k: v for k, v in item.items() if k in columns})
        elif depth < 2:
            found.extend(_records(item, columns, depth + 1))
    return found


def _store_records(
    account: Account, store: str, *, keys: tuple[str, ...], columns: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Records of another package's store, read defensively (unknown shape → none)."""
    found = account.stores.get(store)
    if found is None:
        return []
    for key in keys:
        value = getattr(found, key, None)
        if value is not None:
            try:
                return _records(value, columns)
            except Exception:  # a shape this view does not understand shows as empty
                return []
    return []


def _table(
    records: list[dict[str, Any]], preferred: tuple[str, ...]
) -> tuple[list[str], list[list[str]]]:
    """The preferred columns the records have, and the rows as text."""
    columns = [c for c in preferred if any(c in r for r in records)]
    rows = [[_text(r.get(c)) for c in columns] for r in records]
    return columns, rows


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# -- pages -----------------------------------------------------------------------------


async def accounts_page(ctx: ApiContext) -> HTMLResponse:
    accounts = [
        {
            "name": a.record.account_name,
            "account_id": a.account_id,
            "dc": a.dc,
            "email": a.record.email,
            "audiences": len(lists_of(a).lists),
            "href": _account_href(ctx, a),
        }
        for a in ctx.backend.iter_accounts()
    ]
    return _page(
        "accounts.html",
        title="Emulator accounts",
        crumbs=[("Accounts", _home(ctx))],
        accounts=accounts,
    )


async def account_page(ctx: ApiContext) -> HTMLResponse:
    account = ctx.backend.accounts.get(ctx.params["account_id"])
    if account is None:
        return _not_found(ctx, "No emulator account has this id.")
    audiences = []
    for mailing_list in lists_of(account).lists.values():
        members = _list_members(account, mailing_list.id)
        audiences.append(
            {
                "name": mailing_list.name,
                "id": mailing_list.id,
                "contacts": sum(1 for m in members if m.status != "archived"),
                "subscribed": sum(1 for m in members if m.status == "subscribed"),
                "created": mailing_list.date_created,
                "href": f"{_account_href(ctx, account)}/lists/{quote(mailing_list.id, safe='')}",
            }
        )
    files = _store_records(account, FILES_STORE, keys=("files",), columns=_FILE_COLUMNS)
    file_columns, file_rows = _table(files[:FILES_SHOWN], _FILE_COLUMNS)
    deliveries = _store_records(
        account, DELIVERIES_STORE, keys=("records", "deliveries"), columns=_DELIVERY_COLUMNS
    )
    shown = list(reversed(deliveries))[:DELIVERIES_SHOWN]
    delivery_columns, delivery_rows = _table(shown, _DELIVERY_COLUMNS)
    record = account.record
    return _page(
        "account.html",
        title=record.account_name,
        crumbs=[("Accounts", _home(ctx)), (record.account_name, "")],
        account={
            "account_id": record.account_id,
            "dc": record.dc,
            "email": record.email,
            "member_since": record.member_since,
        },
        audiences=audiences,
        file_columns=file_columns,
        files=file_rows,
        delivery_columns=delivery_columns,
        deliveries=delivery_rows,
        deliveries_total=len(deliveries),
    )


def _member_row(member: Member) -> dict[str, str]:
    first = _text(member.merge_fields.get("FNAME"))
    last = _text(member.merge_fields.get("LNAME"))
    return {
        "email": member.email_address,
        "status": member.status,
        "name": f"{first} {last}".strip(),
        "tags": ", ".join(str(t.get("name", "")) for t in member.tags),
        "last_changed": member.last_changed,
    }


async def list_page(ctx: ApiContext) -> HTMLResponse:
    account = ctx.backend.accounts.get(ctx.params["account_id"])
    if account is None:
        return _not_found(ctx, "No emulator account has this id.")
    mailing_list: MailingList | None = lists_of(account).lists.get(ctx.params["list_id"])
    if mailing_list is None:
        return _not_found(ctx, "This account has no audience with this id.")
    members = _list_members(account, mailing_list.id)
    segments = [
        {
            "name": s.name,
            "type": s.type,
            "id": s.id,
            "count": len(segment_rules.segment_members(account, s)),
        }
        for s in segment_rules.segments_view(account, mailing_list.id)
    ]
    groups = []
    for category in interest_rules.categories_in(account, mailing_list.id):
        parts = [
            f"{i.name} ({interest_rules.subscriber_count(account, mailing_list.id, i.id)})"
            for i in interest_rules.interests_in(account, mailing_list.id, category.id)
        ]
        groups.append(
            {"title": category.title, "type": category.type, "interests": ", ".join(parts)}
        )
    account_href = _account_href(ctx, account)
    return _page(
        "list.html",
        title=mailing_list.name,
        crumbs=[
            ("Accounts", _home(ctx)),
            (account.record.account_name, account_href),
            (mailing_list.name, ""),
        ],
        audience=mailing_list,
        account_name=account.record.account_name,
        account_href=account_href,
        members=[_member_row(m) for m in members[:MEMBERS_SHOWN]],
        members_total=len(members),
        segments=segments,
        groups=groups,
    )


control_routes: list[Route] = [
    Route("GET", "/ui", accounts_page),
    Route("GET", "/ui/accounts/{account_id}", account_page),
    Route("GET", "/ui/accounts/{account_id}/lists/{list_id}", list_page),
]
