"""Campaign reports: `/reports`, `/reports/{campaign_id}` and its email activity.

A report exists once its campaign is sent; before that Mailchimp has nothing
to report, and the emulator answers 404 Resource Not Found. Figures come from
the activity recorded through the control plane (see `control.py`), so the
summary and the per-member activity always agree.
"""

from __future__ import annotations

from typing import Any

from chimplink.emulator import problems
from chimplink.emulator.campaigns.handlers import ecommerce_summary
from chimplink.emulator.campaigns.models import (
    Activity,
    Campaign,
    Recipient,
    campaigns_of,
    figures,
    require_sent,
)
from chimplink.emulator.context import ApiContext
from chimplink.emulator.links import self_links
from chimplink.emulator.lists.models import lists_of
from chimplink.emulator.members.models import subscriber_hash
from chimplink.emulator.params import enum_param, page, time_param, within

_TYPES = ("regular", "plaintext", "absplit", "rss", "variate")


def _report_url(ctx: ApiContext, campaign_id: str) -> str:
    return ctx.api_url(f"/reports/{campaign_id}")


def render_report(ctx: ApiContext, campaign: Campaign) -> dict[str, Any]:
    numbers = figures(campaign)
    audience = lists_of(ctx.account).lists.get(campaign.list_id)
    body: dict[str, Any] = {
        "id": campaign.id,
        "campaign_title": str(campaign.settings.get("title", "")),
        "type": campaign.type,
        "list_id": campaign.list_id,
        "list_is_active": audience is not None,
        "list_name": audience.name if audience is not None else "",
        "subject_line": str(campaign.settings.get("subject_line", "")),
        "preview_text": str(campaign.settings.get("preview_text", "")),
        "emails_sent": numbers.emails_sent,
        "abuse_reports": 0,
        # Unsubscribes are not attributed to campaigns by the emulator.
        "unsubscribed": 0,
        "send_time": campaign.send_time,
        "bounces": {
            "hard_bounces": numbers.hard_bounces,
            "soft_bounces": numbers.soft_bounces,
            "syntax_errors": 0,
        },
        "forwards": {"forwards_count": 0, "forwards_opens": 0},
        "opens": {
            "opens_total": numbers.opens_total,
            "unique_opens": numbers.unique_opens,
            "open_rate": numbers.open_rate,
            # The emulator has no Apple Mail Privacy Protection: nothing to exclude.
            "proxy_excluded_opens": numbers.opens_total,
            "proxy_excluded_unique_opens": numbers.unique_opens,
            "proxy_excluded_open_rate": numbers.open_rate,
        },
        "clicks": {
            "clicks_total": numbers.clicks_total,
            "unique_clicks": numbers.unique_clicks,
            "unique_subscriber_clicks": numbers.unique_subscriber_clicks,
            "click_rate": numbers.click_rate,
        },
        "ecommerce": ecommerce_summary(ctx.account, campaign.id),
        "delivery_status": {"enabled": False},
        "_links": self_links(_report_url(ctx, campaign.id), "Reports/Response"),
    }
    # No open or click yet: no date-time to give (the spec's type forbids "").
    if numbers.last_open:
        body["opens"]["last_open"] = numbers.last_open
    if numbers.last_click:
        body["clicks"]["last_click"] = numbers.last_click
    return body


def render_activity(item: Activity) -> dict[str, Any]:
    body: dict[str, Any] = {"action": item.action, "timestamp": item.timestamp, "ip": item.ip}
    if item.action == "click":
        body["url"] = item.url
    if item.action == "bounce":
        body["type"] = item.type
    return body


def render_email_activity(
    ctx: ApiContext,
    campaign: Campaign,
    digest: str,
    recipient: Recipient,
    *,
    since: str | None = None,
) -> dict[str, Any]:
    since_at = time_param({"since": since}, "since") if since else None
    return {
        "campaign_id": campaign.id,
        "list_id": campaign.list_id,
        "list_is_active": campaign.list_id in lists_of(ctx.account).lists,
        "email_id": digest,
        "email_address": recipient.email_address,
        "activity": [
            render_activity(item)
            for item in recipient.activity
            if within(item.timestamp, since=since_at, before=None)
        ],
        "_links": self_links(
            f"{_report_url(ctx, campaign.id)}/email-activity/{digest}",
            "Reports/EmailActivity/Response",
        ),
    }


async def list_reports(ctx: ApiContext) -> dict[str, Any]:
    query = ctx.query
    kind = enum_param(query, "type", _TYPES)
    since = time_param(query, "since_send_time")
    before = time_param(query, "before_send_time")
    sent = [
        c
        for c in campaigns_of(ctx.account).campaigns.values()
        if c.status == "sent"
        and (kind is None or c.type == kind)
        and within(c.send_time, since=since, before=before)
    ]
    return {
        "reports": [render_report(ctx, c) for c in page(query, sent)],
        "total_items": len(sent),
        "_links": self_links(ctx.api_url("/reports"), "Reports/Collection"),
    }


async def get_report(ctx: ApiContext) -> dict[str, Any]:
    return render_report(ctx, require_sent(ctx.account, ctx.params["campaign_id"]))


async def list_email_activity(ctx: ApiContext) -> dict[str, Any]:
    campaign = require_sent(ctx.account, ctx.params["campaign_id"])
    since = ctx.query.get("since") or None
    if since:
        time_param(ctx.query, "since")
    rows = list(campaign.recipients.items())
    return {
        "campaign_id": campaign.id,
        "emails": [
            render_email_activity(ctx, campaign, digest, recipient, since=since)
            for digest, recipient in page(ctx.query, rows)
        ],
        "total_items": len(rows),
        "_links": self_links(
            f"{_report_url(ctx, campaign.id)}/email-activity",
            "Reports/EmailActivity/Collection",
        ),
    }


def find_recipient(campaign: Campaign, key: str) -> tuple[str, Recipient]:
    """A recipient by subscriber hash or email address (as member endpoints accept)."""
    digest = subscriber_hash(key) if "@" in key else key.lower()
    recipient = campaign.recipients.get(digest)
    if recipient is None:
        raise problems.not_found()
    return digest, recipient


async def get_email_activity(ctx: ApiContext) -> dict[str, Any]:
    campaign = require_sent(ctx.account, ctx.params["campaign_id"])
    since = ctx.query.get("since") or None
    if since:
        time_param(ctx.query, "since")
    digest, recipient = find_recipient(campaign, ctx.params["subscriber_hash"])
    return render_email_activity(ctx, campaign, digest, recipient, since=since)
