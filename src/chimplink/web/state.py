"""What the routes share, built by the lifespan and found on `request.app.state`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from pydantic import SecretStr

from chimplink.config import Settings
from chimplink.connect import Services
from chimplink.jobs import EmbeddedRunner
from chimplink.jobs.inbound_tasks import ConnectorFactory
from chimplink.store import get_tenant
from chimplink.web.pages import Pages
from chimplink.web.sessions import NotSignedIn, SignedIn, signed_in

__all__ = ["AppState", "State", "Tenant", "app_state", "current_tenant"]


@dataclass(frozen=True)
class AppState:
    settings: Settings
    services: Services
    pages: Pages
    platform_secret: SecretStr | None
    runner: EmbeddedRunner | None
    # The platform's connector per installation; None when no platform is configured.
    connectors: ConnectorFactory | None = None


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.chimplink
    return state


async def current_tenant(request: Request) -> SignedIn:
    """The signed-in tenant, or `NotSignedIn` (rendered as a 401 page).

    The tenant must still exist: a session outliving its tenant signs nobody in.
    """
    who = signed_in(request)
    services = app_state(request).services
    async with services.sessions() as session:
        tenant = await get_tenant(session=session, tenant_id=who.tenant_id)
    if tenant is None:
        request.session.clear()
        raise NotSignedIn
    return who


State = Annotated[AppState, Depends(app_state)]
Tenant = Annotated[SignedIn, Depends(current_tenant)]
