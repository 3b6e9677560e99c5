"""The 2026 single-host API: no metadata call; the account is identified by the API root."""

from __future__ import annotations

import dataclasses

from chimplink.config import Settings
from chimplink.connect import ConnectConfig, installation_client
from tests.connect.helpers import connect_directly
from tests.web.harness import MAILCHIMP_URL, World

EMAIL = "owner@bakery.example"


def test_the_mode_follows_the_configured_api_url() -> None:
    base = {"mailchimp_client_id": "id", "mailchimp_client_secret": "secret"}
    classic = ConnectConfig.from_settings(Settings(**base))
    assert classic.single_host_api is None
    assert classic.allowed_api_bases == ()
    single = ConnectConfig.from_settings(
        Settings(**base, mailchimp_api_url="https://api.mailchimp.com")
    )
    assert single.single_host_api == "https://api.mailchimp.com"
    emulator = ConnectConfig.from_settings(Settings(**base, mailchimp_api_url=MAILCHIMP_URL))
    assert emulator.single_host_api is None
    assert emulator.allowed_api_bases == (MAILCHIMP_URL,)
    unconfigured = ConnectConfig.from_settings(Settings())
    assert unconfigured.oauth is None


async def test_single_host_connect_uses_the_root_and_no_metadata(world: World) -> None:
    account = await world.mailchimp.account("Bakery", EMAIL)
    await world.mailchimp.create_list(account["access_token"], "Customers")
    config = dataclasses.replace(world.services.config, single_host_api=MAILCHIMP_URL)
    services = dataclasses.replace(world.services, config=config)

    connected = await connect_directly(world, services, email=EMAIL)
    installation = connected.installation
    assert connected.created
    assert installation.account_id == account["account_id"]
    assert installation.api_base == MAILCHIMP_URL
    assert installation.dc == ""
    paths = [sent.url.path for sent in world.transport.sent]
    assert "/oauth2/metadata" not in paths
    assert "/3.0/" in paths  # the root, on the single host

    async with installation_client(services, installation) as client:
        lists = [item async for item in client.lists.iterate()]
    assert [item.name for item in lists] == ["Customers"]
    assert world.transport.sent[-1].url.path == "/3.0/lists"


async def test_the_same_account_keeps_its_identity_across_modes(world: World) -> None:
    await world.mailchimp.account("Bakery", EMAIL)
    classic = await connect_directly(world, world.services, email=EMAIL)
    config = dataclasses.replace(world.services.config, single_host_api=MAILCHIMP_URL)
    single = await connect_directly(
        world, dataclasses.replace(world.services, config=config), email=EMAIL
    )
    assert single.installation.id == classic.installation.id
    assert not single.created
