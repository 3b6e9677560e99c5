"""`installation_client`: calls are accounted, a 401 pauses the installation, errors are plain."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from chimplink.connect import MailchimpFailed, NeedsReconnect, installation_client
from chimplink.mailchimp import RetryPolicy
from chimplink.store import InstallationStatus, find_installation, list_audit
from chimplink.store.tables import ApiCallRow
from tests.connect.helpers import connect_directly
from tests.web.harness import World, token_of

EMAIL = "owner@bakery.example"


async def _calls(world: World, installation_id: str) -> list[tuple[str, int | None, int]]:
    async with world.services.sessions() as session:
        rows = (
            await session.execute(
                select(ApiCallRow.operation, ApiCallRow.status, ApiCallRow.attempt)
                .where(ApiCallRow.installation_id == installation_id)
                .order_by(ApiCallRow.id)
            )
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_calls_are_recorded_and_last_used_moves(world: World) -> None:
    account = await world.mailchimp.account("Bakery", EMAIL)
    await world.mailchimp.create_list(account["access_token"], "Customers")
    installation = (await connect_directly(world, world.services, email=EMAIL)).installation
    assert installation.last_used_at is None
    async with installation_client(world.services, installation) as client:
        await client.ping()
        [_ async for _ in client.lists.iterate()]
    assert await _calls(world, installation.id) == [("GET /ping", 200, 1), ("GET /lists", 200, 1)]
    async with world.services.sessions() as session:
        found = await find_installation(session=session, installation_id=installation.id)
    assert found is not None
    assert found.last_used_at is not None


async def test_a_401_marks_needs_reconnect_once_and_pauses(world: World) -> None:
    await world.mailchimp.account("Bakery", EMAIL)
    installation = (await connect_directly(world, world.services, email=EMAIL)).installation
    await world.mailchimp.control.revoke(await token_of(world, installation.id))
    mark = world.transport.mark()
    with pytest.raises(NeedsReconnect) as caught:
        async with installation_client(world.services, installation) as client:
            await client.ping()
    assert caught.value.status == 409
    assert len(world.transport.since(mark)) == 1
    assert await _calls(world, installation.id) == [("GET /ping", 401, 1)]
    async with world.services.sessions() as session:
        found = await find_installation(session=session, installation_id=installation.id)
        audit = [
            e.event for e in await list_audit(session=session, installation_id=installation.id)
        ]
    assert found is not None and found.status is InstallationStatus.NEEDS_RECONNECT
    assert audit.count("needs_reconnect") == 1

    with pytest.raises(NeedsReconnect):
        async with installation_client(world.services, found):
            raise AssertionError("a paused installation must not get a client")
    assert len(world.transport.since(mark)) == 1


async def test_other_errors_come_out_in_plain_words(world: World) -> None:
    await world.mailchimp.account("Bakery", EMAIL)
    installation = (await connect_directly(world, world.services, email=EMAIL)).installation
    await world.mailchimp.script_fault("GET /ping", "503", count=1)
    services = dataclasses.replace(world.services, interactive_retry=RetryPolicy.never())
    with pytest.raises(MailchimpFailed) as caught:
        async with installation_client(services, installation) as client:
            await client.ping()
    assert caught.value.status == 502
    assert "temporary problem" in caught.value.user_message
    assert await _calls(world, installation.id) == [("GET /ping", 503, 1)]
    async with world.services.sessions() as session:
        found = await find_installation(session=session, installation_id=installation.id)
    assert found is not None and found.status is InstallationStatus.ACTIVE


async def test_a_tampered_api_base_never_receives_the_token(world: World) -> None:
    await world.mailchimp.account("Bakery", EMAIL)
    installation = (await connect_directly(world, world.services, email=EMAIL)).installation
    tampered = dataclasses.replace(installation, api_base="https://evil.example/us1")
    mark = world.transport.mark()
    with pytest.raises(NeedsReconnect):
        async with installation_client(world.services, tampered) as client:
            await client.ping()
    assert world.transport.since(mark) == []
