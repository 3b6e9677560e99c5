"""Handlers of login.mailchimp.com's OAuth 2 endpoints and of `/_emulator/oauth-stats`.

Parse the request, apply the rules of `models`, render: HTML for the pages a
user sees, RFC 6749 JSON for the token endpoint, Mailchimp's JSON for metadata.
These routes return `Response`s, never dicts, so the API's `fields` filter
does not apply to them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from starlette.responses import Response

from chimplink.emulator.context import ApiContext
from chimplink.emulator.oauth import models, pages
from chimplink.emulator.responses import json_response

_FORM_TYPE = "application/x-www-form-urlencoded"
# Far more than any OAuth request has; a body with more is not one.
_MAX_FIELDS = 64
# RFC 6749 §5.1: token responses must not be cached.
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _parse_pairs(raw: bytes) -> dict[str, list[str]] | None:
    """An urlencoded query or body as name → values; None if it is not valid UTF-8 pairs."""
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            errors="strict",
            max_num_fields=_MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        return None
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return params


async def _read_form(ctx: ApiContext) -> dict[str, list[str]] | None:
    """The body of an HTML form or token request; None unless it is urlencoded (RFC 6749 §4.1.3)."""
    media_type = ctx.request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != _FORM_TYPE:
        return None
    return _parse_pairs(await ctx.body())


def _location(redirect_uri: str, params: list[tuple[str, str]]) -> str:
    """The registered redirect URI with `params` added to its query (RFC 6749 §3.1.2).

    The registered query is kept as it is; characters a header cannot carry
    (non-ASCII, controls) are percent-encoded, so the redirect stays one header.
    """
    parts = urlsplit(redirect_uri)
    added = urlencode(params)
    query = f"{parts.query}&{added}" if parts.query else added
    url = urlunsplit(parts._replace(query=query))
    return "".join(c if 0x20 < ord(c) < 0x7F else quote(c, safe="") for c in url)


def _redirect(request: models.AuthorizationRequest, params: list[tuple[str, str]]) -> Response:
    if request.state is not None:
        params = [*params, ("state", request.state)]
    return Response(
        b"",
        status_code=302,
        headers={
            "Location": _location(request.redirect_uri, params),
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


def _hints(params: models.ConsentParams) -> tuple[str | None, str | None]:
    """`account_id` / `login_hint` (an email) choosing the account; repeats count as absent."""
    values = models.single_values(params, ("account_id", "login_hint"))
    if isinstance(values, str):
        return None, None
    return values["account_id"], values["login_hint"]


async def authorize_page(ctx: ApiContext) -> Response:
    """GET /oauth2/authorize: the consent page, or an error page (never a redirect)."""
    params = _parse_pairs(ctx.request.scope.get("query_string", b""))
    if params is None:
        return pages.error_page(
            title="Invalid authorization request",
            detail="The query string could not be read as UTF-8 parameters.",
        )
    try:
        request = models.check_authorization_request(ctx.backend, params)
    except models.AuthorizeError as exc:
        return pages.error_page(title=exc.title, detail=exc.detail)
    account_id, login_hint = _hints(params)
    chosen = models.find_account(ctx.backend, account_id=account_id, login_hint=login_hint)
    accounts = list(ctx.backend.iter_accounts())
    notice = None
    if (account_id or login_hint) and chosen is None:
        notice = "No emulator account matches the account_id or login_hint given; choose one."
    if chosen is not None:
        selected = chosen.account_id
    elif len(accounts) == 1:
        selected = accounts[0].account_id
    else:
        selected = None
    query = ctx.request.url.query
    return pages.render(
        "consent.html",
        client_name=request.client.name,
        redirect_uri=request.redirect_uri,
        action=ctx.url("/oauth2/authorize"),
        carried=request.carried,
        accounts=[
            {
                "account_id": a.account_id,
                "account_name": a.record.account_name,
                "email": a.record.email,
                "dc": a.dc,
            }
            for a in accounts
        ],
        selected=selected,
        notice=notice,
        accounts_url=ctx.url("/_emulator/accounts"),
        reload_url=ctx.url("/oauth2/authorize") + (f"?{query}" if query else ""),
    )


async def authorize_decision(ctx: ApiContext) -> Response:
    """POST /oauth2/authorize: the user's Allow or Deny, re-validated before any redirect."""
    form = await _read_form(ctx)
    if form is None:
        return pages.error_page(
            title="Invalid authorization request",
            detail="The consent form must be sent as application/x-www-form-urlencoded UTF-8.",
        )
    try:
        request = models.check_authorization_request(ctx.backend, form)
    except models.AuthorizeError as exc:
        return pages.error_page(title=exc.title, detail=exc.detail)
    decision = models.single_values(form, ("decision",))
    choice = None if isinstance(decision, str) else decision["decision"]
    if choice == "deny":
        return _redirect(request, [("error", "access_denied")])
    if choice != "allow":
        return pages.error_page(
            title="Invalid authorization request", detail="Choose Allow or Deny."
        )
    account_id, login_hint = _hints(form)
    account = models.find_account(ctx.backend, account_id=account_id, login_hint=login_hint)
    if account is None:
        return pages.error_page(
            title="Unknown account",
            detail="Choose an existing emulator account to connect to the application.",
        )
    code = models.issue_code(ctx.backend, request=request, account=account)
    return _redirect(request, [("code", code)])


async def token(ctx: ApiContext) -> Response:
    """POST /oauth2/token: exchange a code for a token (RFC 6749 §4.1.3, §5)."""
    form = await _read_form(ctx)
    if form is None:
        return json_response(
            {
                "error": "invalid_request",
                "error_description": "The body must be application/x-www-form-urlencoded UTF-8.",
            },
            status=400,
            headers=dict(_NO_STORE),
        )
    try:
        access_token = models.exchange_code(ctx.backend, form)
    except models.TokenError as exc:
        return json_response(exc.body(), status=exc.status, headers=dict(_NO_STORE))
    return json_response(models.token_response(access_token), headers=dict(_NO_STORE))


def _bearer(header: str) -> str | None:
    """The token of `Authorization: OAuth <token>` (Mailchimp's scheme) or `Bearer <token>`."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() not in ("oauth", "bearer"):
        return None
    return value.strip() or None


async def metadata(ctx: ApiContext) -> Response:
    """GET /oauth2/metadata: always 200; a bad token gets `{"error": "invalid_token"}` (§3)."""
    token_value = _bearer(ctx.request.headers.get("authorization", ""))
    body = models.metadata(ctx.backend, token=token_value, base_url=ctx.base_url)
    return json_response(body, headers={"Cache-Control": "no-store"})


async def oauth_stats(ctx: ApiContext) -> dict[str, Any]:
    """GET /_emulator/oauth-stats: what each client asked of login.mailchimp.com."""
    return models.oauth_stats(ctx.backend)
