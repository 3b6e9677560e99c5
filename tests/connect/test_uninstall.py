"""`connect.uninstall`: tenant-scoped, idempotent, local secrets gone at once."""

from __future__ import annotations

import pytest

from chimplink.connect import (
    InstallationMissing,
    choose_audience,
    find_uninstall_record,
    removal_instructions,
    uninstall,
)
from tests.connect.helpers import connect_directly, tenant_id
from tests.store.helpers import dump_tables, tables_mentioning
from tests.web.harness import World

EMAIL = "owner@bakery.example"


async def test_another_tenant_cannot_uninstall(world: World) -> None:
    await world.mailchimp.account("Bakery", EMAIL)
    installation = (await connect_directly(world, world.services, email=EMAIL)).installation
    stranger = await tenant_id(world.services, "user-2")
    before = await dump_tables(world.services.engine)
    mark = world.transport.mark()
    with pytest.raises(InstallationMissing):
        await uninstall(world.services, installation_id=installation.id, tenant_id=stranger)
    assert world.transport.since(mark) == []
    assert await dump_tables(world.services.engine) == before


async def test_uninstall_twice_then_the_record_says_when(world: World) -> None:
    account = await world.mailchimp.account("Bakery", EMAIL)
    list_id = await world.mailchimp.create_list(account["access_token"], "Customers")
    installation = (await connect_directly(world, world.services, email=EMAIL)).installation
    await choose_audience(world.services, installation, list_id=list_id)
    first = await uninstall(
        world.services, installation_id=installation.id, tenant_id=installation.tenant_id
    )
    assert (first.purged, first.webhooks_deleted, first.webhooks_pending) == (True, 1, 0)
    assert first.account_name == "Bakery"
    before = await dump_tables(world.services.engine)
    with pytest.raises(InstallationMissing):
        await uninstall(world.services, installation_id=installation.id, tenant_id=None)
    assert await dump_tables(world.services.engine) == before
    record = await find_uninstall_record(world.services, installation_id=installation.id)
    assert record is not None and record.event == "uninstalled"
    dump = await dump_tables(world.services.engine)
    assert tables_mentioning(dump, installation.id) == {"audit_log": 1}
    assert tables_mentioning(dump, EMAIL) == {}
    assert await world.mailchimp.webhooks(account["access_token"], list_id) == []


def test_the_removal_instructions_name_the_app() -> None:
    assert removal_instructions("Acme Sync") == (
        "In Mailchimp, open your profile → Account → Integrations/Connected apps "
        "and remove Acme Sync."
    )
