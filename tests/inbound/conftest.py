"""The inbound world: the emulator in-process, chimplink's web app receiving its webhooks,
a connected installation with its audience chosen (webhook registered, signed), sync
settings, and an in-memory platform whose contacts the outbound sync has sent.

Runs on SQLite and PostgreSQL (the `database_url` fixture of tests/store).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from chimplink.connect import choose_audience, installation_client, webhook_url
from chimplink.mailchimp import subscriber_hash
from chimplink.mailchimp.webhook_events import sign
from chimplink.store import Installation, find_installation, get_signing_secret
from chimplink.store.inbox import DeadLetter, InboxItem, list_dead_letters, list_inbox
from chimplink.store.sync_config import get_sync_config, save_sync_config
from chimplink.store.sync_state import SyncRecord, load_records
from chimplink.sync import SyncOptions, SyncReport, run_sync
from chimplink.sync.inbound import InboundOptions, InboundReport, process_inbox
from chimplink.sync.reconcile import ReconcileReport, reconcile
from tests.inbound.connector import FIELD_MAP, LookupPlatform, MemoryPlatform
from tests.store.conftest import database_url, postgres_admin
from tests.web.harness import World, installations_of, open_world

__all__ = ["database_url", "postgres_admin"]

OWNER = "owner@bakery.example"
PEOPLE = {
    "1": ("ann@example.org", {"first_name": "Ann", "last_name": "Lee", "city": "Oslo", "score": 3}),
    "2": ("bob@example.org", {"first_name": "Bob", "last_name": "Ray", "city": "Rome", "score": 7}),
    "3": ("cid@example.org", {"first_name": "Cid", "last_name": "Moe", "city": "Nice", "score": 1}),
}


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


FAST_SYNC = SyncOptions(sleep=_no_sleep, retry_delay=0.0)


class Sink:
    """Stands in for chimplink's receiver: keeps each delivery and answers 200 (lost webhooks)."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "POST" and body:
            self.received.append((body, {k.decode(): v.decode() for k, v in scope["headers"]}))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def bodies(self) -> list[bytes]:
        return [body for body, _ in self.received]


@dataclass
class Scene:
    world: World
    installation: Installation
    list_id: str
    token: str
    account_id: str
    platform: Any  # a MemoryPlatform, except where a test says otherwise
    reports: list[SyncReport] = field(default_factory=list)

    @property
    def sessions(self) -> Any:
        return self.world.services.sessions

    @property
    def url(self) -> str:
        return webhook_url(self.world.services, self.installation.id)

    @property
    def path(self) -> str:
        return httpx.URL(self.url).path

    # -- Mailchimp -------------------------------------------------------------------------

    async def drain(self) -> None:
        """Wait until the emulator has delivered every webhook (to the app or a sink)."""
        await asyncio.wait_for(self.world.mailchimp.app.drain(), timeout=10)

    async def action(self, email: str, **body: Any) -> dict[str, Any]:
        """A subscriber (or an admin) acts in Mailchimp; deliveries are awaited."""
        result: dict[str, Any] = await self.world.mailchimp.control.action(
            self.list_id, subscriber_hash(email), **body
        )
        await self.drain()
        return result

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.world.mailchimp.client.request(
            method,
            f"/3.0{path}",
            headers={"Authorization": f"Bearer {self.token}"},
            **kwargs,
        )

    async def member(self, email: str) -> dict[str, Any]:
        response = await self.api("GET", f"/lists/{self.list_id}/members/{subscriber_hash(email)}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def member_count(self) -> int:
        response = await self.api("GET", f"/lists/{self.list_id}/members", params={"count": 1})
        total: int = response.json()["total_items"]
        return total

    async def writes(self) -> int:
        """Write calls the emulator answered for this account so far."""
        stats = await self.world.mailchimp.control.stats()
        requests = stats["accounts"].get(self.account_id, {}).get("requests", {})
        return sum(
            sum(statuses.values())
            for operation, statuses in requests.items()
            if not operation.startswith("GET ")
        )

    def sink(self) -> Sink:
        """From now on, Mailchimp's deliveries go to a sink, not to chimplink."""
        sink = Sink()
        self.world.mailchimp.webhook_target.app = sink
        return sink

    def unsink(self) -> None:
        self.world.mailchimp.webhook_target.app = self.world.app

    # -- chimplink ----------------------------------------------------------------------

    async def sync(self) -> SyncReport:
        async with installation_client(self.world.services, self.installation) as client:
            report = await run_sync(
                sessions=self.sessions,
                installation_id=self.installation.id,
                client=client,
                connector=self.platform,
                options=FAST_SYNC,
            )
        self.reports.append(report)
        return report

    async def process(self, **options: Any) -> InboundReport:
        async with installation_client(self.world.services, self.installation) as client:
            return await process_inbox(
                sessions=self.sessions,
                installation_id=self.installation.id,
                client=client,
                connector=self.platform,
                options=InboundOptions(**options),
            )

    async def reconcile(self) -> ReconcileReport:
        async with installation_client(self.world.services, self.installation) as client:
            return await reconcile(
                sessions=self.sessions,
                installation_id=self.installation.id,
                client=client,
                connector=self.platform,
            )

    async def inbox(self) -> list[InboxItem]:
        async with self.sessions() as session:
            return await list_inbox(session=session, installation_id=self.installation.id)

    async def dead_letters(self) -> list[DeadLetter]:
        async with self.sessions() as session:
            return await list_dead_letters(session=session, installation_id=self.installation.id)

    async def record(self, key: str) -> SyncRecord:
        async with self.sessions() as session:
            found = await load_records(
                session=session, installation_id=self.installation.id, keys=[key]
            )
        return found[key]

    async def tag(self, name: str) -> str:
        """The merge tag a platform field was mapped to (resolved by the first sync)."""
        async with self.sessions() as session:
            config = await get_sync_config(session=session, installation_id=self.installation.id)
        assert config is not None
        return config.field_map[name]

    async def signing_secret(self) -> str:
        async with self.sessions() as session:
            secret = await get_signing_secret(
                session=session,
                cipher=self.world.services.cipher,
                installation_id=self.installation.id,
            )
        assert secret is not None
        return secret.get_secret_value()

    async def post(
        self,
        body: bytes,
        *,
        signed: bool = True,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
    ) -> httpx.Response:
        """POST a delivery to chimplink's receiver, signed as Mailchimp signs it."""
        sent = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "MailChimp.com"}
        if signed:
            secret = await self.signing_secret()
            stamp = int(time.time()) if timestamp is None else timestamp
            sent["X-Mailchimp-Signature"] = sign(secret=secret, timestamp=stamp, body=body)
        sent.update(headers or {})
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.world.app), base_url="http://chimplink.test"
        ) as client:
            return await client.post(path or self.path, content=body, headers=sent)


async def open_scene(
    world: World,
    platform: Any,
    *,
    people: dict[str, Any] | None = None,
    field_map: dict[str, str] | None = None,
) -> Scene:
    """Connect, choose the audience, configure, and sync `platform` (a MemoryPlatform gets
    `people` first; any other connector is synced as it is)."""
    account = await world.mailchimp.account("Bakery", OWNER)
    list_id = await world.mailchimp.create_list(account["access_token"], "Customers")
    browser = world.browser()
    await browser.enter("user-1")
    assert (await browser.connect(OWNER)).status_code == 303
    [listed] = await installations_of(world, "user-1")
    async with world.services.sessions() as session:
        installation = await find_installation(session=session, installation_id=listed.id)
    assert installation is not None
    await choose_audience(world.services, installation, list_id=list_id)
    async with world.services.sessions.begin() as session:
        await save_sync_config(
            session=session,
            installation_id=installation.id,
            list_id=list_id,
            field_map=FIELD_MAP if field_map is None else field_map,
        )
    if isinstance(platform, MemoryPlatform):
        for key, (email, values) in (PEOPLE if people is None else people).items():
            platform.put(key, email, fields=values, labels={"customer"})
    scene = Scene(
        world=world,
        installation=installation,
        list_id=list_id,
        token=account["access_token"],
        account_id=account["account_id"],
        platform=platform,
    )
    report = await scene.sync()
    assert report.status.value == "completed", report.message
    await scene.drain()
    return scene


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    async with open_world(database_url) as opened:
        yield opened


@pytest.fixture
async def scene(world: World) -> Scene:
    return await open_scene(world, LookupPlatform())


@pytest.fixture(params=["lookup", "scan"])
def make_platform(request: pytest.FixtureRequest) -> Callable[[], MemoryPlatform]:
    """Both ways of reading the platform back: `get_contacts`, or scanning the stream."""
    return LookupPlatform if request.param == "lookup" else MemoryPlatform
