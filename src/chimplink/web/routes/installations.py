"""Routes of one installation: choose its audience, uninstall it (its sync: routes/sync.py).

Every route resolves the id through `get_tenant_installation`, which answers
`InstallationMissing` for an unknown id and for another tenant's id alike —
rendered as the one 404 page, before anything else happens (no Mailchimp
call, no write).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from chimplink.connect import (
    ConnectError,
    choose_audience,
    get_tenant_installation,
    list_audiences,
    removal_instructions,
    uninstall,
)
from chimplink.web.installation_pages import connect_error_page
from chimplink.web.sessions import check_csrf, push_flash
from chimplink.web.state import State, Tenant
from chimplink.web.sync_status import follow_audience, sync_running

router = APIRouter()

_LIST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DISCONNECTED = "disconnected"

CsrfField = Annotated[str | None, Form(alias="csrf_token")]


@router.get("/installations/{installation_id}/audiences")
async def audiences_page(
    installation_id: str, request: Request, state: State, tenant: Tenant
) -> Response:
    try:
        installation = await get_tenant_installation(
            state.services, tenant_id=tenant.tenant_id, installation_id=installation_id
        )
        found = await list_audiences(state.services, installation)
    except ConnectError as exc:
        return connect_error_page(state, request, exc)
    return state.pages.render(
        request,
        "audiences.html",
        title=f"Choose the audience for {installation.account_name}",
        installation=installation,
        audiences=found,
    )


@router.post("/installations/{installation_id}/audiences")
async def choose_audience_form(
    installation_id: str,
    request: Request,
    state: State,
    tenant: Tenant,
    csrf_token: CsrfField = None,
    list_id: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf_token)
    try:
        installation = await get_tenant_installation(
            state.services, tenant_id=tenant.tenant_id, installation_id=installation_id
        )
        if list_id is None or not _LIST_ID.match(list_id):
            return state.pages.message(
                request,
                title="Choose an audience",
                text="Pick one of the audiences in the list, then press Use this audience.",
                status=400,
            )
        if await sync_running(state, installation.id):
            return state.pages.message(
                request,
                title="A sync is running",
                text=(
                    "chimplink is syncing this account now. Choose another audience when the "
                    "sync has finished. Nothing was changed."
                ),
                status=409,
                tone="info",
            )
        chosen = await choose_audience(state.services, installation, list_id=list_id)
    except ConnectError as exc:
        return connect_error_page(state, request, exc)
    configured = await follow_audience(state, installation.id, chosen.id)
    push_flash(
        request,
        "success",
        f"chimplink now follows the audience {chosen.name} of {installation.account_name}.",
    )
    if state.connectors is None or configured:
        return RedirectResponse("/", status_code=303)
    # A platform to sync with and no settings yet: the mapping form is the next step.
    return RedirectResponse(f"/installations/{installation.id}/sync/settings", status_code=303)


@router.get("/installations/{installation_id}/uninstall")
async def uninstall_page(
    installation_id: str, request: Request, state: State, tenant: Tenant
) -> Response:
    try:
        installation = await get_tenant_installation(
            state.services, tenant_id=tenant.tenant_id, installation_id=installation_id
        )
    except ConnectError as exc:
        return connect_error_page(state, request, exc)
    return state.pages.render(
        request,
        "uninstall_confirm.html",
        title=f"Disconnect {installation.account_name}?",
        installation=installation,
    )


@router.post("/installations/{installation_id}/uninstall")
async def uninstall_form(
    installation_id: str,
    request: Request,
    state: State,
    tenant: Tenant,
    csrf_token: CsrfField = None,
) -> Response:
    check_csrf(request, csrf_token)
    try:
        # Scoped to the tenant: another tenant's id is InstallationMissing before any call.
        result = await uninstall(
            state.services, installation_id=installation_id, tenant_id=tenant.tenant_id
        )
    except ConnectError as exc:
        return connect_error_page(state, request, exc)
    request.session[_DISCONNECTED] = {
        "account_name": result.account_name,
        "pending": result.webhooks_pending > 0,
    }
    return RedirectResponse("/disconnected", status_code=303)


@router.get("/disconnected")
async def disconnected(request: Request, state: State) -> Response:
    info: Any = request.session.pop(_DISCONNECTED, None)
    details = info if isinstance(info, dict) else {}
    return state.pages.render(
        request,
        "disconnected.html",
        title="Mailchimp account disconnected",
        account_name=details.get("account_name"),
        pending=bool(details.get("pending")),
        removal_instructions=removal_instructions(state.services.config.app_name),
    )
