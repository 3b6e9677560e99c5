"""A world to test chimplink's web app and lifecycle in: real emulator, real app, real database.

- `Mailchimp`: the emulator, in-process. chimplink reaches it through a
  `RecordingTransport` (every request chimplink sends to Mailchimp is kept, so
  tests can count token requests, API calls, hosts); the emulator's outgoing
  webhook validation reaches chimplink's app in-process too.
- `World`: settings, the web app with its lifespan entered (the job runner
  off: tests run the worker themselves), its `Services`, and `Browser`s — one
  httpx client with its own cookie jar per simulated browser.
- `connect_account()`: the whole OAuth dance as a browser does it (Connect →
  Mailchimp's consent, scripted with decision=allow → the callback).

Everything else is plain HTTP against the app and the emulator.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI

from chimplink.config import Settings
from chimplink.connect import Services
from chimplink.emulator import EmulatorApp
from chimplink.emulator import create_app as create_emulator
from chimplink.emulator.testing import Control
from chimplink.store import TokenCipher, upgrade_async
from chimplink.web import create_app, mint_link

PUBLIC_URL = "http://chimplink.test"
MAILCHIMP_URL = "http://mailchimp.test"
CLIENT_ID = "chimplink-tests"
CLIENT_SECRET = "client-secret-for-tests-3c1d"
REDIRECT_URI = f"{PUBLIC_URL}/oauth/callback"

LIST_BODY: dict[str, Any] = {
    "permission_reminder": "You signed up on our platform.",
    "email_type_option": False,
    "contact": {
        "company": "Test Co",
        "address1": "1 Test Street",
        "city": "Atlanta",
        "state": "GA",
        "zip": "30308",
        "country": "US",
    },
    "campaign_defaults": {
        "from_name": "Test Co",
        "from_email": "hello@test-co.example",
        "subject": "News",
        "language": "en",
    },
}


class DeferredASGITransport(httpx.AsyncBaseTransport):
    """An ASGI transport whose app is set after construction (two apps that call each other)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.app is None:
            raise httpx.ConnectError("nothing is listening yet", request=request)
        return await httpx.ASGITransport(app=self.app).handle_async_request(request)


@dataclass
class Sent:
    method: str
    url: httpx.URL
    body: bytes
    headers: httpx.Headers

    @property
    def path(self) -> str:
        return self.url.path

    def form(self) -> dict[str, str]:
        return dict(httpx.QueryParams(self.body.decode()))


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes every request to `inner` and keeps a copy (a recorder, not a fake)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[Sent] = []
        # Paths that are "down": the request never gets an answer (a network failure).
        self.unreachable: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.sent.append(Sent(request.method, request.url, body, request.headers))
        if any(request.url.path.startswith(path) for path in self.unreachable):
            raise httpx.ConnectError("connection refused (test: unreachable)", request=request)
        return await self.inner.handle_async_request(request)

    def token_requests(self) -> list[Sent]:
        return [s for s in self.sent if s.path == "/oauth2/token"]

    def api_requests(self) -> list[Sent]:
        return [s for s in self.sent if "/3.0" in s.path]

    def mark(self) -> int:
        return len(self.sent)

    def since(self, mark: int) -> list[Sent]:
        return self.sent[mark:]


@dataclass
class Mailchimp:
    app: EmulatorApp
    client: httpx.AsyncClient  # what a browser or a test uses to talk to the emulator
    transport: RecordingTransport  # what chimplink uses
    webhook_target: DeferredASGITransport

    @property
    def control(self) -> Control:
        return Control(self.client)

    async def account(self, name: str, email: str) -> dict[str, Any]:
        return await self.control.create_account(name, email=email)

    async def create_list(self, token: str, name: str) -> str:
        response = await self.client.post(
            "/3.0/lists",
            headers={"Authorization": f"Bearer {token}"},
            json={"name": name, **LIST_BODY},
        )
        assert response.status_code == 200, response.text
        list_id: str = response.json()["id"]
        return list_id

    async def webhooks(self, token: str, list_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/3.0/lists/{list_id}/webhooks", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        hooks: list[dict[str, Any]] = response.json()["webhooks"]
        return hooks

    async def oauth_stats(self) -> dict[str, int]:
        response = await self.client.get("/_emulator/oauth-stats")
        stats: dict[str, int] = response.json()["clients"][CLIENT_ID]
        return stats

    async def api_stats(self) -> dict[str, Any]:
        return await self.control.stats()

    async def script_fault(self, operation: str, fault: str, count: int = 1) -> None:
        response = await self.client.post(
            "/_emulator/faults", json={"operation": operation, "fault": fault, "count": count}
        )
        assert response.status_code == 200, response.text


@asynccontextmanager
async def emulated_mailchimp(**config: Any) -> AsyncIterator[Mailchimp]:
    target = DeferredASGITransport()
    app = create_emulator(webhook_transport=target, **config)
    inner = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=inner, base_url=MAILCHIMP_URL) as client:
        mailchimp = Mailchimp(app, client, RecordingTransport(inner), target)
        await mailchimp.control.create_oauth_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])
        try:
            yield mailchimp
        finally:
            await app.aclose()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "public_url": PUBLIC_URL,
        "mailchimp_client_id": CLIENT_ID,
        "mailchimp_client_secret": CLIENT_SECRET,
        "mailchimp_login_url": MAILCHIMP_URL,
        "mailchimp_api_url": MAILCHIMP_URL,
        "platform_secret": secrets.token_urlsafe(32),
        "session_secret": secrets.token_urlsafe(32),
        "secret_keys": TokenCipher.generate_key(),
        "log_format": "json",
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Browser:
    """One browser: its own cookie jar (session), talking to the web app."""

    world: World
    client: httpx.AsyncClient

    async def enter(self, tenant: str, name: str = "Ann Platform") -> httpx.Response:
        link = mint_link(
            public_url=PUBLIC_URL,
            platform_secret=self.world.platform_secret,
            tenant=tenant,
            name=name,
        )
        response = await self.client.get(link)
        assert response.status_code == 303, response.text
        return response

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.post(url, **kwargs)

    async def csrf_from(self, url: str) -> str:
        page = await self.client.get(url)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, f"no CSRF token on {url}: {page.status_code} {page.text[:300]}"
        return match.group(1)

    async def connect(
        self, email: str, *, return_to: str | None = None, decision: str = "allow"
    ) -> httpx.Response:
        """Connect → consent at Mailchimp (scripted) → the callback's response."""
        start = "/connect" + (f"?return_to={quote(return_to, safe='')}" if return_to else "")
        started = await self.client.get(start)
        assert started.status_code == 303, started.text
        callback = await self.world.consent(started.headers["location"], email, decision)
        return await self.client.get(callback)


@dataclass
class World:
    settings: Settings
    mailchimp: Mailchimp
    app: FastAPI
    browsers: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def services(self) -> Services:
        services: Services = self.app.state.chimplink.services
        return services

    @property
    def platform_secret(self) -> str:
        assert self.settings.platform_secret is not None
        return self.settings.platform_secret.get_secret_value()

    @property
    def transport(self) -> RecordingTransport:
        return self.mailchimp.transport

    def browser(self) -> Browser:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=PUBLIC_URL)
        self.browsers.append(client)
        return Browser(self, client)

    async def consent(self, authorize_url: str, email: str, decision: str = "allow") -> str:
        """What the user does on Mailchimp's consent page; returns where Mailchimp sends them."""
        authorize = httpx.URL(authorize_url)
        assert authorize.host == httpx.URL(MAILCHIMP_URL).host
        form = {**dict(authorize.params), "decision": decision, "login_hint": email}
        response = await self.mailchimp.client.post("/oauth2/authorize", data=form)
        assert response.status_code == 302, response.text
        location: str = response.headers["location"]
        return location

    async def code_for(self, email: str, state: str = "unused") -> str:
        """A genuine code, from a flow chimplink never started (an attacker's own consent)."""
        authorize = (
            f"{MAILCHIMP_URL}/oauth2/authorize?response_type=code&client_id={CLIENT_ID}"
            f"&redirect_uri={quote(REDIRECT_URI, safe='')}&state={state}"
        )
        location = httpx.URL(await self.consent(authorize, email))
        return str(location.params["code"])


@asynccontextmanager
async def open_world(
    database_url: str,
    *,
    emulator: dict[str, Any] | None = None,
    run_jobs: bool = False,
    **settings: Any,
) -> AsyncIterator[World]:
    await upgrade_async(database_url)
    async with emulated_mailchimp(**(emulator or {})) as mailchimp:
        config = make_settings(database_url, **settings)
        app = create_app(config, mailchimp_transport=mailchimp.transport, run_jobs=run_jobs)
        mailchimp.webhook_target.app = app
        world = World(config, mailchimp, app)
        async with app.router.lifespan_context(app):
            try:
                yield world
            finally:
                for client in world.browsers:
                    await client.aclose()


# -- inspecting chimplink's database -------------------------------------------------


async def installations_of(world: World, tenant: str) -> list[Any]:
    from chimplink.store import get_tenant_by_external_id, list_installations

    async with world.services.sessions() as session:
        found = await get_tenant_by_external_id(session=session, external_id=tenant)
        if found is None:
            return []
        return await list_installations(session=session, tenant_id=found.id)


async def token_of(world: World, installation_id: str) -> str:
    from chimplink.store import get_access_token

    async with world.services.sessions() as session:
        token = await get_access_token(
            session=session, cipher=world.services.cipher, installation_id=installation_id
        )
    return token.get_secret_value()


async def row_counts(world: World) -> dict[str, int]:
    """Rows per table (what 'nothing stored' is checked against)."""
    from tests.store.helpers import dump_tables

    return {name: len(rows) for name, rows in (await dump_tables(world.services.engine)).items()}


def csrf_in(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, f"no CSRF token: {page.status_code} {page.text[:300]}"
    return match.group(1)
