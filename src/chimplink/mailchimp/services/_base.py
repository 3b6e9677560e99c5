"""What every service shares: the account's requestor, and small body helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chimplink.mailchimp._requestor import Requestor
from chimplink.mailchimp.pagination import partial_response_params


class Service:
    """A thin, typed mapping of methods to endpoints; all I/O goes through the requestor."""

    def __init__(self, requestor: Requestor) -> None:
        self._requestor = requestor

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._requestor!r})"


def compact(values: Mapping[str, Any]) -> dict[str, Any]:
    """Drop None values: an absent field means "leave as is", null may mean "clear"."""
    return {key: value for key, value in values.items() if value is not None}


def field_params(
    fields: Sequence[str] | None, exclude_fields: Sequence[str] | None
) -> dict[str, str]:
    """`fields`/`exclude_fields` for a single resource (no collection prefix)."""
    return partial_response_params(key=None, fields=fields, exclude_fields=exclude_fields)
