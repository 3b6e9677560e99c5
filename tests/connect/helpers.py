"""Connecting an account without a browser: the flow's functions driven directly."""

from __future__ import annotations

import httpx

from chimplink.connect import Connected, Services, finish_connect, start_connect
from chimplink.store import ensure_tenant
from tests.web.harness import World

BINDING = "browser-session-binding-for-tests"


async def tenant_id(services: Services, external_id: str = "user-1") -> str:
    async with services.sessions.begin() as session:
        return (await ensure_tenant(session=session, external_id=external_id)).id


async def connect_directly(
    world: World, services: Services, *, email: str, tenant: str = "user-1"
) -> Connected:
    url = await start_connect(
        services, tenant_id=await tenant_id(services, tenant), session_binding=BINDING
    )
    callback = httpx.URL(await world.consent(url, email))
    return await finish_connect(
        services,
        state=callback.params["state"],
        code=callback.params["code"],
        error=None,
        session_binding=BINDING,
    )
