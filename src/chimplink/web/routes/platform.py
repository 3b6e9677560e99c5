"""`GET /platform/enter`: a signed platform link opens a session for its tenant."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from chimplink.store import ensure_tenant
from chimplink.web.platform_links import ENTER_PATH, InvalidLink, verify_link
from chimplink.web.sessions import sign_in
from chimplink.web.state import State

router = APIRouter()
_log = structlog.get_logger("chimplink.web")

_NO_LEAK = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _single(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    return values[0] if len(values) == 1 else None


@router.get(ENTER_PATH)
async def enter(request: Request, state: State) -> Response:
    secret = state.platform_secret
    try:
        if secret is None:
            raise InvalidLink("malformed")
        identity = verify_link(
            platform_secret=secret,
            tenant=_single(request, "tenant"),
            name=_single(request, "name"),
            expires=_single(request, "expires"),
            sig=_single(request, "sig"),
            now=state.services.clock(),
        )
    except InvalidLink as exc:
        _log.info("web.platform_link_rejected", reason=exc.reason)
        request.session.clear()
        return state.pages.message(
            request,
            title="This link does not work",
            text=(
                "This link to chimplink is not valid or has expired. Go back to your platform "
                "and open the Mailchimp connection from there again."
            ),
            status=403,
            actions=(),
            headers=_NO_LEAK,
        )
    async with state.services.sessions.begin() as session:
        tenant = await ensure_tenant(
            session=session, external_id=identity.tenant, name=identity.name or None
        )
    sign_in(request, tenant_id=tenant.id, name=identity.name)
    # Off the signed URL at once, so it stays out of history and Referer headers.
    return RedirectResponse("/", status_code=303, headers=_NO_LEAK)
