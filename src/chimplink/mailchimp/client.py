"""`MailchimpClient`: one async gateway for every call to Mailchimp's Marketing API.

    limiter = LocalLimiter(limit=5)                 # one per process, from the lifespan
    async with httpx.AsyncClient() as http:         # shared connection pool
        client = MailchimpClient(access_token=token, api_endpoint=meta.api_endpoint,
                                 account_key=installation_id, http_client=http,
                                 limiter=limiter, observer=metrics)
        member = await client.lists.members.upsert(list_id, "ann@example.com",
                                                   status_if_new="subscribed")

The client is cheap: build one per account and call, sharing the http client,
the limiter, the retry policy and the observer. Shape: client → services per
resource group → one `Requestor` → the httpx transport (stripe-python's
layout; tests mount `httpx.MockTransport` or the emulator's ASGI app).
"""

from __future__ import annotations

import functools
from types import TracebackType

import httpx

from chimplink.mailchimp._requestor import DEFAULT_TIMEOUT, Requestor
from chimplink.mailchimp.accounting import CallObserver
from chimplink.mailchimp.auth import ApiKeyAuth, OAuthTokenAuth
from chimplink.mailchimp.batches import BatchesService
from chimplink.mailchimp.limiter import ConcurrencyLimiter, LocalLimiter
from chimplink.mailchimp.models.account import OAuthMetadata, Ping
from chimplink.mailchimp.retry import RetryPolicy
from chimplink.mailchimp.services.batch_webhooks import BatchWebhooksService
from chimplink.mailchimp.services.campaigns import CampaignsService, ReportsService
from chimplink.mailchimp.services.ecommerce import EcommerceService
from chimplink.mailchimp.services.file_manager import FileManagerService
from chimplink.mailchimp.services.lists import ListsService
from chimplink.mailchimp.services.root import RootService
from chimplink.mailchimp.services.webhooks import WebhooksService

__all__ = ["SINGLE_HOST", "MailchimpClient", "resolve_base_url"]

SINGLE_HOST = "https://api.mailchimp.com"
"""The 2026 docs' one host for every account (REFERENCE.md §2)."""

API_VERSION_PATH = "/3.0"


@functools.cache
def _user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"chimplink/{version('chimplink')}"
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "chimplink"


def resolve_base_url(
    *,
    base_url: str | None = None,
    api_endpoint: str | None = None,
    datacenter: str | None = None,
) -> str:
    """The API root (ending in /3.0), first match wins (REFERENCE.md §2-§3):

    1. `base_url`, an explicit override (the emulator, a proxy); "/3.0" is
       appended unless present;
    2. `api_endpoint` from the OAuth metadata (`https://us6.api.mailchimp.com`),
       which has no "/3.0" suffix;
    3. an API key's data center (`https://{dc}.api.mailchimp.com`);
    4. the single host `https://api.mailchimp.com`.
    """
    if base_url:
        root = base_url.rstrip("/")
    elif api_endpoint:
        root = api_endpoint.rstrip("/")
    elif datacenter:
        root = f"https://{datacenter}.api.mailchimp.com"
    else:
        root = SINGLE_HOST
    return root if root.endswith(API_VERSION_PATH) else root + API_VERSION_PATH


class MailchimpClient:
    """The Marketing API for one Mailchimp account.

    Credentials: exactly one of `access_token` (OAuth, Bearer), `api_key`
    (Basic; its suffix names the data center) or `auth` (any `httpx.Auth`,
    then `account_key` is required).

    `account_key` names the account for the limiter and call accounting; pass
    something stable per Mailchimp user (the installation id, or the
    metadata's `user_id`). The default is a fingerprint of the credential,
    never the credential itself.

    `http_client` is borrowed (never closed here); without one the client
    owns a new `httpx.AsyncClient` (on `transport`, if given) and closes it in
    `aclose()`. `limiter` should be the process's shared limiter; without one
    the client gets a private `LocalLimiter` (10 slots).
    """

    root: RootService
    lists: ListsService
    webhooks: WebhooksService
    file_manager: FileManagerService
    ecommerce: EcommerceService
    batches: BatchesService
    batch_webhooks: BatchWebhooksService
    campaigns: CampaignsService
    reports: ReportsService

    def __init__(
        self,
        *,
        access_token: str | None = None,
        api_key: str | None = None,
        auth: httpx.Auth | None = None,
        api_endpoint: str | None = None,
        base_url: str | None = None,
        account_key: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: ConcurrencyLimiter | None = None,
        retry: RetryPolicy | None = None,
        observer: CallObserver | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        given = [x for x in (access_token, api_key, auth) if x is not None]
        if len(given) != 1:
            raise ValueError("pass exactly one of access_token, api_key or auth")
        datacenter: str | None = None
        if access_token is not None:
            token_auth = OAuthTokenAuth(access_token)
            chosen: httpx.Auth = token_auth
            default_key = f"oauth:{token_auth.fingerprint}"
        elif api_key is not None:
            key_auth = ApiKeyAuth(api_key)
            chosen = key_auth
            datacenter = key_auth.datacenter
            default_key = f"apikey:{key_auth.fingerprint}"
        else:
            assert auth is not None
            if account_key is None:
                raise ValueError("account_key is required with a custom auth")
            chosen = auth
            default_key = account_key
        if http_client is not None and transport is not None:
            raise ValueError("pass http_client or transport, not both")
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            transport=transport, timeout=timeout, follow_redirects=False
        )
        self.base_url = resolve_base_url(
            base_url=base_url, api_endpoint=api_endpoint, datacenter=datacenter
        )
        self.account_key = account_key or default_key
        self._requestor = Requestor(
            http=self._http,
            base_url=self.base_url,
            auth=chosen,
            account_key=self.account_key,
            limiter=limiter if limiter is not None else LocalLimiter(),
            retry=retry if retry is not None else RetryPolicy(),
            observer=observer,
            timeout=timeout,
            user_agent=_user_agent(),
        )
        requestor = self._requestor
        self.root = RootService(requestor)
        self.lists = ListsService(requestor)
        self.webhooks = self.lists.webhooks
        self.file_manager = FileManagerService(requestor)
        self.ecommerce = EcommerceService(requestor)
        self.batches = BatchesService(requestor)
        self.batch_webhooks = BatchWebhooksService(requestor)
        self.campaigns = CampaignsService(requestor)
        self.reports = ReportsService(requestor)

    @classmethod
    def from_metadata(
        cls,
        metadata: OAuthMetadata,
        *,
        access_token: str,
        http_client: httpx.AsyncClient | None = None,
        limiter: ConcurrencyLimiter | None = None,
        retry: RetryPolicy | None = None,
        observer: CallObserver | None = None,
        account_key: str | None = None,
    ) -> MailchimpClient:
        """A client on the metadata's (already pinned, see oauth.py) `api_endpoint`."""
        return cls(
            access_token=access_token,
            api_endpoint=metadata.api_endpoint,
            http_client=http_client,
            limiter=limiter,
            retry=retry,
            observer=observer,
            account_key=account_key,
        )

    @property
    def limiter(self) -> ConcurrencyLimiter:
        return self._requestor.limiter

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._requestor.retry

    async def ping(self) -> Ping:
        return await self.root.ping()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> MailchimpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"MailchimpClient(base_url={self.base_url!r}, account_key={self.account_key!r})"
