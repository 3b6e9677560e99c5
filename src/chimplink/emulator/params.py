"""Query parameters every collection shares: count/offset paging and fields filtering.

Mailchimp pages with `count` (default 10, at most 1000) and `offset`, returns
`total_items`, and trims responses with `fields` / `exclude_fields` in dot
notation (`members.email_address,total_items`) — REFERENCE.md §6.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from chimplink.emulator import problems

T = TypeVar("T")

DEFAULT_COUNT = 10
MAX_COUNT = 1000


def int_param(query: Mapping[str, str], name: str, default: int, *, lo: int, hi: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise problems.field_error(
            name, f"Schema describes integer, string found instead ({raw!r})."
        ) from None
    if not lo <= value <= hi:
        raise problems.field_error(name, f"{name} must be between {lo} and {hi}.")
    return value


def bool_param(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise problems.field_error(name, f"Schema describes boolean, string found instead ({raw!r}).")


def page(query: Mapping[str, str], items: Sequence[T]) -> list[T]:
    """The slice of `items` that `count` and `offset` select."""
    count = int_param(query, "count", DEFAULT_COUNT, lo=1, hi=MAX_COUNT)
    offset = int_param(query, "offset", 0, lo=0, hi=2**31)
    return list(items[offset : offset + count])


def _tree(spec: str) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for raw in spec.split(","):
        name = raw.strip()
        if not name:
            continue
        node = tree
        for part in name.split("."):
            node = node.setdefault(part, {})
    return tree


def _keep(value: Any, tree: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_keep(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, sub in tree.items():
        if key in value:
            out[key] = _keep(value[key], sub) if sub else value[key]
    return out


def _drop(value: Any, tree: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_drop(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        sub = tree.get(key)
        if sub is None:
            out[key] = item
        elif sub:
            out[key] = _drop(item, sub)
    return out


def filter_fields(query: Mapping[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """Apply `fields` / `exclude_fields` (mutually exclusive) to a response body."""
    fields = query.get("fields")
    exclude = query.get("exclude_fields")
    if fields and exclude:
        raise problems.bad_request("fields and exclude_fields cannot be used together.")
    if fields:
        result: dict[str, Any] = _keep(body, _tree(fields))
        return result
    if exclude:
        dropped: dict[str, Any] = _drop(body, _tree(exclude))
        return dropped
    return body


# -- enums and date-times (collection filters) ----------------------------------

_SPACED_OFFSET = re.compile(r" (\d{2}:?\d{2})$")


def time_param(query: Mapping[str, str], name: str) -> datetime | None:
    """An ISO 8601 date-time parameter (no offset means UTC), or None when absent."""
    raw = query.get(name)
    if not raw:
        return None
    # An unencoded "+" in a query string arrives as a space ("...12:00:00 00:00").
    raw = raw.strip()
    if "T" in raw:
        raw = _SPACED_OFFSET.sub(r"+\1", raw)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise problems.field_error(
            name, f"{name} must be an ISO 8601 date-time, e.g. 2024-01-31T12:00:00+00:00."
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def enum_param(query: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    raw = query.get(name)
    if not raw:
        return None
    if raw not in allowed:
        raise problems.field_error(name, f"Schema describes enum, {raw} found instead")
    return raw


def within(value: str, *, since: datetime | None, before: datetime | None) -> bool:
    """Whether an ISO timestamp lies in [since, before); an empty one never does."""
    if since is None and before is None:
        return True
    if not value:
        return False
    moment = datetime.fromisoformat(value)
    return (since is None or moment >= since) and (before is None or moment < before)
