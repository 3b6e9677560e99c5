"""Connecting a Mailchimp account: OAuth 2 authorization code flow (REFERENCE.md §3).

`start_connect()` stores a random, single-use, expiring `state` bound to the
browser session (and a PKCE verifier, encrypted) and returns the authorize URL.
`finish_connect()` runs the callback, in an order that fails closed:

1. consume the state (atomic, committed at once: a state is burnt by its
   first use, whatever happens next). A missing, unknown, used, expired or
   foreign state stops here — **no token request is made**;
2. `error=access_denied` (the user chose Deny) stops here;
3. exchange the code, sending the same `redirect_uri` and the PKCE verifier
   (Mailchimp documents no PKCE; it costs nothing and state is not replaced);
4. learn where the account's API lives: the metadata's `api_endpoint`,
   pinned to Mailchimp's hosts (or the configured base), or the single host;
5. identify the account with the API root, then store the installation
   (reconnecting the same account updates it, never duplicates it).

Any failure in 3-5 raises before anything is stored. The return path comes
from the stored state, never from the callback's query.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

import structlog

from chimplink.connect.errors import AccessDenied, AuthorizationFailed, InvalidState
from chimplink.connect.services import Services
from chimplink.mailchimp import (
    MailchimpClient,
    MailchimpError,
    authorize_url,
    exchange_code,
    fetch_metadata,
)
from chimplink.store import (
    ConsumedState,
    Installation,
    StateRejected,
    consume_oauth_state,
    get_tenant,
    issue_oauth_state,
    save_installation,
)

__all__ = ["Connected", "finish_connect", "pkce_challenge", "start_connect"]

_log = structlog.get_logger("chimplink.connect")


@dataclass(frozen=True)
class Connected:
    installation: Installation
    created: bool  # False: an existing installation of this account was reconnected
    return_to: str  # a same-origin path, as validated when the flow started


@dataclass(frozen=True)
class _Identity:
    account_id: str
    login_id: str
    login_email: str = field(repr=False)
    account_name: str
    dc: str
    api_base: str


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def start_connect(
    services: Services, *, tenant_id: str, session_binding: str, return_to: str = "/"
) -> str:
    """Store a new state for this browser session; return Mailchimp's authorize URL.

    `return_to` must already be a validated same-origin path (the web layer
    checks it; the store refuses obvious non-paths as a second line).
    """
    oauth = services.require_oauth()
    async with services.sessions.begin() as session:
        issued = await issue_oauth_state(
            session=session,
            cipher=services.cipher,
            tenant_id=tenant_id,
            session_binding=session_binding,
            return_to=return_to,
            now=services.clock(),
        )
    return authorize_url(
        client_id=oauth.client_id,
        redirect_uri=oauth.redirect_uri,
        state=issued.state,
        login_url=oauth.login_url,
        code_challenge=pkce_challenge(issued.code_verifier.get_secret_value()),
    )


async def _consume(services: Services, *, state: str, session_binding: str) -> ConsumedState:
    async with services.sessions.begin() as session:
        try:
            return await consume_oauth_state(
                session=session,
                cipher=services.cipher,
                state=state,
                session_binding=session_binding,
                now=services.clock(),
            )
        except StateRejected as exc:
            raise InvalidState(reason=f"state {exc.reason}") from None


async def _identify(services: Services, access_token: str) -> _Identity:
    oauth = services.require_oauth()
    single_host = services.config.single_host_api
    if single_host is not None:
        api_base, dc = single_host, ""
    else:
        metadata = await fetch_metadata(
            http=services.http,
            access_token=access_token,
            login_url=oauth.login_url,
            allowed_api_bases=services.config.allowed_api_bases,
        )
        api_base, dc = metadata.api_endpoint, metadata.dc
    client = MailchimpClient(
        access_token=access_token,
        api_endpoint=api_base,
        http_client=services.http,
        limiter=services.limiter,
        retry=services.interactive_retry,
    )
    info = await client.root.get(fields=["account_id", "login_id", "account_name", "email"])
    if not info.account_id:
        raise AuthorizationFailed(reason="the API root names no account_id")
    return _Identity(
        account_id=info.account_id,
        login_id=info.login_id or "",
        login_email=info.email or "",
        account_name=info.account_name or "Mailchimp account",
        dc=dc,
        api_base=api_base,
    )


async def finish_connect(
    services: Services,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
    session_binding: str | None,
) -> Connected:
    """Run the OAuth callback (see the module docstring). Raises a `ConnectError`."""
    oauth = services.require_oauth()
    if not state or not session_binding:
        raise InvalidState(reason="no state" if not state else "no browser session")
    consumed = await _consume(services, state=state, session_binding=session_binding)
    if error is not None:
        if error == "access_denied":
            raise AccessDenied(reason="the user denied access")
        raise AuthorizationFailed(reason="Mailchimp returned an error instead of a code")
    if not code:
        raise AuthorizationFailed(reason="no code")
    try:
        token = await exchange_code(
            http=services.http,
            client_id=oauth.client_id,
            client_secret=oauth.client_secret.get_secret_value(),
            redirect_uri=oauth.redirect_uri,
            code=code,
            login_url=oauth.login_url,
            code_verifier=consumed.code_verifier.get_secret_value(),
        )
        identity = await _identify(services, token.access_token.get_secret_value())
    except MailchimpError as exc:
        status = exc.status if exc.status is not None else "no response"
        _log.warning(
            "connect.authorization_failed",
            tenant_id=consumed.tenant_id,
            error=type(exc).__name__,
            status=status,
            operation=exc.operation,
        )
        raise AuthorizationFailed(reason=f"{type(exc).__name__} ({status})") from exc
    async with services.sessions.begin() as session:
        tenant = await get_tenant(session=session, tenant_id=consumed.tenant_id)
        if tenant is None:  # deleted meanwhile: store nothing
            raise InvalidState(reason="tenant gone")
        saved = await save_installation(
            session=session,
            cipher=services.cipher,
            tenant_id=tenant.id,
            account_id=identity.account_id,
            login_id=identity.login_id,
            login_email=identity.login_email,
            account_name=identity.account_name,
            dc=identity.dc,
            api_base=identity.api_base,
            access_token=token.access_token,
            now=services.clock(),
        )
    _log.info(
        "connect.connected" if saved.created else "connect.reconnected",
        tenant_id=tenant.id,
        installation_id=saved.installation.id,
    )
    return Connected(
        installation=saved.installation, created=saved.created, return_to=consumed.return_to
    )
