"""Running a batch: status by status, each operation through the account's own API.

Statuses (REFERENCE.md §7.1): pending → preprocessing → started → finalizing →
finished. The work of a status happens while the batch shows it: operations
run while it is "started", the archive is compiled while it is "finalizing".
`step()` does one status's work and moves to the next status:

    pending       → preprocessing   nothing to do
    preprocessing → started         nothing to do
    started       → finalizing      every operation runs (finished_operations grows)
    finalizing    → finished        the archive is built; completed_at; webhooks fire

With `batch_mode="immediate"` a background task (`run`) steps the batch to the
end right after submission, yielding to the loop between operations. With
"manual", `POST /_emulator/batches/{batch_id}/advance` calls `step()` once.

Operations go through `EmulatorApp.internal()`: the same router and handlers
as the account's own requests, but Mailchimp runs them on its side, so they
take none of the account's 10 connections and get no latency, no injected
fault and no stats entry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, now_iso
from chimplink.emulator.batches import archive, delivery, views
from chimplink.emulator.batches.models import (
    Batch,
    BatchOperation,
    Delivery,
    OperationResult,
    batches_of,
    enforce_archive_cap,
    record_delivery,
)

if TYPE_CHECKING:
    from chimplink.emulator.app import EmulatorApp

log = logging.getLogger("chimplink.emulator.batches")

# "GET requests that do not include a count parameter automatically page
# through the entire collection", each page counting as an operation (§7.2).
PAGE_SIZE = 1000
MAX_PAGES = 1000


def _alive(app: EmulatorApp, account: Account, batch: Batch) -> bool:
    """False once the batch was deleted (DELETE stops it, §7.1) or the emulator reset."""
    if app.backend.accounts.get(account.account_id) is not account:
        return False
    return batches_of(account).batches.get(batch.id) is batch


def _param_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        # Mailchimp's array parameters are comma-separated (`fields=a,b`).
        return ",".join(_param_value(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    if value is None:
        return ""
    return str(value)


def _split(operation: BatchOperation) -> tuple[str, list[tuple[str, str]]]:
    """The API path and the query pairs (a query string in `path` is honoured too)."""
    parts = urlsplit(operation.path)
    path = parts.path if parts.path.startswith("/") else f"/{parts.path}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    pairs.extend((str(name), _param_value(value)) for name, value in operation.params.items())
    return path, pairs


async def _call(
    app: EmulatorApp,
    account: Account,
    *,
    method: str,
    path: str,
    pairs: list[tuple[str, str]],
    body: bytes,
    base_url: str,
) -> tuple[int, str]:
    try:
        status, raw = await app.internal(
            account,
            method=method,
            path=path,
            query=urlencode(pairs),
            body=body,
            base_url=base_url,
        )
    except Exception:
        # A bug in a handler must not kill the batch: Mailchimp reports it as
        # that operation's 500 and goes on.
        log.exception("batch operation %s %s failed", method, path)
        exc = problems.internal_error()
        return exc.status, json.dumps(exc.body(str(uuid.uuid4())), separators=(",", ":"))
    return status, raw.decode("utf-8", errors="replace")


def _total_items(text: str) -> int | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    value = data.get("total_items") if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def execute(
    app: EmulatorApp, account: Account, operation: BatchOperation, *, base_url: str
) -> list[OperationResult]:
    """Run one operation; a GET without `count` yields one result per page (§7.2)."""
    method = operation.method.upper()
    path, pairs = _split(operation)
    body = operation.body.encode("utf-8") if operation.body is not None else b""
    names = {name for name, _ in pairs}
    if method != "GET" or "count" in names:
        status, text = await _call(
            app, account, method=method, path=path, pairs=pairs, body=body, base_url=base_url
        )
        return [
            OperationResult(status_code=status, operation_id=operation.operation_id, response=text)
        ]
    offset = 0
    if "offset" in names:
        raw_offset = dict(pairs)["offset"]
        offset = int(raw_offset) if raw_offset.isdigit() else 0
    base_pairs = [(n, v) for n, v in pairs if n != "offset"]
    results: list[OperationResult] = []
    for _ in range(MAX_PAGES):
        page_pairs = [*base_pairs, ("count", str(PAGE_SIZE)), ("offset", str(offset))]
        status, text = await _call(
            app,
            account,
            method=method,
            path=path,
            pairs=page_pairs,
            body=body,
            base_url=base_url,
        )
        results.append(
            OperationResult(status_code=status, operation_id=operation.operation_id, response=text)
        )
        total = _total_items(text) if status == 200 else None
        offset += PAGE_SIZE
        if total is None or total <= offset:
            break
        await asyncio.sleep(0)
    return results


async def _run_operations(
    app: EmulatorApp, account: Account, batch: Batch, *, base_url: str
) -> bool:
    """Run the remaining operations; False if the batch was deleted meanwhile."""
    while batch.next_operation < len(batch.operations):
        operation = batch.operations[batch.next_operation]
        results = await execute(app, account, operation, base_url=base_url)
        if not _alive(app, account, batch):
            return False
        batch.results.extend(results)
        batch.next_operation += 1
        # Extra pages of a paged GET are operations of their own (§7.2).
        batch.total_operations += len(results) - 1
        batch.finished_operations += len(results)
        batch.errored_operations += sum(1 for r in results if r.status_code >= 400)
        # Let the account's own requests (and GET /batches/{id}) run in between.
        await asyncio.sleep(0)
    return _alive(app, account, batch)


async def _finalize(app: EmulatorApp, account: Account, batch: Batch) -> bool:
    results = list(batch.results)
    data = await asyncio.to_thread(archive.build, batch.id, results)
    if not _alive(app, account, batch):
        return False
    batch.archive_b64 = archive.encode(data)
    batch.results = []
    batch.operations = []
    batch.completed_at = now_iso()
    enforce_archive_cap(batches_of(account), keep=batch.id)
    return True


def _fire_webhooks(app: EmulatorApp, account: Account, batch: Batch, *, base_url: str) -> None:
    """One `batch_operation_completed` event per enabled batch webhook (§7.3)."""
    store = batches_of(account)
    fired_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    form = views.event_form(batch, base_url=base_url, fired_at=fired_at)
    for hook in list(store.webhooks.values()):
        if not hook.enabled:
            continue
        record = Delivery(
            batch_webhook_id=hook.id, url=hook.url, batch_id=batch.id, fired_at=fired_at
        )
        record_delivery(store, record)
        app.spawn(delivery.deliver(app, record, form))


async def step(app: EmulatorApp, account: Account, batch: Batch, *, base_url: str) -> None:
    """Do the work of the batch's current status, then move it to the next status."""
    if batch.finished:
        raise problems.invalid_action("The batch is already finished.")
    if batch.status == "started":
        alive = await _run_operations(app, account, batch, base_url=base_url)
    elif batch.status == "finalizing":
        alive = await _finalize(app, account, batch)
    else:
        alive = True
    if not alive:
        return
    batch.status = batch.next_status()
    if batch.finished:
        _fire_webhooks(app, account, batch, base_url=base_url)


async def advance(app: EmulatorApp, account: Account, batch: Batch, *, base_url: str) -> None:
    """One step for the control plane; refused while a runner or another step owns it."""
    if batch.runner_active or batch.busy:
        raise problems.invalid_action(
            "The batch is being processed; it cannot be advanced by hand now."
        )
    batch.busy = True
    try:
        await step(app, account, batch, base_url=base_url)
    finally:
        batch.busy = False


async def run(app: EmulatorApp, account: Account, batch: Batch, *, base_url: str) -> None:
    """Step the batch to "finished" (immediate mode)."""
    try:
        while not batch.finished and _alive(app, account, batch):
            await step(app, account, batch, base_url=base_url)
            await asyncio.sleep(0)
    except Exception:
        log.exception("batch %s stopped", batch.id)
    finally:
        batch.runner_active = False


def ensure_running(app: EmulatorApp, account: Account, batch: Batch, *, base_url: str) -> None:
    """In immediate mode, make sure an unfinished batch has a runner.

    Called on submission and on every read, so a batch loaded from `--state`
    halfway through resumes where it stopped (`next_operation`).
    """
    if app.config.batch_mode != "immediate" or batch.finished or batch.runner_active:
        return
    if batch.busy:
        return
    batch.runner_active = True
    app.spawn(run(app, account, batch, base_url=base_url))
