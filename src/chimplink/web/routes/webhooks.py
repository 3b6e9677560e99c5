"""The audience webhook receiver: `/webhooks/mailchimp/{installation_id}/{secret}`.

Mailchimp validates a webhook URL with a GET (or, some say, an empty POST)
before saving it, and then POSTs form-encoded deliveries (REFERENCE.md §4.1).
Both get 200 here when the secret matches an existing installation
(webhook_paths.py: constant-time, no database read for a forged secret).
Anything else gets the very same 404 as any unknown address, so the
endpoint is not an oracle for ids or secrets.

Deliveries are acknowledged but not yet processed: the inbox that stores
them and the worker that re-reads each member from Mailchimp come with the
sync issue. Answering 200 until then keeps Mailchimp from disabling the
webhook; a delivery is only a hint, and the sync re-reads state anyway.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from chimplink.connect import WEBHOOK_PATH_PREFIX, is_valid_webhook_secret
from chimplink.store import InstallationStatus, find_installation
from chimplink.web.state import State

router = APIRouter()


@router.api_route(WEBHOOK_PATH_PREFIX + "/{installation_id}/{secret}", methods=["GET", "POST"])
async def receive(installation_id: str, secret: str, state: State) -> Response:
    services = state.services
    if not is_valid_webhook_secret(services, installation_id, secret):
        return state.pages.not_found()
    async with services.sessions() as session:
        installation = await find_installation(session=session, installation_id=installation_id)
    if installation is None or installation.status is InstallationStatus.UNINSTALLED:
        return state.pages.not_found()
    return Response(status_code=200)
