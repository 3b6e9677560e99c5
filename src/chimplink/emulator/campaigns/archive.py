"""The public archive page of a sent campaign (its `archive_url`), as Mailchimp hosts one."""

from __future__ import annotations

from starlette.responses import HTMLResponse

from chimplink.emulator import problems
from chimplink.emulator.campaigns.control import find_any_campaign
from chimplink.emulator.context import ApiContext


async def archive_page(ctx: ApiContext) -> HTMLResponse:
    campaign = find_any_campaign(ctx, ctx.params["campaign_id"])
    if campaign.status != "sent":
        raise problems.not_found()
    return HTMLResponse(campaign.html)
