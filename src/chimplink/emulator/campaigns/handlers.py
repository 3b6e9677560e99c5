"""Campaigns: `/campaigns[/{campaign_id}]`, `.../content` and `.../actions/send`."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, ListEvent, now_iso
from chimplink.emulator.campaigns.models import (
    NOT_READY,
    Campaign,
    Recipient,
    campaigns_of,
    figures,
    missing_for_send,
    require_campaign,
)
from chimplink.emulator.context import ApiContext
from chimplink.emulator.ecommerce.models import check_strings, orders_for_campaign
from chimplink.emulator.links import self_links
from chimplink.emulator.lists.models import lists_of
from chimplink.emulator.members.models import members_of
from chimplink.emulator.params import enum_param, page, time_param, within

ALREADY_SENT = "This campaign has already been sent."
_STATUSES = ("save", "paused", "schedule", "sending", "sent")
_TYPES = ("regular", "plaintext", "absplit", "rss", "variate")
_SETTINGS = (
    "subject_line",
    "preview_text",
    "title",
    "from_name",
    "reply_to",
    "use_conversation",
    "to_name",
    "folder_id",
    "authenticate",
    "auto_footer",
    "inline_css",
    "auto_tweet",
    "auto_fb_post",
    "fb_comments",
    "template_id",
)
_SETTINGS_DEFAULTS: dict[str, Any] = {
    "subject_line": "",
    "preview_text": "",
    "title": "",
    "from_name": "",
    "reply_to": "",
    "use_conversation": False,
    "to_name": "",
    "folder_id": "",
    "authenticate": True,
    "auto_footer": False,
    "inline_css": False,
    "auto_tweet": False,
    "fb_comments": True,
    "timewarp": False,
    "template_id": 0,
    "drag_and_drop": False,
}
_TRACKING_DEFAULTS: dict[str, Any] = {
    "opens": True,
    "html_clicks": True,
    "text_clicks": False,
    "goal_tracking": False,
    "ecomm360": False,
    "google_analytics": "",
    "clicktale": "",
}
_TAG = re.compile(r"<[^>]+>")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def campaign_url(ctx: ApiContext, campaign_id: str) -> str:
    return ctx.api_url(f"/campaigns/{campaign_id}")


def subscribed_hashes(account: Account, list_id: str) -> dict[str, str]:
    """subscriber hash → email of the audience's subscribed members (who a send reaches)."""
    members = members_of(account).members.get(list_id, {})
    return {h: m.email_address for h, m in members.items() if m.status == "subscribed"}


def ecommerce_summary(account: Account, campaign_id: str) -> dict[str, Any]:
    """Revenue attributed to the campaign through orders' `campaign_id` (REFERENCE.md §10)."""
    orders = orders_for_campaign(account, campaign_id)
    revenue = round(sum(order.order_total for _store, order in orders), 2)
    return {
        "total_orders": len(orders),
        "total_spent": revenue,
        "total_revenue": revenue,
        "currency_code": orders[0][1].currency_code if orders else "",
    }


def render_campaign(ctx: ApiContext, campaign: Campaign) -> dict[str, Any]:
    audience = lists_of(ctx.account).lists.get(campaign.list_id)
    sent = campaign.status == "sent"
    recipient_count = (
        len(campaign.recipients)
        if sent
        else len(subscribed_hashes(ctx.account, campaign.list_id))
        if audience is not None
        else 0
    )
    body: dict[str, Any] = {
        "id": campaign.id,
        "web_id": campaign.web_id,
        "parent_campaign_id": "",
        "type": campaign.type,
        "create_time": campaign.create_time,
        "archive_url": ctx.url(f"/campaign-archive/{campaign.id}"),
        "long_archive_url": ctx.url(f"/campaign-archive/{campaign.id}"),
        "status": campaign.status,
        "emails_sent": len(campaign.recipients),
        "content_type": campaign.content_type,
        "needs_block_refresh": False,
        "resendable": False,
        "recipients": {
            "list_id": campaign.list_id,
            "list_is_active": audience is not None,
            "list_name": audience.name if audience is not None else "",
            "segment_text": "",
            "recipient_count": recipient_count,
        },
        "settings": {**_SETTINGS_DEFAULTS, **campaign.settings},
        "tracking": {**_TRACKING_DEFAULTS, **campaign.tracking},
        "delivery_status": {"enabled": False},
        "_links": self_links(campaign_url(ctx, campaign.id), "Campaigns/Response"),
    }
    # Mailchimp answers `"send_time": ""` before sending; the spec types it
    # date-time, so the emulator leaves it out until there is one.
    if campaign.send_time:
        body["send_time"] = campaign.send_time
    if campaign.social_card is not None:
        body["social_card"] = campaign.social_card
    if sent:
        numbers = figures(campaign)
        ecommerce = ecommerce_summary(ctx.account, campaign.id)
        del ecommerce["currency_code"]
        body["report_summary"] = {
            "opens": numbers.opens_total,
            "unique_opens": numbers.unique_opens,
            "open_rate": numbers.open_rate,
            "clicks": numbers.clicks_total,
            "subscriber_clicks": numbers.unique_subscriber_clicks,
            "click_rate": numbers.click_rate,
            "ecommerce": ecommerce,
        }
    return body


def _apply(ctx: ApiContext, campaign: Campaign, body: Mapping[str, Any]) -> None:
    """Apply the writable parts of a create/update body; everything is checked first."""
    recipients = body.get("recipients")
    if recipients is not None and recipients["list_id"] not in lists_of(ctx.account).lists:
        raise problems.field_error(
            "recipients.list_id", "The list_id does not match any audience in this account."
        )
    settings = body.get("settings") or {}
    # The spec's request schemas lost their `title`/`description` properties
    # (see ecommerce.models.check_strings): type them here.
    check_strings(settings, ("title",), prefix="settings.")
    check_strings(body.get("social_card") or {}, ("title", "description"), prefix="social_card.")
    reply_to = settings.get("reply_to")
    if reply_to and "@" not in reply_to:
        raise problems.field_error("settings.reply_to", "This value should be a valid email.")
    if recipients is not None:
        campaign.list_id = recipients["list_id"]
    for name in _SETTINGS:
        if name in settings:
            campaign.settings[name] = settings[name]
    campaign.tracking.update(body.get("tracking") or {})
    if "social_card" in body:
        campaign.social_card = dict(body["social_card"])


async def list_campaigns(ctx: ApiContext) -> dict[str, Any]:
    query = ctx.query
    status = enum_param(query, "status", _STATUSES)
    kind = enum_param(query, "type", _TYPES)
    sort_field = enum_param(query, "sort_field", ("create_time", "send_time"))
    sort_dir = enum_param(query, "sort_dir", ("ASC", "DESC"))
    created = (time_param(query, "since_create_time"), time_param(query, "before_create_time"))
    sent = (time_param(query, "since_send_time"), time_param(query, "before_send_time"))
    found = [
        c
        for c in campaigns_of(ctx.account).campaigns.values()
        if (status is None or c.status == status)
        and (kind is None or c.type == kind)
        and (not query.get("list_id") or c.list_id == query["list_id"])
        and within(c.create_time, since=created[0], before=created[1])
        and within(c.send_time, since=sent[0], before=sent[1])
    ]
    if sort_field is not None:
        found.sort(key=lambda c: getattr(c, sort_field), reverse=sort_dir == "DESC")
    return {
        "campaigns": [render_campaign(ctx, c) for c in page(query, found)],
        "total_items": len(found),
        "_links": self_links(ctx.api_url("/campaigns"), "Campaigns/Collection"),
    }


async def create_campaign(ctx: ApiContext) -> dict[str, Any]:
    body = await ctx.validated_json()
    campaign = Campaign(
        id=ctx.backend.new_id(10),
        web_id=ctx.backend.new_int_id(),
        type=body["type"],
        content_type=body.get("content_type", "template"),
    )
    _apply(ctx, campaign, body)
    campaigns_of(ctx.account).campaigns[campaign.id] = campaign
    return render_campaign(ctx, campaign)


async def get_campaign(ctx: ApiContext) -> dict[str, Any]:
    return render_campaign(ctx, require_campaign(ctx.account, ctx.params["campaign_id"]))


async def update_campaign(ctx: ApiContext) -> dict[str, Any]:
    campaign = require_campaign(ctx.account, ctx.params["campaign_id"])
    body = await ctx.validated_json()
    if campaign.status == "sent":
        raise problems.invalid_action(ALREADY_SENT)
    _apply(ctx, campaign, body)
    return render_campaign(ctx, campaign)


async def delete_campaign(ctx: ApiContext) -> None:
    campaign = require_campaign(ctx.account, ctx.params["campaign_id"])
    del campaigns_of(ctx.account).campaigns[campaign.id]


# -- content -------------------------------------------------------------------------


def _render_content(ctx: ApiContext, campaign: Campaign) -> dict[str, Any]:
    return {
        "html": campaign.html,
        "plain_text": campaign.plain_text,
        "archive_html": campaign.html,
        "_links": self_links(
            f"{campaign_url(ctx, campaign.id)}/content", "Campaigns/Content/Response"
        ),
    }


def plain_text_of(html: str) -> str:
    """Mailchimp derives the plain-text part from the HTML when none is given."""
    text = html_lib.unescape(_TAG.sub("", re.sub(r"(?i)<br\s*/?>|</p>", "\n", html)))
    return _BLANK_LINES.sub("\n\n", text).strip()


async def get_content(ctx: ApiContext) -> dict[str, Any]:
    return _render_content(ctx, require_campaign(ctx.account, ctx.params["campaign_id"]))


async def put_content(ctx: ApiContext) -> dict[str, Any]:
    campaign = require_campaign(ctx.account, ctx.params["campaign_id"])
    body = await ctx.validated_json()
    # The emulator holds no templates and fetches nothing: content comes as html
    # or plain_text. The other sources are refused as invalid (not 5xx: the
    # request is well-formed, the emulator just has nothing to build it from).
    for source in ("template", "url", "archive", "variate_contents"):
        if source in body:
            raise problems.field_error(
                source, f"The emulator builds content from html or plain_text only, not {source}."
            )
    if campaign.status == "sent":
        raise problems.invalid_action(ALREADY_SENT)
    if "html" in body:
        campaign.html = body["html"]
        campaign.content_type = "html"
        campaign.plain_text = body.get("plain_text") or plain_text_of(campaign.html)
    elif "plain_text" in body:
        campaign.plain_text = body["plain_text"]
    return _render_content(ctx, campaign)


# -- send --------------------------------------------------------------------------------


async def send_campaign(ctx: ApiContext) -> None:
    """Send now: snapshot the subscribed members, mark sent, fire the `campaign` webhook.

    Mailchimp refuses an incomplete campaign (no audience, envelope or content,
    or nobody subscribed) with 400 "Your Campaign is not ready to send."
    """
    campaign = require_campaign(ctx.account, ctx.params["campaign_id"])
    if campaign.status == "sent":
        raise problems.invalid_action(ALREADY_SENT)
    audience = lists_of(ctx.account).lists.get(campaign.list_id)
    reached = subscribed_hashes(ctx.account, campaign.list_id) if audience is not None else {}
    if missing_for_send(campaign) or not reached:
        raise problems.bad_request(NOT_READY)
    campaign.recipients = {h: Recipient(email_address=e) for h, e in reached.items()}
    campaign.status = "sent"
    campaign.send_time = now_iso()
    # Campaign events are delivered whatever the webhook's `sources` say
    # (REFERENCE.md §4.1: "can not be limited by source"); the deliverer decides.
    ctx.backend.emit(
        ListEvent(
            account_id=ctx.account.account_id,
            list_id=campaign.list_id,
            type="campaign",
            source="api",
            data={
                "id": campaign.id,
                "subject": str(campaign.settings.get("subject_line", "")),
                "status": "sent",
                "reason": "",
                "list_id": campaign.list_id,
            },
            fired_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        )
    )
