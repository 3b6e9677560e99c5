"""Query parameters of campaign and report collections: enums and date-times."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from chimplink.emulator import problems

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
