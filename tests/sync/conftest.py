"""Fixtures for the sync engine: a migrated database (SQLite and PostgreSQL), an
installation, the emulator in-process with one account and audience, a client
whose every request and response is recorded, and the in-memory connector.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from chimplink.emulator import EmulatorApp, create_app
from chimplink.mailchimp import LocalLimiter, MailchimpClient, RetryPolicy
from chimplink.store.crypto import TokenCipher
from chimplink.store.sync_config import save_sync_config
from chimplink.sync import SyncOptions, SyncReport, run_sync
from tests.store.conftest import cipher, database_url, db, postgres_admin
from tests.store.helpers import Db, connect
from tests.sync.connector import DEFAULT_MAP, MemoryConnector

__all__ = ["cipher", "database_url", "db", "postgres_admin"]

BASE = "http://mailchimp.test"
LIST_BODY: dict[str, Any] = {
    "name": "Bakery Customers",
    "contact": {
        "company": "Bakery",
        "address1": "1 Flour Street",
        "city": "Atlanta",
        "state": "GA",
        "zip": "30308",
        "country": "US",
    },
    "permission_reminder": "You bought bread from us.",
    "campaign_defaults": {
        "from_name": "Bakery",
        "from_email": "news@bakery.example.com",
        "subject": "Fresh bread",
        "language": "en",
    },
    "email_type_option": False,
}
BATCH_SUBSCRIBE = "POST /lists/{list_id}"


async def no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


# Retries never really wait; at a 10% fault rate 12 attempts practically always succeed.
FAST_RETRIES = RetryPolicy(sleep=no_sleep, max_attempts=12, deadline=None)
FAST_OPTIONS = SyncOptions(sleep=no_sleep, retry_delay=0.0)


@dataclass
class Exchange:
    method: str
    path: str
    body: Any
    status: int | None = None
    response: Any = None


class RecordingTransport(httpx.AsyncBaseTransport):
    """Delegates to the emulator and keeps every request body and JSON response."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        exchange = Exchange(request.method, request.url.path, body)
        self.exchanges.append(exchange)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        exchange.status = response.status_code
        if response.headers.get("content-type", "").startswith(
            ("application/json", "application/problem")
        ):
            try:
                exchange.response = json.loads(response.content)
            except ValueError:
                exchange.response = None
        return response


@dataclass
class Env:
    db: Db
    app: EmulatorApp
    http: httpx.AsyncClient
    token: str
    api_key: str
    account_id: str
    list_id: str
    installation_id: str
    connector: MemoryConnector
    transport: RecordingTransport
    options: SyncOptions = FAST_OPTIONS
    reports: list[SyncReport] = field(default_factory=list)
    setup_writes: Counter[str] = field(default_factory=Counter)

    @property
    def headers(self) -> dict[str, str]:
        # The account's API key: still valid when a test revokes chimplink's OAuth token.
        return {"Authorization": f"Bearer {self.api_key}"}

    def client(self, **overrides: Any) -> MailchimpClient:
        settings: dict[str, Any] = {
            "access_token": self.token,
            "base_url": BASE,
            "transport": self.transport,
            "retry": FAST_RETRIES,
            "limiter": LocalLimiter(),
            "account_key": self.installation_id,
        }
        settings.update(overrides)
        return MailchimpClient(**settings)

    async def configure(self, **settings: Any) -> None:
        values: dict[str, Any] = {"list_id": self.list_id, "field_map": DEFAULT_MAP}
        values.update(settings)
        async with self.db.sessions.begin() as session:
            await save_sync_config(session=session, installation_id=self.installation_id, **values)

    async def sync(self, **kwargs: Any) -> SyncReport:
        kwargs.setdefault("options", self.options)
        async with self.client() as client:
            report = await run_sync(
                sessions=self.db.sessions,
                installation_id=self.installation_id,
                client=client,
                connector=self.connector,
                **kwargs,
            )
        self.reports.append(report)
        return report

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, f"/3.0{path}", headers=self.headers, **kwargs)

    async def members(self) -> dict[str, dict[str, Any]]:
        """Every member of the audience, by lowercased address."""
        found: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            page = (
                await self.api(
                    "GET",
                    f"/lists/{self.list_id}/members",
                    params={"count": 1000, "offset": offset},
                )
            ).json()
            for member in page["members"]:
                found[member["email_address"].lower()] = member
            offset += len(page["members"])
            if not page["members"] or offset >= page["total_items"]:
                return found

    async def writes(self) -> Counter[str]:
        """Write calls the emulator has answered for this account since the setup, by operation."""
        stats = (await self.http.get("/_emulator/stats")).json()
        requests = stats["accounts"].get(self.account_id, {}).get("requests", {})
        counted: Counter[str] = Counter()
        for operation, statuses in requests.items():
            if not operation.startswith("GET "):
                counted[operation] += sum(statuses.values())
        return counted - self.setup_writes

    async def action(self, email: str, **body: Any) -> None:
        from chimplink.mailchimp import subscriber_hash

        response = await self.http.post(
            f"/_emulator/lists/{self.list_id}/members/{subscriber_hash(email)}/actions", json=body
        )
        assert response.status_code < 300, response.text

    async def fault_rate(self, rate: float) -> None:
        response = await self.http.post("/_emulator/config", json={"fault_rate": rate})
        assert response.status_code == 200, response.text

    def batch_bodies(self) -> list[dict[str, Any]]:
        return [
            e.body
            for e in self.transport.exchanges
            if e.method == "POST" and e.path == f"/3.0/lists/{self.list_id}"
        ]


async def new_env(db: Db, cipher: TokenCipher, **app_settings: Any) -> AsyncIterator[Env]:
    app = create_app(**app_settings)
    asgi = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=asgi, base_url=BASE) as http:
        info = (await http.post("/_emulator/accounts", json={"account_name": "Bakery"})).json()
        token = info["access_token"]
        created = await http.post(
            "/3.0/lists", json=LIST_BODY, headers={"Authorization": f"Bearer {token}"}
        )
        assert created.status_code == 200, created.text
        saved = await connect(db, cipher, account_id=info["account_id"])
        env = Env(
            db=db,
            app=app,
            http=http,
            token=token,
            api_key=info["api_key"],
            account_id=info["account_id"],
            list_id=created.json()["id"],
            installation_id=saved.installation.id,
            connector=MemoryConnector(),
            transport=RecordingTransport(asgi),
        )
        await env.configure()
        env.setup_writes = await env.writes()
        yield env
    await app.aclose()


@pytest.fixture
async def env(db: Db, cipher: TokenCipher) -> AsyncIterator[Env]:
    async for made in new_env(db, cipher):
        yield made
