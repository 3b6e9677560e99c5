"""The push connector end to end, on SQLite and PostgreSQL: a platform pushes contacts to the
API, chimplink syncs them to the emulated Mailchimp, a subscriber unsubscribes there, and the
platform reads it back and receives a signed webhook — with no echo to Mailchimp."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from chimplink.config import load_settings
from chimplink.jobs import builtin_tasks
from chimplink.jobs.push_tasks import deliver_push_webhooks
from chimplink.platforms.push import PushConnector
from chimplink.platforms.registry import open_connectors
from chimplink.store.push import create_push_key, set_push_webhook
from chimplink.store.sync_config import get_sync_config, save_sync_config
from chimplink.store.tenants import ensure_tenant
from tests.inbound.conftest import Scene, open_scene
from tests.platforms.push.receiver import Receiver, receiver
from tests.store.conftest import database_url, postgres_admin
from tests.web.harness import PUBLIC_URL, World, open_world

__all__ = ["database_url", "postgres_admin"]

TENANT = "user-1"  # the platform user `open_scene` signs in as
FIELD_MAP = {"first_name": "FNAME", "last_name": "LNAME", "city": ""}
PEOPLE = [
    {"key": "1", "email": "ann@example.org", "first_name": "Ann", "last_name": "Lee"},
    {"key": "2", "email": "bob@example.org", "first_name": "Bob", "last_name": "Ray"},
    {"key": "3", "email": "cid@example.org", "first_name": "Cid", "last_name": "Moe"},
]


@dataclass
class PushPlatform:
    """The platform's backend: its API key, and its webhook endpoint with the secret."""

    api: httpx.AsyncClient
    tenant_id: str
    endpoint: Receiver
    secret: str

    async def upsert(self, *people: dict[str, Any]) -> dict[str, Any]:
        contacts = [
            {
                "key": p["key"],
                "email": p["email"],
                "consent": "granted",
                "fields": {k: v for k, v in p.items() if k not in ("key", "email")},
                "labels": ["customer"],
            }
            for p in people
        ]
        response = await self.api.put("/api/v1/contacts", json={"contacts": contacts})
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def contact(self, key: str) -> dict[str, Any]:
        response = await self.api.get(f"/api/v1/contacts/{key}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found


@pytest.fixture
def endpoint() -> Iterator[Receiver]:
    with receiver() as made:
        yield made


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    async with open_world(database_url) as opened:
        yield opened


@pytest.fixture
async def platform(world: World, endpoint: Receiver) -> AsyncIterator[PushPlatform]:
    services = world.services
    async with services.sessions.begin() as session:
        tenant = await ensure_tenant(session=session, external_id=TENANT)
        issued = await create_push_key(session=session, tenant_id=tenant.id)
        secret = await set_push_webhook(
            session=session, cipher=services.cipher, tenant_id=tenant.id, url=endpoint.url()
        )
    assert secret is not None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app),
        base_url=PUBLIC_URL,
        headers={"Authorization": f"Bearer {issued.key.get_secret_value()}"},
    ) as api:
        fields = [{"name": name} for name in FIELD_MAP]
        assert (await api.put("/api/v1/fields", json={"fields": fields})).status_code == 200
        yield PushPlatform(api, tenant.id, endpoint, secret.get_secret_value())


async def _scene(world: World, platform: PushPlatform) -> Scene:
    await platform.upsert(*PEOPLE)
    connector = PushConnector(sessions=world.services.sessions, tenant_id=platform.tenant_id)
    return await open_scene(world, connector, field_map=FIELD_MAP)


def _signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


async def test_contacts_pushed_in_come_back_changed_by_mailchimp_as_signed_webhooks(
    world: World, platform: PushPlatform
) -> None:
    scene = await _scene(world, platform)
    first = scene.reports[0]
    assert first.counts()["created"] == 3, first.counts()
    ann = await scene.member("ann@example.org")
    assert ann["status"] == "subscribed" and ann["merge_fields"]["FNAME"] == "Ann"
    assert [tag["name"] for tag in ann["tags"]] == ["customer"]
    writes = await scene.writes()

    # Mailchimp → platform: Ann unsubscribes; Bob's last name is changed by an admin.
    await scene.action("ann@example.org", action="unsubscribe")
    await scene.action("bob@example.org", action="update_profile", merge_fields={"LNAME": "Okafor"})
    report = await scene.process()
    assert report.retrying == 0, report.counts()
    assert (await platform.contact("1"))["consent"] == "withdrawn"
    assert (await platform.contact("2"))["fields"]["last_name"] == "Okafor"

    delivered = await deliver_push_webhooks(world.services)
    assert delivered == {"delivered": 2, "retrying": 0, "dead": 0}
    received = platform.endpoint.received
    events = {json.loads(r.body)["type"]: json.loads(r.body) for r in received}
    assert set(events) == {"contact.consent_withdrawn", "contact.profile_changed"}
    assert events["contact.consent_withdrawn"]["data"]["key"] == "1"
    assert events["contact.profile_changed"]["data"]["fields"] == {"last_name": "Okafor"}
    for sent in received:
        assert sent.headers["webhook-signature"] == _signature(
            platform.secret, sent.headers, sent.body
        )

    # Nothing echoes back to Mailchimp: the changed contacts are already in step.
    again = await scene.sync()
    assert again.write_calls == 0, again.counts()
    assert await scene.writes() == writes
    assert (await scene.member("ann@example.org"))["status"] == "unsubscribed"

    # A platform edit reaches Mailchimp with one write; repeating it, with none.
    await platform.upsert({**PEOPLE[2], "first_name": "Cyd"})
    edited = await scene.sync()
    assert edited.write_calls == 1 and edited.counts()["updated"] == 1, edited.counts()
    assert (await scene.member("cid@example.org"))["merge_fields"]["FNAME"] == "Cyd"
    result = await platform.upsert({**PEOPLE[2], "first_name": "Cyd"})
    assert result["counts"]["unchanged"] == 1
    assert (await scene.sync()).write_calls == 0


async def test_an_erasure_through_the_api_is_permanent_in_mailchimp(
    world: World, platform: PushPlatform
) -> None:
    scene = await _scene(world, platform)
    async with world.services.sessions.begin() as session:
        config = await get_sync_config(session=session, installation_id=scene.installation.id)
        assert config is not None
        await save_sync_config(
            session=session,
            installation_id=scene.installation.id,
            list_id=config.list_id,
            field_map=config.field_map,
            erase_permanently=True,
        )
    response = await platform.api.delete("/api/v1/contacts/2", params={"erase": "true"})
    assert response.status_code == 204
    report = await scene.sync()
    assert report.erased == 1, report.counts()
    assert await scene.member_count() == 2
    # Pushed again, the erased address is not sent again.
    await platform.upsert(PEOPLE[1])
    await scene.sync()
    assert await scene.member_count() == 2


async def test_the_registry_and_the_runner_serve_the_push_connector(world: World) -> None:
    settings = load_settings(connector="push")
    async with open_connectors(settings, sessions=world.services.sessions) as factory:
        assert factory is not None

        @dataclass(frozen=True)
        class _Installation:
            tenant_id: str

        made = await factory(_Installation("tenant-a"))
        assert isinstance(made, PushConnector) and made.tenant_id == "tenant-a"
        names = {task.name for task in builtin_tasks(connectors=factory)}
    assert {"deliver_push_webhooks", "prune_push_webhooks"} <= names
