"""Mailchimp's OAuth 2 rules (login.mailchimp.com), apart from the web layer.

What is checked, and why (REFERENCE.md §3, research/reliability.md §1.1):
- `redirect_uri` must equal one registered for the client, byte for byte:
  Mailchimp has matched exactly since 2020-08-11, and RFC 9700 §4.1.3 requires
  it. A bad client or redirect never redirects (RFC 6749 §4.1.2.1): sending the
  user to an unverified URI would make the emulator an open redirector.
- Codes are single-use and expire after `config.code_ttl_s` (30 s, as
  Mailchimp's own sample says). A code used twice is refused, and the token
  issued from it is revoked (RFC 6749 §4.1.2, RFC 9700 §4.2.4): Mailchimp's
  behaviour here is not documented, and revoking is the safe reading, so a
  client that exchanges a code twice (a refreshed callback) finds out here.
  A failed exchange (wrong client, wrong redirect_uri) does not use the code
  up, so a stranger holding a code cannot burn it for its rightful client.
  Used and expired codes are kept until reset, to recognise replays.
- Tokens never expire and carry no scope: `{"access_token", "expires_in": 0,
  "scope": null}`.

State lives in the backend (`oauth_clients`, `auth_codes`, `tokens`), so
`POST /_emulator/reset` forgets it with everything else.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chimplink.emulator.backend import Account, AuthCode, Backend, OAuthClient

# Query/form parameters of the authorization request. RFC 6749 §3.1: each may
# appear at most once; a repeated redirect_uri is the classic parameter
# pollution trick, so a repeat is refused rather than resolved.
AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    # PKCE is not documented by Mailchimp (§3, §14): carried through the
    # consent form so a client sending it sees no difference, then ignored.
    "code_challenge",
    "code_challenge_method",
)
TOKEN_PARAMS = ("grant_type", "client_id", "client_secret", "redirect_uri", "code")
ConsentParams = Mapping[str, list[str]]


class AuthorizeError(Exception):
    """The authorization request cannot be trusted: shown as a 400 page, never redirected."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(f"{title}: {detail}")
        self.title = title
        self.detail = detail


class TokenError(Exception):
    """An RFC 6749 §5.2 error of the token endpoint."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated authorization request: the client, its exact redirect, what to echo."""

    client: OAuthClient
    redirect_uri: str
    # None when the client sent no `state` (echoed only if sent, RFC 6749 §4.1.2).
    state: str | None
    # Every authorization parameter present, to carry through the consent form.
    carried: tuple[tuple[str, str], ...]


def single_values(params: ConsentParams, names: Iterable[str]) -> dict[str, str | None] | str:
    """The value of each named parameter (None if absent), or the name of one repeated."""
    values: dict[str, str | None] = {}
    for name in names:
        found = params.get(name, [])
        if len(found) > 1:
            return name
        values[name] = found[0] if found else None
    return values


def registered_client(backend: Backend, client_id: str | None) -> OAuthClient | None:
    """The registered client, or None for an unknown client_id."""
    if not client_id:
        return None
    return backend.oauth_clients.get(client_id)


def check_authorization_request(backend: Backend, params: ConsentParams) -> AuthorizationRequest:
    """Validate client_id, redirect_uri and response_type, in the order a user can act on."""
    values = single_values(params, AUTHORIZE_PARAMS)
    if isinstance(values, str):
        raise AuthorizeError(
            "Invalid authorization request",
            f"The parameter {values} was given more than once.",
        )
    client_id = values["client_id"]
    if not client_id:
        raise AuthorizeError("Unknown application", "The request names no client_id.")
    client = backend.oauth_clients.get(client_id)
    if client is None:
        raise AuthorizeError(
            "Unknown application", f"No application is registered with client_id {client_id}."
        )
    redirect_uri = values["redirect_uri"]
    if not redirect_uri:
        raise AuthorizeError(
            "Invalid redirect URI", "The request names no redirect_uri for this application."
        )
    # Exact string comparison, as Mailchimp since 2020-08-11 (REFERENCE.md §3).
    if redirect_uri not in client.redirect_uris:
        raise AuthorizeError(
            "Invalid redirect URI",
            "The redirect_uri does not match any redirect URI registered for this application.",
        )
    response_type = values["response_type"]
    if response_type != "code":
        raise AuthorizeError(
            "Unsupported response type",
            "Only response_type=code (the authorization code flow) is supported.",
        )
    carried = tuple((name, value) for name, value in values.items() if value is not None)
    return AuthorizationRequest(
        client=client, redirect_uri=redirect_uri, state=values["state"], carried=carried
    )


def find_account(
    backend: Backend, *, account_id: str | None, login_hint: str | None
) -> Account | None:
    """The account chosen by id, or by its login email (`login_hint`, case-insensitive)."""
    if account_id:
        return backend.accounts.get(account_id)
    if login_hint:
        wanted = login_hint.strip().casefold()
        for account in backend.iter_accounts():
            if account.record.email.casefold() == wanted:
                return account
    return None


def issue_code(backend: Backend, *, request: AuthorizationRequest, account: Account) -> str:
    """A fresh single-use code for `account`, bound to the client and the exact redirect."""
    code = secrets.token_urlsafe(32)
    backend.auth_codes[code] = AuthCode(
        code=code,
        client_id=request.client.client_id,
        redirect_uri=request.redirect_uri,
        account_id=account.account_id,
        expires_at=backend.clock() + backend.config.code_ttl_s,
    )
    request.client.codes_issued += 1
    return code


def exchange_code(backend: Backend, form: ConsentParams) -> str:
    """Run the token request (RFC 6749 §4.1.3); return the access token or raise TokenError."""
    values = single_values(form, TOKEN_PARAMS)
    if isinstance(values, str):
        raise TokenError(
            400, "invalid_request", f"The parameter {values} was given more than once."
        )
    client = registered_client(backend, values["client_id"])
    if client is not None:
        client.token_requests += 1
    grant_type = values["grant_type"]
    if not grant_type:
        raise TokenError(400, "invalid_request", "grant_type is required.")
    if grant_type != "authorization_code":
        raise TokenError(
            400, "unsupported_grant_type", "Only grant_type=authorization_code is supported."
        )
    secret = values["client_secret"] or ""
    if client is None or not hmac.compare_digest(
        secret.encode("utf-8"), client.client_secret.encode("utf-8")
    ):
        # One answer for an unknown client and a wrong secret: no client enumeration.
        raise TokenError(401, "invalid_client", "Client authentication failed.")
    code = backend.auth_codes.get(values["code"] or "")
    if code is None or code.client_id != client.client_id:
        # A code of another client is not burnt: its rightful client may still use it.
        raise TokenError(400, "invalid_grant", "The authorization code is invalid.")
    if code.used:
        if code.access_token is not None:
            backend.revoke(code.access_token)
        raise TokenError(400, "invalid_grant", "The authorization code has already been used.")
    if backend.clock() >= code.expires_at:
        raise TokenError(400, "invalid_grant", "The authorization code has expired.")
    if values["redirect_uri"] != code.redirect_uri:
        raise TokenError(
            400,
            "invalid_grant",
            "The redirect_uri does not match the one the authorization code was issued for.",
        )
    code.used = True
    token = backend.issue_token(
        account_id=code.account_id, kind="oauth", client_id=client.client_id
    )
    code.access_token = token
    client.tokens_issued += 1
    return token


def token_response(access_token: str) -> dict[str, Any]:
    """Mailchimp's token answer: no expiry, no refresh token, `scope` explicitly null (§3)."""
    return {"access_token": access_token, "expires_in": 0, "scope": None}


def metadata(backend: Backend, *, token: str | None, base_url: str) -> dict[str, Any]:
    """`GET /oauth2/metadata` for an OAuth token; `{"error": "invalid_token"}` otherwise.

    Only OAuth tokens qualify (an API key is not one). `user_id` is the
    account_id of the API root, so a client can tie the two together; Mailchimp
    sends a numeric id there, which no known client parses as a number.
    """
    record = backend.tokens.get(token) if token else None
    account = backend.account_for_token(token) if token else None
    if record is None or record.kind != "oauth" or account is None:
        return {"error": "invalid_token"}
    info = account.record
    return {
        "dc": info.dc,
        "role": info.role,
        "accountname": info.account_name,
        "user_id": info.account_id,
        "login": {
            "email": info.email,
            "avatar": None,
            "login_id": info.login_id,
            "login_name": info.username,
            "login_email": info.email,
        },
        "login_url": f"{base_url}/",
        # No /3.0 suffix: clients append it (REFERENCE.md §3).
        "api_endpoint": f"{base_url}/{info.dc}",
    }


def oauth_stats(backend: Backend) -> dict[str, Any]:
    """Counters of every registered client (zeros for one never used)."""
    return {
        "clients": {
            client_id: client.counters() for client_id, client in backend.oauth_clients.items()
        }
    }
