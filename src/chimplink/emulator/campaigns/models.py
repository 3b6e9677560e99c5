"""Campaigns, what they were sent to, and what recipients did with them.

Sending is instantaneous here: `actions/send` snapshots the audience's
subscribed members as the recipients, sets the campaign `sent`, and fires the
`campaign` webhook event. Opens, clicks and bounces are recorded through the
control plane (`POST /_emulator/campaigns/{id}/activity`), and reports are
computed from those records, so a report is always consistent with the
per-member email activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, now_iso, register_store

ACTIONS = ("open", "click", "bounce")
BOUNCE_TYPES = ("hard", "soft")
NOT_READY = "Your Campaign is not ready to send."


class Activity(BaseModel):
    action: str  # open | click | bounce
    timestamp: str
    url: str = ""
    type: str = ""  # bounce: hard | soft
    ip: str = ""


class Recipient(BaseModel):
    email_address: str
    activity: list[Activity] = Field(default_factory=list)


class Campaign(BaseModel):
    id: str
    web_id: int
    type: str
    status: str = "save"
    create_time: str = Field(default_factory=now_iso)
    send_time: str = ""
    content_type: str = "template"
    list_id: str = ""
    settings: dict[str, Any] = Field(default_factory=dict)
    tracking: dict[str, Any] = Field(default_factory=dict)
    social_card: dict[str, Any] | None = None
    html: str = ""
    plain_text: str = ""
    # subscriber hash → recipient, fixed at send time
    recipients: dict[str, Recipient] = Field(default_factory=dict)


@register_store("campaigns")
class CampaignsStore(BaseModel):
    campaigns: dict[str, Campaign] = Field(default_factory=dict)


def campaigns_of(account: Account) -> CampaignsStore:
    return account.store(CampaignsStore)


def require_campaign(account: Account, campaign_id: str) -> Campaign:
    found = campaigns_of(account).campaigns.get(campaign_id)
    if found is None:
        raise problems.not_found()
    return found


def require_sent(account: Account, campaign_id: str) -> Campaign:
    """A campaign's report exists once it was sent; before that it is not found."""
    campaign = require_campaign(account, campaign_id)
    if campaign.status != "sent":
        raise problems.not_found()
    return campaign


def missing_for_send(campaign: Campaign) -> list[str]:
    """What the send checklist would flag: an audience, the envelope, the content."""
    missing = [
        name
        for name in ("subject_line", "from_name", "reply_to")
        if not campaign.settings.get(name)
    ]
    if not campaign.list_id:
        missing.append("recipients.list_id")
    content = campaign.plain_text if campaign.type == "plaintext" else campaign.html
    if not content.strip():
        missing.append("content")
    return missing


@dataclass(frozen=True, slots=True)
class Figures:
    """The numbers of a campaign report, all derived from recorded activity."""

    emails_sent: int
    opens_total: int
    unique_opens: int
    last_open: str
    clicks_total: int
    unique_clicks: int
    unique_subscriber_clicks: int
    last_click: str
    hard_bounces: int
    soft_bounces: int

    @property
    def delivered(self) -> int:
        return max(self.emails_sent - self.hard_bounces - self.soft_bounces, 0)

    @property
    def open_rate(self) -> float:
        # Mailchimp's rates are over successful deliveries, as a fraction (0..1).
        return self.unique_opens / self.delivered if self.delivered else 0.0

    @property
    def click_rate(self) -> float:
        return self.unique_subscriber_clicks / self.delivered if self.delivered else 0.0


def figures(campaign: Campaign) -> Figures:
    opens = clicks = hard = soft = 0
    openers = clickers = 0
    link_clicks: set[tuple[str, str]] = set()
    last_open = last_click = ""
    for digest, recipient in campaign.recipients.items():
        opened = clicked = False
        for item in recipient.activity:
            if item.action == "open":
                opens += 1
                opened = True
                last_open = max(last_open, item.timestamp)
            elif item.action == "click":
                clicks += 1
                clicked = True
                link_clicks.add((digest, item.url))
                last_click = max(last_click, item.timestamp)
        # A bounce is counted once per recipient: hard if any hard bounce was seen.
        bounces = {item.type for item in recipient.activity if item.action == "bounce"}
        if "hard" in bounces:
            hard += 1
        elif bounces:
            soft += 1
        openers += opened
        clickers += clicked
    return Figures(
        emails_sent=len(campaign.recipients),
        opens_total=opens,
        unique_opens=openers,
        last_open=last_open,
        clicks_total=clicks,
        unique_clicks=len(link_clicks),
        unique_subscriber_clicks=clickers,
        last_click=last_click,
        hard_bounces=hard,
        soft_bounces=soft,
    )
