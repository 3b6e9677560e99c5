"""How batches and batch webhooks are rendered (API responses and webhook events).

Rendering takes the emulator's base URL rather than a request context, so the
background runner renders the same links for a webhook event as a handler does.
"""

from __future__ import annotations

from typing import Any

from chimplink.emulator.batches.models import Batch, BatchWebhook
from chimplink.emulator.links import link


def results_url(base_url: str, batch_id: str) -> str:
    """Where the archive is served (public, like Mailchimp's signed storage URL, §7.2)."""
    return f"{base_url}/batch-results/{batch_id}.tar.gz"


def batch_links(base_url: str, batch_id: str) -> list[dict[str, str]]:
    collection = f"{base_url}/3.0/batches"
    return [
        link("parent", collection, "GET", "Batches/CollectionResponse"),
        link("self", f"{collection}/{batch_id}", "GET", "Batches/Response"),
        link("delete", f"{collection}/{batch_id}", "DELETE"),
    ]


def render_batch(batch: Batch, *, base_url: str) -> dict[str, Any]:
    return {
        "id": batch.id,
        "status": batch.status,
        "total_operations": batch.total_operations,
        "finished_operations": batch.finished_operations,
        "errored_operations": batch.errored_operations,
        "submitted_at": batch.submitted_at,
        "completed_at": batch.completed_at,
        # Empty until the results exist; a fresh URL on every read, as Mailchimp's (§7.2).
        "response_body_url": results_url(base_url, batch.id) if batch.finished else "",
        "_links": batch_links(base_url, batch.id),
    }


def webhook_links(base_url: str, batch_webhook_id: str) -> list[dict[str, str]]:
    collection = f"{base_url}/3.0/batch-webhooks"
    href = f"{collection}/{batch_webhook_id}"
    return [
        link("parent", collection, "GET", "BatchWebhooks/CollectionResponse"),
        link("self", href, "GET", "BatchWebhooks/Response"),
        link("update", href, "PATCH", "BatchWebhooks/Response"),
        link("delete", href, "DELETE"),
    ]


def render_webhook(hook: BatchWebhook, *, base_url: str) -> dict[str, Any]:
    return {
        "id": hook.id,
        "url": hook.url,
        "enabled": hook.enabled,
        "_links": webhook_links(base_url, hook.id),
    }


def event_form(batch: Batch, *, base_url: str, fired_at: str) -> list[tuple[str, str]]:
    """The form fields of a `batch_operation_completed` delivery (REFERENCE.md §7.3)."""
    pairs: list[tuple[str, str]] = [
        ("type", "batch_operation_completed"),
        ("fired_at", fired_at),
    ]
    body = render_batch(batch, base_url=base_url)
    for name in (
        "id",
        "status",
        "total_operations",
        "finished_operations",
        "errored_operations",
        "submitted_at",
        "completed_at",
        "response_body_url",
    ):
        pairs.append((f"data[{name}]", str(body[name])))
    for index, item in enumerate(body["_links"]):
        for key, value in item.items():
            pairs.append((f"data[_links][{index}][{key}]", value))
    return pairs
