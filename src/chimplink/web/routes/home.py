"""`GET /`: the tenant's connected Mailchimp accounts, each with its sync status."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chimplink.connect import list_accounts
from chimplink.web.state import State, Tenant
from chimplink.web.sync_status import sync_status

router = APIRouter()


@router.get("/")
async def home(request: Request, state: State, tenant: Tenant) -> Response:
    cards = await list_accounts(state.services, tenant_id=tenant.tenant_id)
    statuses = {card.installation.id: await sync_status(state, card.installation) for card in cards}
    return state.pages.render(
        request, "home.html", title="Your Mailchimp accounts", cards=cards, sync=statuses
    )
