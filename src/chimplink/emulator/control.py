"""The control plane, `/_emulator/...`: what tests and demos do that Mailchimp's API cannot.

Accounts and OAuth clients are created here, tokens revoked ("the user removed
the app"), stats read and state reset. Resource packages add their own
control routes (subscriber actions, deliveries, batch stepping).
"""

from __future__ import annotations

import re
from typing import Any

from chimplink.emulator import problems
from chimplink.emulator.context import ApiContext
from chimplink.emulator.routing import Route

_DC = re.compile(r"^[a-z]+[0-9]+$")


def _string(body: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise problems.missing_fields(name)
        return None
    if not isinstance(value, str) or not value.strip():
        raise problems.field_error(name, f"{name} must be a non-empty string")
    return value


async def create_account(ctx: ApiContext) -> dict[str, Any]:
    body = await ctx.json_object()
    name = _string(body, "account_name", required=True)
    dc = _string(body, "dc", required=False)
    email = _string(body, "email", required=False)
    if dc is not None and not _DC.match(dc):
        raise problems.field_error("dc", "dc must look like 'us6'")
    if email is not None and "@" not in email:
        raise problems.field_error("email", "email must be an email address")
    assert name is not None
    account, token, api_key = ctx.backend.create_account(account_name=name, dc=dc, email=email)
    return {
        "account_id": account.account_id,
        "login_id": account.record.login_id,
        "dc": account.dc,
        "email": account.record.email,
        "access_token": token,
        "api_key": api_key,
        "api_endpoint": f"{ctx.base_url}/{account.dc}",
    }


async def list_accounts(ctx: ApiContext) -> dict[str, Any]:
    return {
        "accounts": [
            {
                "account_id": a.account_id,
                "account_name": a.record.account_name,
                "dc": a.dc,
                "email": a.record.email,
            }
            for a in ctx.backend.iter_accounts()
        ]
    }


async def create_oauth_client(ctx: ApiContext) -> dict[str, Any]:
    from chimplink.emulator.backend import OAuthClient

    body = await ctx.json_object()
    client_id = _string(body, "client_id", required=True)
    secret = _string(body, "client_secret", required=True)
    uris = body.get("redirect_uris")
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) and u for u in uris):
        raise problems.field_error(
            "redirect_uris", "redirect_uris must be a non-empty list of URLs"
        )
    for uri in uris:
        if not uri.startswith(("http://", "https://")):
            raise problems.field_error("redirect_uris", f"not an http(s) URL: {uri}")
        # RFC 6749 §3.1.2: no fragment; no whitespace or controls, which URL
        # parsers drop silently and would make "exact match" inexact.
        if "#" in uri or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in uri):
            raise problems.field_error(
                "redirect_uris", f"no fragment, spaces or control characters allowed: {uri!r}"
            )
    assert client_id is not None and secret is not None
    name = _string(body, "name", required=False) or "Emulated integration"
    ctx.backend.oauth_clients[client_id] = OAuthClient(
        client_id=client_id, client_secret=secret, redirect_uris=list(uris), name=name
    )
    return {"client_id": client_id, "redirect_uris": uris, "name": name}


async def revoke_token(ctx: ApiContext) -> dict[str, Any]:
    body = await ctx.json_object()
    token = _string(body, "access_token", required=True)
    assert token is not None
    if not ctx.backend.revoke(token):
        raise problems.not_found("No such access token.")
    return {"revoked": True}


async def stats(ctx: ApiContext) -> dict[str, Any]:
    behaviour = ctx.app.behaviour
    accounts: dict[str, Any] = {}
    for account_id, account_stats in behaviour.stats.items():
        entry = account_stats.as_json()
        account = ctx.backend.accounts.get(account_id)
        entry["account_name"] = account.record.account_name if account else None
        accounts[account_id] = entry
    return {
        "accounts": accounts,
        "config": {
            "latency_ms": behaviour.latency_ms,
            "latency_per_item_ms": behaviour.latency_per_item_ms,
            "max_connections": behaviour.max_connections,
            "fault_rate": behaviour.fault_rate,
        },
    }


async def configure(ctx: ApiContext) -> dict[str, Any]:
    """Change the behaviour model at run time (latency, limit, faults)."""
    body = await ctx.json_object()
    behaviour = ctx.app.behaviour
    for name in ("latency_ms", "latency_per_item_ms", "fault_rate"):
        if name in body:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise problems.field_error(name, f"{name} must be a number >= 0")
            if name == "fault_rate" and value > 1:
                raise problems.field_error(name, "fault_rate must be between 0 and 1")
            setattr(behaviour, name, float(value))
    if "max_connections" in body:
        value = body["max_connections"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise problems.field_error("max_connections", "max_connections must be an integer >= 1")
        behaviour.max_connections = value
    return await stats(ctx)


async def script_fault(ctx: ApiContext) -> dict[str, Any]:
    """Make the next `count` calls of one operation fail with a chosen fault."""
    from chimplink.emulator.behaviour import FAULT_KINDS, ScriptedFault

    body = await ctx.json_object()
    operation = _string(body, "operation", required=True)
    kind = _string(body, "fault", required=True)
    assert operation is not None and kind is not None
    known = {route.operation for route in ctx.app.api.routes}
    if operation not in known:
        raise problems.field_error(
            "operation", f"unknown operation {operation!r}; use a route such as 'GET /ping'"
        )
    if kind not in FAULT_KINDS:
        raise problems.field_error("fault", f"fault must be one of {', '.join(FAULT_KINDS)}")
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise problems.field_error("count", "count must be an integer >= 1")
    account_id = _string(body, "account_id", required=False)
    ctx.app.behaviour.script_fault(
        ScriptedFault(operation=operation, kind=kind, remaining=count, account_id=account_id)
    )
    return {"operation": operation, "fault": kind, "count": count, "account_id": account_id}


async def reset(ctx: ApiContext) -> None:
    ctx.app.reset()


async def state(ctx: ApiContext) -> dict[str, Any]:
    return ctx.backend.snapshot()


async def openapi(ctx: ApiContext) -> dict[str, Any]:
    """Mailchimp's OpenAPI document restricted to what this emulator implements."""
    from chimplink.emulator import spec

    implemented = {(route.method, spec.shape(route.path)) for route in ctx.app.api.routes}
    return spec.emulated_document(implemented, server=f"{ctx.base_url}/3.0")


control_routes = [
    Route("POST", "/accounts", create_account),
    Route("GET", "/accounts", list_accounts),
    Route("POST", "/oauth-clients", create_oauth_client),
    Route("POST", "/tokens/revoke", revoke_token),
    Route("GET", "/stats", stats),
    Route("POST", "/config", configure),
    Route("POST", "/faults", script_fault),
    Route("POST", "/reset", reset),
    Route("GET", "/state", state),
    Route("GET", "/openapi.json", openapi),
]
