"""Handlers of /batches, /batch-webhooks, the batch control route and the results URL."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from chimplink.emulator import problems
from chimplink.emulator.backend import now_iso
from chimplink.emulator.batches import archive, delivery, runner, views
from chimplink.emulator.batches.models import (
    Batch,
    BatchOperation,
    BatchWebhook,
    batches_of,
    check_capacity,
    check_webhook_room,
    find_anywhere,
    iter_batches,
    require_batch,
    require_webhook,
)
from chimplink.emulator.context import ApiContext
from chimplink.emulator.links import self_links
from chimplink.emulator.params import page

_ARCHIVE_SUFFIX = ".tar.gz"


def _new_id(ctx: ApiContext, taken: dict[str, Any]) -> str:
    while True:
        candidate = ctx.backend.new_id(10)
        if candidate not in taken:
            return candidate


# -- /batches ----------------------------------------------------------------------


async def create_batch(ctx: ApiContext) -> dict[str, Any]:
    # The spec's schema gives Mailchimp's errors for a missing method/path, a
    # method outside GET|POST|PUT|PATCH|DELETE, or a body that is not a string.
    body = await ctx.validated_json()
    check_capacity(ctx.account)
    operations = [BatchOperation.model_validate(item) for item in body["operations"]]
    store = batches_of(ctx.account)
    batch = Batch(
        id=_new_id(ctx, store.batches),
        operations=operations,
        total_operations=len(operations),
        submitted_at=now_iso(),
    )
    store.batches[batch.id] = batch
    rendered = views.render_batch(batch, base_url=ctx.base_url)
    runner.ensure_running(ctx.app, ctx.account, batch, base_url=ctx.base_url)
    return rendered


async def list_batches(ctx: ApiContext) -> dict[str, Any]:
    batches = list(iter_batches(ctx.account))
    for batch in batches:
        runner.ensure_running(ctx.app, ctx.account, batch, base_url=ctx.base_url)
    return {
        "batches": [views.render_batch(b, base_url=ctx.base_url) for b in page(ctx.query, batches)],
        "total_items": len(batches),
        "_links": self_links(ctx.api_url("/batches"), "Batches/CollectionResponse"),
    }


async def get_batch(ctx: ApiContext) -> dict[str, Any]:
    batch = require_batch(ctx.account, ctx.params["batch_id"])
    runner.ensure_running(ctx.app, ctx.account, batch, base_url=ctx.base_url)
    return views.render_batch(batch, base_url=ctx.base_url)


async def delete_batch(ctx: ApiContext) -> None:
    """Stops the batch; its results are no longer available (spec's description)."""
    batch = require_batch(ctx.account, ctx.params["batch_id"])
    del batches_of(ctx.account).batches[batch.id]


# -- /batch-webhooks ---------------------------------------------------------------


async def create_webhook(ctx: ApiContext) -> dict[str, Any]:
    body = await ctx.validated_json()
    check_webhook_room(ctx.account)
    url: str = body["url"]
    await delivery.validate_url(ctx.app, url)
    store = batches_of(ctx.account)
    # Re-checked after the GET: another request may have added one meanwhile.
    check_webhook_room(ctx.account)
    hook = BatchWebhook(
        id=_new_id(ctx, store.webhooks), url=url, enabled=bool(body.get("enabled", True))
    )
    store.webhooks[hook.id] = hook
    return views.render_webhook(hook, base_url=ctx.base_url)


async def list_webhooks(ctx: ApiContext) -> dict[str, Any]:
    hooks = list(batches_of(ctx.account).webhooks.values())
    return {
        "webhooks": [
            views.render_webhook(h, base_url=ctx.base_url) for h in page(ctx.query, hooks)
        ],
        "total_items": len(hooks),
        "_links": self_links(ctx.api_url("/batch-webhooks"), "BatchWebhooks/CollectionResponse"),
    }


async def get_webhook(ctx: ApiContext) -> dict[str, Any]:
    hook = require_webhook(ctx.account, ctx.params["batch_webhook_id"])
    return views.render_webhook(hook, base_url=ctx.base_url)


async def update_webhook(ctx: ApiContext) -> dict[str, Any]:
    hook = require_webhook(ctx.account, ctx.params["batch_webhook_id"])
    body = await ctx.validated_json()
    url = body.get("url")
    if url is not None and url != hook.url:
        await delivery.validate_url(ctx.app, url)
        hook.url = url
    if "enabled" in body:
        hook.enabled = bool(body["enabled"])
    return views.render_webhook(hook, base_url=ctx.base_url)


async def delete_webhook(ctx: ApiContext) -> None:
    hook = require_webhook(ctx.account, ctx.params["batch_webhook_id"])
    del batches_of(ctx.account).webhooks[hook.id]


# -- control plane and public URL -------------------------------------------------


async def advance_batch(ctx: ApiContext) -> dict[str, Any]:
    """POST /_emulator/batches/{batch_id}/advance: one status forward (see runner.py)."""
    found = find_anywhere(ctx.backend.iter_accounts(), ctx.params["batch_id"])
    if found is None:
        raise problems.not_found()
    account, batch = found
    await runner.advance(ctx.app, account, batch, base_url=ctx.base_url)
    return views.render_batch(batch, base_url=ctx.base_url)


async def list_deliveries(ctx: ApiContext) -> dict[str, Any]:
    """GET /_emulator/batch-webhook-deliveries: every account's batch webhook events."""
    deliveries: list[dict[str, Any]] = []
    for account in ctx.backend.iter_accounts():
        for item in batches_of(account).deliveries:
            deliveries.append({"account_id": account.account_id, **item.model_dump(mode="json")})
    return {"deliveries": deliveries, "total_items": len(deliveries)}


async def download_results(ctx: ApiContext) -> Response:
    """GET /batch-results/{id}.tar.gz: public, like Mailchimp's signed storage URL (§7.2)."""
    name = ctx.params["archive_name"]
    if not name.endswith(_ARCHIVE_SUFFIX):
        raise problems.not_found()
    found = find_anywhere(ctx.backend.iter_accounts(), name[: -len(_ARCHIVE_SUFFIX)])
    if found is None or found[1].archive_b64 is None:
        raise problems.not_found()
    return Response(
        archive.decode(found[1].archive_b64),
        media_type="application/x-gzip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
