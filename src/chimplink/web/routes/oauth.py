"""`GET /connect` starts OAuth; `GET /oauth/callback` finishes it (connect/oauth_flow.py).

Callback hygiene (RFC 9700 §4.2.4, §4.3; reliability.md T4): every callback
response carries `Cache-Control: no-store` and `Referrer-Policy: no-referrer`,
loads nothing from elsewhere, and success is a 303 to a URL without `code`
or `state`. A refresh of the callback URL finds its state used and makes no
second token request.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from chimplink.connect import (
    AccessDenied,
    ConnectError,
    InvalidState,
    finish_connect,
    start_connect,
)
from chimplink.web.pages import BACK_HOME, CONNECT
from chimplink.web.redirects import safe_return_path
from chimplink.web.sessions import push_flash, session_binding
from chimplink.web.state import State, Tenant

router = APIRouter()
_log = structlog.get_logger("chimplink.web")

CALLBACK_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class _Repeated(Exception):
    pass


def _one(request: Request, name: str) -> str | None:
    """A query parameter given at most once (a repeat is parameter pollution: refused)."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise _Repeated(name)
    return values[0] if values else None


@router.get("/connect")
async def connect(request: Request, state: State, tenant: Tenant) -> Response:
    try:
        requested = _one(request, "return_to")
        return_to = safe_return_path(requested) if requested is not None else "/"
    except (_Repeated, ValueError):
        return state.pages.message(
            request,
            title="This address is not allowed",
            text=(
                "After connecting, chimplink only returns to its own pages. "
                "Start again from your Mailchimp accounts."
            ),
            status=400,
        )
    try:
        url = await start_connect(
            state.services,
            tenant_id=tenant.tenant_id,
            session_binding=tenant.binding,
            return_to=return_to,
        )
    except ConnectError as exc:
        return state.pages.connect_error(request, exc)
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


@router.get("/oauth/callback")
async def callback(request: Request, state: State) -> Response:
    try:
        try:
            values = {name: _one(request, name) for name in ("state", "code", "error")}
        except _Repeated as exc:
            raise InvalidState(reason=f"repeated parameter {exc.args[0]}") from None
        connected = await finish_connect(
            state.services,
            state=values["state"],
            code=values["code"],
            error=values["error"],
            session_binding=session_binding(request),
        )
    except ConnectError as exc:
        _log.info("web.callback_rejected", error=type(exc).__name__, reason=exc.reason)
        actions = (CONNECT, BACK_HOME) if not isinstance(exc, AccessDenied) else (BACK_HOME,)
        return state.pages.connect_error(request, exc, actions=actions, headers=CALLBACK_HEADERS)
    installation = connected.installation
    verb = "connected" if connected.created else "reconnected"
    push_flash(request, "success", f"{installation.account_name} is {verb}.")
    return RedirectResponse(connected.return_to, status_code=303, headers=CALLBACK_HEADERS)
