"""The API root and ping (REFERENCE.md §2)."""

from __future__ import annotations

from collections.abc import Sequence

from chimplink.mailchimp.models.account import AccountInfo, Ping
from chimplink.mailchimp.services._base import Service, field_params

__all__ = ["RootService"]


class RootService(Service):
    async def get(
        self, *, fields: Sequence[str] | None = None, exclude_fields: Sequence[str] | None = None
    ) -> AccountInfo:
        """`GET /`: the account behind the credential (identifies a connection, §2)."""
        data = await self._requestor.request(
            "GET", "/", params=field_params(fields, exclude_fields)
        )
        return AccountInfo.model_validate(data)

    async def ping(self) -> Ping:
        """`GET /ping`: health check that proves the credential and base URL work."""
        return Ping.model_validate(await self._requestor.request("GET", "/ping"))
