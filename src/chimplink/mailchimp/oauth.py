"""OAuth 2 protocol functions (REFERENCE.md §3), apart from any web framework.

The web layer keeps `state` server-side and calls these three functions:
`authorize_url()` to send the user to Mailchimp, `exchange_code()` on the
callback, `fetch_metadata()` to learn where the account's API lives.

`api_endpoint` decides where we send the user's token from then on, so it is
pinned: https on `<dc>.api.mailchimp.com`, or one of the bases the operator
configured (the emulator). We never follow an arbitrary host a response names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import ValidationError as PydanticValidationError

from chimplink.mailchimp._transport import send
from chimplink.mailchimp.errors import OAuthError, error_from_response
from chimplink.mailchimp.models.account import OAuthMetadata, TokenResponse

__all__ = [
    "DEFAULT_LOGIN_URL",
    "authorize_url",
    "check_api_endpoint",
    "exchange_code",
    "fetch_metadata",
]

DEFAULT_LOGIN_URL = "https://login.mailchimp.com"

_MAILCHIMP_API_ENDPOINT = re.compile(r"^https://[a-z]+\d+\.api\.mailchimp\.com$")

_TOKEN_OPERATION = "POST /oauth2/token"
_METADATA_OPERATION = "GET /oauth2/metadata"


def authorize_url(
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    login_url: str = DEFAULT_LOGIN_URL,
    code_challenge: str | None = None,
) -> str:
    """Where to send the user to approve the app.

    `state` is required: Mailchimp's samples omit it (§3), but without it the
    callback cannot be tied to the session that started it (CSRF).
    `code_challenge` (S256) is sent when given; Mailchimp documents no PKCE
    support, so it must not be relied on.
    """
    if not state:
        raise ValueError("state is required (CSRF protection)")
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if code_challenge is not None:
        query["code_challenge"] = code_challenge
        query["code_challenge_method"] = "S256"
    return f"{login_url.rstrip('/')}/oauth2/authorize?{urlencode(query)}"


def _oauth_error(response: httpx.Response, *, operation: str) -> Exception:
    """The token/metadata endpoints answer `{"error": ..., "error_description": ...}`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        description = body.get("error_description")
        text = description if isinstance(description, str) else body["error"]
        return OAuthError(
            text, error=body["error"], status=response.status_code, operation=operation
        )
    return error_from_response(response, operation=operation)


async def exchange_code(
    *,
    http: httpx.AsyncClient,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    code: str,
    login_url: str = DEFAULT_LOGIN_URL,
    code_verifier: str | None = None,
) -> TokenResponse:
    """Trade the callback's `code` for an access token (form POST, §3).

    Never retried: the code is single-use and short-lived, so a retry after
    an unknown outcome can only fail; the user reconnects instead.
    """
    form = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": redirect_uri,
        "code": code,
    }
    if code_verifier is not None:
        form["code_verifier"] = code_verifier
    request = http.build_request(
        "POST",
        f"{login_url.rstrip('/')}/oauth2/token",
        data=form,
        headers={"Accept": "application/json"},
    )
    response = await send(http, request, operation=_TOKEN_OPERATION, auth=None)
    if response.status_code >= 400:
        raise _oauth_error(response, operation=_TOKEN_OPERATION)
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not body.get("access_token"):
        raise OAuthError("the response carries no access_token", operation=_TOKEN_OPERATION)
    try:
        return TokenResponse.model_validate(body)
    except PydanticValidationError:
        raise OAuthError("unexpected token response", operation=_TOKEN_OPERATION) from None


def check_api_endpoint(endpoint: str, *, allowed_api_bases: Sequence[str] = ()) -> str:
    """Return `endpoint` (without a trailing slash) if we may send tokens there.

    Allowed: `https://<dc>.api.mailchimp.com`, or a URL under one of
    `allowed_api_bases` (same scheme, host and port; path below the base).
    """
    endpoint = endpoint.strip().rstrip("/")
    if _MAILCHIMP_API_ENDPOINT.match(endpoint):
        return endpoint
    try:
        url = httpx.URL(endpoint)
    except httpx.InvalidURL:
        url = None
    if url is not None and not url.userinfo and not url.query and not url.fragment:
        for base in allowed_api_bases:
            allowed = httpx.URL(base.rstrip("/"))
            prefix = allowed.path.rstrip("/") + "/"
            if (url.scheme, url.host, url.port) == (
                allowed.scheme,
                allowed.host,
                allowed.port,
            ) and (url.path + "/").startswith(prefix):
                return endpoint
    raise OAuthError(
        "Mailchimp's metadata named an API endpoint that is not a Mailchimp API host; "
        "refusing to send the token there",
        error="untrusted_api_endpoint",
    )


async def fetch_metadata(
    *,
    http: httpx.AsyncClient,
    access_token: str,
    login_url: str = DEFAULT_LOGIN_URL,
    allowed_api_bases: Sequence[str] = (),
) -> OAuthMetadata:
    """Who authorized us and where their API lives (`Authorization: OAuth <token>`, §3).

    A bad token may get a *200* with `{"error": "invalid_token"}` or with no
    `api_endpoint`: both are `OAuthError` (an `AuthenticationError`).
    """
    request = http.build_request(
        "GET",
        f"{login_url.rstrip('/')}/oauth2/metadata",
        headers={"Authorization": f"OAuth {access_token}", "Accept": "application/json"},
    )
    response = await send(http, request, operation=_METADATA_OPERATION, auth=None)
    if response.status_code >= 400:
        raise _oauth_error(response, operation=_METADATA_OPERATION)
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise OAuthError("the response is not a JSON object", operation=_METADATA_OPERATION)
    if isinstance(body.get("error"), str):
        raise _oauth_error(response, operation=_METADATA_OPERATION)
    if not isinstance(body.get("api_endpoint"), str) or not body.get("dc"):
        raise OAuthError(
            "no api_endpoint in the response (invalid token?)",
            error="invalid_token",
            operation=_METADATA_OPERATION,
        )
    body["api_endpoint"] = check_api_endpoint(
        body["api_endpoint"], allowed_api_bases=allowed_api_bases
    )
    try:
        return OAuthMetadata.model_validate(body)
    except PydanticValidationError:
        raise OAuthError("unexpected metadata response", operation=_METADATA_OPERATION) from None
