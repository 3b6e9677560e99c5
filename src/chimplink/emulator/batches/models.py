"""Batch operations and batch webhooks: state and Mailchimp's rules (REFERENCE.md §6, §7).

A batch is a list of API operations Mailchimp runs on its side, asynchronously.
It walks pending → preprocessing → started → finalizing → finished; once
finished its results are a gzipped tar of JSON files at `response_body_url`.

Memory: results are kept only as the compressed archive (base64, so snapshots
stay JSON). Mailchimp keeps results for 7 days (§7.2): finished batches older
than that are forgotten, and an account's archives are capped at
`MAX_ARCHIVE_BYTES`, the oldest finished batches being forgotten first, as if
they had expired.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, Field

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, register_store

STATUSES = ("pending", "preprocessing", "started", "finalizing", "finished")

# "At most 500 pending batches", plus at most 500 pending batch-webhook events (§6).
MAX_PENDING_BATCHES = 500
MAX_PENDING_WEBHOOK_EVENTS = 500
# Batch webhooks: "You may only have a maximum of 20 batch webhooks" (§6, §7.3).
MAX_BATCH_WEBHOOKS = 20
# Results stay downloadable for 7 days (§7.2); GET /batches lists the last 7 days (§7.1).
RETENTION_S = 7 * 24 * 3600
# The emulator's own bound on stored result archives per account (compressed bytes).
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
# Delivery records kept per account for the control plane (pending ones are never dropped).
MAX_DELIVERY_RECORDS = 200


class BatchOperation(BaseModel):
    """One operation as submitted: `body` is a JSON *string* (§7.1)."""

    method: str
    path: str
    operation_id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    body: str | None = None


class OperationResult(BaseModel):
    """One entry of a result file: `response` is the response body as a string (§7.2)."""

    status_code: int
    operation_id: str | None
    response: str


class Batch(BaseModel):
    id: str
    status: str = "pending"
    # Dropped once the batch has run: only the archive is kept.
    operations: list[BatchOperation] = Field(default_factory=list)
    total_operations: int
    finished_operations: int = 0
    errored_operations: int = 0
    submitted_at: str
    completed_at: str = ""
    submitted_ts: float = Field(default_factory=time.time)
    # Index of the next operation to run, so a batch can resume after a restart.
    next_operation: int = 0
    # Results gathered while "started"; compressed into `archive_b64` when finalized.
    results: list[OperationResult] = Field(default_factory=list)
    archive_b64: str | None = None
    # Transient: set while a step runs (manual mode) or a runner owns the batch
    # (immediate mode). Not snapshotted, so a loaded batch can be resumed.
    busy: bool = Field(default=False, exclude=True)
    runner_active: bool = Field(default=False, exclude=True)

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    def next_status(self) -> str:
        return STATUSES[STATUSES.index(self.status) + 1]

    def archive_size(self) -> int:
        return len(self.archive_b64) * 3 // 4 if self.archive_b64 else 0


class BatchWebhook(BaseModel):
    id: str
    url: str
    enabled: bool = True


class Delivery(BaseModel):
    """One `batch_operation_completed` event sent (or being sent) to a batch webhook."""

    batch_webhook_id: str
    url: str
    batch_id: str
    fired_at: str
    status: str = "pending"  # pending | delivered | failed
    attempts: int = 0
    response_status: int | None = None
    error: str | None = None


@register_store("batches")
class BatchesStore(BaseModel):
    batches: dict[str, Batch] = Field(default_factory=dict)
    webhooks: dict[str, BatchWebhook] = Field(default_factory=dict)
    deliveries: list[Delivery] = Field(default_factory=list)


def batches_of(account: Account) -> BatchesStore:
    return account.store(BatchesStore)


# -- batches -------------------------------------------------------------------


def prune(store: BatchesStore, *, now: float | None = None) -> None:
    """Forget finished batches older than Mailchimp's 7-day retention (§7.2)."""
    cutoff = (now if now is not None else time.time()) - RETENTION_S
    for batch_id, batch in list(store.batches.items()):
        if batch.finished and batch.submitted_ts < cutoff:
            del store.batches[batch_id]


def enforce_archive_cap(store: BatchesStore, *, keep: str) -> None:
    """Forget the oldest finished batches while the account's archives exceed the cap."""
    total = sum(b.archive_size() for b in store.batches.values())
    for batch_id, batch in list(store.batches.items()):
        if total <= MAX_ARCHIVE_BYTES:
            return
        if batch_id != keep and batch.finished:
            total -= batch.archive_size()
            del store.batches[batch_id]


def iter_batches(account: Account) -> Iterator[Batch]:
    store = batches_of(account)
    prune(store)
    return iter(list(store.batches.values()))


def require_batch(account: Account, batch_id: str) -> Batch:
    store = batches_of(account)
    prune(store)
    found = store.batches.get(batch_id)
    if found is None:
        raise problems.not_found()
    return found


def check_capacity(account: Account) -> None:
    """429 when the account already has 500 pending batches or webhook events (§5, §6)."""
    store = batches_of(account)
    pending = sum(1 for b in store.batches.values() if b.status == "pending")
    events = sum(1 for d in store.deliveries if d.status == "pending")
    if pending >= MAX_PENDING_BATCHES or events >= MAX_PENDING_WEBHOOK_EVENTS:
        # Mailchimp's wording says "webhooks" for both limits (REFERENCE.md §5).
        raise problems.ProblemError(
            429,
            "Too Many Requests",
            "You have more than 500 pending webhooks. "
            "Please wait for some to complete before adding any more batches.",
        )


def find_anywhere(accounts: Iterator[Account], batch_id: str) -> tuple[Account, Batch] | None:
    """The batch with this id in any account (control plane and public result URLs)."""
    for account in accounts:
        found = batches_of(account).batches.get(batch_id)
        if found is not None:
            return account, found
    return None


# -- batch webhooks --------------------------------------------------------------


def require_webhook(account: Account, batch_webhook_id: str) -> BatchWebhook:
    found = batches_of(account).webhooks.get(batch_webhook_id)
    if found is None:
        raise problems.not_found()
    return found


def check_webhook_room(account: Account) -> None:
    if len(batches_of(account).webhooks) >= MAX_BATCH_WEBHOOKS:
        raise problems.bad_request(
            f"You may only have a maximum of {MAX_BATCH_WEBHOOKS} batch webhooks."
        )


def record_delivery(store: BatchesStore, delivery: Delivery) -> None:
    """Keep the latest delivery records; pending ones count toward the 429 limit."""
    store.deliveries.append(delivery)
    excess = len(store.deliveries) - MAX_DELIVERY_RECORDS
    if excess > 0:
        kept: list[Delivery] = []
        for item in store.deliveries:
            if excess > 0 and item.status != "pending":
                excess -= 1
                continue
            kept.append(item)
        store.deliveries = kept
