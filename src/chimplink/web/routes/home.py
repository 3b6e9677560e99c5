"""`GET /`: the tenant's connected Mailchimp accounts."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chimplink.connect import list_accounts
from chimplink.web.state import State, Tenant

router = APIRouter()


@router.get("/")
async def home(request: Request, state: State, tenant: Tenant) -> Response:
    cards = await list_accounts(state.services, tenant_id=tenant.tenant_id)
    return state.pages.render(request, "home.html", title="Your Mailchimp accounts", cards=cards)
