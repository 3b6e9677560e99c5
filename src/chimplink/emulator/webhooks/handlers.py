"""Handlers of `/lists/{list_id}/webhooks` and the deliveries control plane."""

from __future__ import annotations

import secrets
from typing import Any

from chimplink.emulator import problems
from chimplink.emulator.context import ApiContext
from chimplink.emulator.links import link
from chimplink.emulator.lists.models import require_list
from chimplink.emulator.params import int_param
from chimplink.emulator.webhooks import deliveries, models
from chimplink.emulator.webhooks.validation import verify_url

_SCHEMA = "Lists/Webhooks"


def _render(ctx: ApiContext, hook: models.Webhook) -> dict[str, Any]:
    collection = ctx.api_url(f"/lists/{hook.list_id}/webhooks")
    href = f"{collection}/{hook.id}"
    body: dict[str, Any] = {
        "id": hook.id,
        "url": hook.url,
        "events": {name: hook.events.get(name, False) for name in models.EVENTS},
        "sources": {name: hook.sources.get(name, False) for name in models.SOURCES},
        "list_id": hook.list_id,
        # 2026 docs: "Whether outbound deliveries are HMAC-signed" (REFERENCE.md §4.1).
        # The secret itself is only in the create response.
        "signing_enabled": hook.signing_enabled,
        "_links": [
            link("self", href, "GET", f"{_SCHEMA}/Response"),
            link("parent", collection, "GET", f"{_SCHEMA}/CollectionResponse"),
            link("update", href, "PATCH", f"{_SCHEMA}/Response"),
            link("delete", href, "DELETE"),
        ],
    }
    if hook.disabled:
        # Not Mailchimp's: the emulator's own marker, named so no client mistakes it
        # for an API field. A 410 from the receiver disabled this webhook (§4.1).
        body["_emulator"] = {
            "disabled": True,
            "disabled_at": hook.disabled_at,
            "reason": hook.disabled_reason,
        }
    return body


def _object(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    return value if isinstance(value, dict) else None


async def list_webhooks(ctx: ApiContext) -> dict[str, Any]:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    hooks = [_render(ctx, hook) for hook in models.iter_hooks(ctx.account, list_id)]
    collection = ctx.api_url(f"/lists/{list_id}/webhooks")
    return {
        "webhooks": hooks,
        "list_id": list_id,
        "total_items": len(hooks),
        "_links": [
            link("self", collection, "GET", f"{_SCHEMA}/CollectionResponse"),
            link("parent", ctx.api_url(f"/lists/{list_id}"), "GET", "Lists/Response"),
            link("create", collection, "POST", f"{_SCHEMA}/Response"),
        ],
    }


async def create_webhook(ctx: ApiContext) -> dict[str, Any]:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    body = await ctx.validated_json()
    url = body.get("url")
    if url is None:
        raise problems.missing_fields("url")
    assert isinstance(url, str)  # the spec's schema checked the type
    url = url.strip()
    models.check_url(url)
    models.check_unique_url(ctx.account, list_id, url)
    await verify_url(ctx.app, url)
    # The list may have gone, or the same URL been added, while the validator waited.
    require_list(ctx.account, list_id)
    models.check_unique_url(ctx.account, list_id, url)
    hook = models.add_webhook(
        ctx.account,
        webhook_id=ctx.backend.new_id(10),
        list_id=list_id,
        url=url,
        events=models.flags(_object(body, "events"), names=models.EVENTS),
        sources=models.flags(_object(body, "sources"), names=models.SOURCES),
        signing_secret=secrets.token_hex(16),
    )
    rendered = _render(ctx, hook)
    # "shown exactly once and cannot be retrieved later" (REFERENCE.md §4.1).
    rendered["signing_secret"] = hook.signing_secret
    return rendered


async def get_webhook(ctx: ApiContext) -> dict[str, Any]:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    return _render(ctx, models.require_webhook(ctx.account, list_id, ctx.params["webhook_id"]))


async def update_webhook(ctx: ApiContext) -> dict[str, Any]:
    """PATCH: change the URL (validated again), events or sources.

    A webhook disabled by a 410 is enabled again by a PATCH whose URL (new or
    current) passes the validator's GET: the emulator's way to say "I fixed my
    endpoint", which Mailchimp offers in its web UI.
    """
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    hook = models.require_webhook(ctx.account, list_id, ctx.params["webhook_id"])
    body = await ctx.validated_json()
    url = body.get("url")
    new_url = hook.url
    if url is not None:
        assert isinstance(url, str)
        new_url = url.strip()
        models.check_url(new_url)
        models.check_unique_url(ctx.account, list_id, new_url, except_id=hook.id)
    if new_url != hook.url or hook.disabled:
        await verify_url(ctx.app, new_url)
        hook = models.require_webhook(ctx.account, list_id, hook.id)
        models.check_unique_url(ctx.account, list_id, new_url, except_id=hook.id)
        hook.url = new_url
        models.enable(hook)
    hook.events = models.flags(_object(body, "events"), names=models.EVENTS, current=hook.events)
    hook.sources = models.flags(
        _object(body, "sources"), names=models.SOURCES, current=hook.sources
    )
    return _render(ctx, hook)


async def delete_webhook(ctx: ApiContext) -> None:
    list_id = ctx.params["list_id"]
    require_list(ctx.account, list_id)
    models.delete_webhook(ctx.account, list_id, ctx.params["webhook_id"])


# -- control plane -------------------------------------------------------------


async def list_deliveries(ctx: ApiContext) -> dict[str, Any]:
    """GET /_emulator/deliveries?account_id&list_id&webhook_id&count&offset."""
    query = ctx.query
    found = deliveries.iter_records(
        ctx.app,
        account_id=query.get("account_id") or None,
        list_id=query.get("list_id") or None,
        webhook_id=query.get("webhook_id") or None,
    )
    count = int_param(query, "count", 1000, lo=1, hi=deliveries.MAX_RECORDS)
    offset = int_param(query, "offset", 0, lo=0, hi=2**31)
    return {
        "deliveries": [deliveries.record_json(r) for r in found[offset : offset + count]],
        "total_items": len(found),
    }


async def flush_deliveries(ctx: ApiContext) -> dict[str, int]:
    """POST /_emulator/deliveries/flush: run every waiting retry now."""
    return deliveries.deliverer_of(ctx.app).flush()
