"""Walking a collection page by page (REFERENCE.md §6: `count` ≤ 1000, `offset`, `total_items`).

Offset paging over a collection that changes while we walk it can skip or
repeat items; callers that need every change use `since_last_changed`
filters and treat a walk as a snapshot, not a log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

from chimplink.mailchimp._requestor import Query, Requestor

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "paginate", "partial_response_params"]

T = TypeVar("T")

MAX_PAGE_SIZE = 1000
# Mailchimp support's advice for bulk reads (research/peers.md); also what
# mailchimp3's get_all uses. Large pages mean few calls against the 10-slot limit.
DEFAULT_PAGE_SIZE = 500


def partial_response_params(
    *,
    key: str | None,
    fields: Sequence[str] | None,
    exclude_fields: Sequence[str] | None,
) -> dict[str, str]:
    """`fields`/`exclude_fields` for a response (§6: comma-separated, dot notation).

    For collections (`key` given) the names are those of one item and are
    prefixed with the collection key; `total_items` is always kept so paging
    still knows where to stop.
    """
    if fields and exclude_fields:
        raise ValueError(
            "fields and exclude_fields are mutually exclusive (Mailchimp rejects both)"
        )
    out: dict[str, str] = {}
    if fields:
        names = [f"{key}.{name}" for name in fields] if key else list(fields)
        if key:
            names.append("total_items")
        out["fields"] = ",".join(names)
    elif exclude_fields:
        names = [f"{key}.{name}" for name in exclude_fields] if key else list(exclude_fields)
        out["exclude_fields"] = ",".join(names)
    return out


async def paginate(
    requestor: Requestor,
    template: str,
    *,
    key: str,
    parse: Callable[[Any], T],
    path: dict[str, str] | None = None,
    params: Query | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    fields: Sequence[str] | None = None,
    exclude_fields: Sequence[str] | None = None,
    limit: int | None = None,
) -> AsyncIterator[T]:
    """Yield every item of the collection at `template` (items under `key`).

    `limit` stops after that many items (and shrinks the last page to fit).
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    base: dict[str, Any] = dict(params or {})
    base.update(partial_response_params(key=key, fields=fields, exclude_fields=exclude_fields))
    offset = 0
    yielded = 0
    while True:
        count = page_size if limit is None else min(page_size, limit - yielded)
        if count <= 0:
            return
        page = await requestor.request(
            "GET", template, path=path, params={**base, "count": count, "offset": offset}
        )
        items = page.get(key) if isinstance(page, dict) else None
        if not isinstance(items, list) or not items:
            return
        for item in items:
            yield parse(item)
        yielded += len(items)
        offset += len(items)
        total = page.get("total_items")
        if len(items) < count or (isinstance(total, int) and offset >= total):
            return
