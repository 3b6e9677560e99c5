"""The transport boundary: the only place httpx exceptions are caught and translated."""

from __future__ import annotations

import httpx

from chimplink.mailchimp.errors import APIConnectionError

__all__ = ["send"]


async def send(
    http: httpx.AsyncClient,
    request: httpx.Request,
    *,
    operation: str,
    auth: httpx.Auth | None,
) -> httpx.Response:
    """Send `request`; any httpx failure becomes `APIConnectionError` (errors.py)."""
    try:
        return await http.send(request, auth=auth)
    except httpx.RequestError as exc:
        raise APIConnectionError.from_transport(exc, operation=operation) from exc
