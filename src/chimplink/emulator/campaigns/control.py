"""Control plane: what recipients do with a sent campaign (not part of Mailchimp).

    POST /_emulator/campaigns/{campaign_id}/activity
         {"subscriber_hash" | "email": ..., "action": "open" | "click" | "bounce",
          "url": ... (click, required), "type": "hard" | "soft" (bounce, default hard),
          "timestamp": ISO 8601 (default now), "ip": ...}

Mailchimp learns of opens, clicks and bounces from tracking pixels, redirects
and bounce messages; the emulator sends no email, so tests and demos record
them here and read them back through `/reports`.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from chimplink.emulator import problems
from chimplink.emulator.backend import now_iso
from chimplink.emulator.campaigns.models import (
    ACTIONS,
    BOUNCE_TYPES,
    Activity,
    Campaign,
    campaigns_of,
)
from chimplink.emulator.campaigns.reports import find_recipient, render_activity
from chimplink.emulator.context import ApiContext
from chimplink.emulator.params import time_param


def find_any_campaign(ctx: ApiContext, campaign_id: str) -> Campaign:
    """Campaign ids are unique across the emulator; the control plane has no account."""
    for account in ctx.backend.iter_accounts():
        found = campaigns_of(account).campaigns.get(campaign_id)
        if found is not None:
            return found
    raise problems.not_found("No campaign with this id.")


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise problems.field_error(name, f"{name} must be a non-empty string")
    return value.strip()


async def record_activity(ctx: ApiContext) -> dict[str, Any]:
    campaign = find_any_campaign(ctx, ctx.params["campaign_id"])
    body = await ctx.json_object()
    action = body.get("action")
    if action not in ACTIONS:
        raise problems.field_error("action", f"action must be one of {', '.join(ACTIONS)}")
    key = _text(body, "subscriber_hash") or _text(body, "email")
    if key is None:
        raise problems.missing_fields("subscriber_hash")
    url = _text(body, "url") or ""
    if action == "click" and not url:
        raise problems.missing_fields("url")
    bounce_type = _text(body, "type") or "hard"
    if action == "bounce" and bounce_type not in BOUNCE_TYPES:
        raise problems.field_error("type", "type must be hard or soft")
    moment = time_param({"timestamp": _text(body, "timestamp") or ""}, "timestamp")
    ip = _text(body, "ip") or ""
    if campaign.status != "sent":
        raise problems.not_found("The campaign has not been sent: it has no recipients yet.")
    digest, recipient = find_recipient(campaign, key)
    item = Activity(
        action=action,
        timestamp=(
            moment.astimezone(UTC).replace(microsecond=0).isoformat() if moment else now_iso()
        ),
        url=url if action == "click" else "",
        type=bounce_type if action == "bounce" else "",
        ip=ip,
    )
    recipient.activity.append(item)
    recipient.activity.sort(key=lambda a: a.timestamp)
    return {
        "campaign_id": campaign.id,
        "email_id": digest,
        "email_address": recipient.email_address,
        "recorded": render_activity(item),
        "activity": [render_activity(a) for a in recipient.activity],
    }
