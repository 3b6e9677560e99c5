"""What every page of one installation shares (routes/sync.py, routes/photos.py).

Each route looks the installation up for the signed-in tenant first, and a
connection problem becomes the same page wherever it happens: an unknown or
foreign id is the one 404 page, a lost access offers Reconnect.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from chimplink.connect import ConnectError, NeedsReconnect, get_tenant_installation
from chimplink.store import Installation
from chimplink.web.pages import BACK_HOME, RECONNECT
from chimplink.web.state import AppState

__all__ = ["connect_error_page", "platform_unreadable", "tenant_installation"]


async def tenant_installation(
    state: AppState, tenant_id: str, installation_id: str
) -> Installation:
    """The installation, if it is this tenant's; InstallationMissing (a 404) otherwise."""
    return await get_tenant_installation(
        state.services, tenant_id=tenant_id, installation_id=installation_id
    )


def connect_error_page(state: AppState, request: Request, exc: ConnectError) -> Response:
    """The page for a connection problem; Reconnect is offered when Mailchimp refused the access."""
    actions = (RECONNECT, BACK_HOME) if isinstance(exc, NeedsReconnect) else (BACK_HOME,)
    return state.pages.connect_error(request, exc, actions=actions)


def platform_unreadable(state: AppState, request: Request, *, title: str, what: str) -> Response:
    """The platform's connector failed to answer: nothing was changed, try again (503).

    `title` names what cannot be read ("Your platform's photos cannot be read"),
    `what` the same in the sentence ("the photos").
    """
    return state.pages.message(
        request,
        title=title,
        text=(
            f"chimplink could not read {what} from your platform just now. Nothing was "
            "changed. Try again in a moment; if it keeps happening, tell the platform's "
            "support team."
        ),
        status=503,
    )
