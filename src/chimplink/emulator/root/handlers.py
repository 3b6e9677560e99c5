"""Handlers of the API root."""

from __future__ import annotations

from typing import Any

from chimplink.emulator.context import ApiContext
from chimplink.emulator.links import self_links


async def get_root(ctx: ApiContext) -> dict[str, Any]:
    record = ctx.account.record
    total = 0
    for hook in ctx.app.subscriber_counters:
        total += hook(ctx.account)
    return {
        "account_id": record.account_id,
        "login_id": record.login_id,
        "account_name": record.account_name,
        "email": record.email,
        "first_name": record.first_name,
        "last_name": record.last_name,
        "username": record.username,
        "avatar_url": "",
        "role": record.role,
        "member_since": record.member_since,
        "pricing_plan_type": record.pricing_plan_type,
        "first_payment": record.member_since,
        "account_timezone": record.account_timezone,
        "account_industry": record.account_industry,
        "contact": {
            "company": record.account_name,
            "addr1": "1 Emulator Way",
            "addr2": "",
            "city": "Atlanta",
            "state": "GA",
            "zip": "30308",
            "country": "US",
        },
        "pro_enabled": False,
        "last_login": record.member_since,
        "total_subscribers": total,
        "industry_stats": {"open_rate": 0.0, "bounce_rate": 0.0, "click_rate": 0.0},
        "_links": self_links(ctx.api_url("/"), "Root"),
    }


async def ping(ctx: ApiContext) -> dict[str, Any]:
    return {"health_status": "Everything's Chimpy!"}
