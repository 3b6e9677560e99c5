"""File transfers as the CLI and the web run them (`jobs/file_tasks.py`): the checks
before anything runs, the folder named after the app and the platform, the Photos page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chimplink.connect import InstallationMissing, MailchimpFailed, NeedsReconnect
from chimplink.jobs.file_tasks import (
    NoPhotoLibrary,
    mailchimp_images,
    photo_page,
    pull_files,
    push_files,
)
from chimplink.jobs.inbound_tasks import ConnectorFactory
from chimplink.platforms import Connector, ConnectorError
from chimplink.platforms.demo import DemoPlatform
from chimplink.store import Installation
from chimplink.store.sync_state import RunStatus
from chimplink.sync.files import FileOptions, PhotoSyncStatus
from tests.connect.helpers import connect_directly
from tests.store.conftest import database_url, postgres_admin
from tests.sync.connector import MemoryConnector
from tests.web.harness import World, open_world

__all__ = ["database_url", "postgres_admin"]


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    async with open_world(database_url) as opened:
        yield opened


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[DemoPlatform]:
    async with await DemoPlatform.create(tmp_path / "demo.db", contacts=0, photos=4) as made:
        yield made


async def _connected(world: World) -> Installation:
    await world.mailchimp.account("Photo Co", "o@photos.example")
    return (await connect_directly(world, world.services, email="o@photos.example")).installation


def _factory(connector: Connector | None) -> ConnectorFactory:
    async def factory(installation: object) -> Connector | None:
        return connector

    return factory


async def test_push_pull_and_the_photos_page(world: World, platform: DemoPlatform) -> None:
    services = world.services
    installation = await _connected(world)
    connectors = _factory(platform.connector())

    pushed = await push_files(services, installation.id, connectors=connectors)
    assert pushed.status is RunStatus.COMPLETED and pushed.uploaded == 4
    page = await photo_page(services, installation.id, connectors=connectors, limit=3)
    assert [s.status for s in page] == [PhotoSyncStatus.SENT] * 3

    images = await mailchimp_images(services, installation.id, count=10)
    assert images.total == 4
    assert {i.sent_from for i in images.images} == {"1", "2", "3", "4"}

    pulled = await pull_files(
        services,
        installation.id,
        connectors=connectors,
        file_ids=[images.images[0].file.id],
        album="Back",
    )
    assert pulled.imported == 1
    named = await push_files(
        services,
        installation.id,
        connectors=connectors,
        keys=["1"],
        options=FileOptions(workers=2),
    )
    assert named.unchanged == 1


async def test_the_folder_is_named_after_the_app_and_the_platform(
    world: World, platform: DemoPlatform
) -> None:
    services = world.services
    installation = await _connected(world)
    report = await push_files(
        services, installation.id, connectors=_factory(platform.connector()), keys=["2"]
    )
    async with services.sessions() as session:
        from chimplink.store.files import get_folder

        folder = await get_folder(session=session, installation_id=installation.id)
    assert folder is not None and folder.folder_id == report.folder_id
    assert folder.name == f"{services.config.app_name} – demo"


async def test_what_is_checked_before_anything_runs(world: World, platform: DemoPlatform) -> None:
    services = world.services
    installation = await _connected(world)
    mark = world.transport.mark()
    with pytest.raises(InstallationMissing):
        await push_files(
            services, "no-such-installation", connectors=_factory(platform.connector())
        )

    async def failing(installation: object) -> Connector | None:
        raise ConnectorError("the platform's database is down")

    for connectors, reason in [
        (None, "no platform connector is configured"),
        (_factory(None), "has no platform for this installation"),
        (failing, "the platform's database is down"),
        (_factory(MemoryConnector()), "platform has no photos"),
    ]:
        with pytest.raises(NoPhotoLibrary) as caught:
            await pull_files(services, installation.id, connectors=connectors)
        assert reason in (caught.value.reason or "")
        assert caught.value.status == 409
    assert world.transport.since(mark) == []  # not one call to Mailchimp


async def test_mailchimp_failures_and_a_paused_installation(
    world: World, platform: DemoPlatform
) -> None:
    services = world.services
    installation = await _connected(world)
    await world.mailchimp.script_fault("GET /file-manager/files", "503", count=5)
    with pytest.raises(MailchimpFailed):
        await mailchimp_images(services, installation.id)

    await world.mailchimp.control.revoke(installation_token := await _token(world, installation.id))
    assert installation_token
    report = await push_files(services, installation.id, connectors=_factory(platform.connector()))
    assert report.status is RunStatus.NEEDS_RECONNECT
    with pytest.raises(NeedsReconnect):
        await push_files(services, installation.id, connectors=_factory(platform.connector()))
    with pytest.raises(NeedsReconnect):
        await mailchimp_images(services, installation.id)


async def _token(world: World, installation_id: str) -> str:
    from chimplink.store import get_access_token

    async with world.services.sessions() as session:
        token = await get_access_token(
            session=session, cipher=world.services.cipher, installation_id=installation_id
        )
    return token.get_secret_value()
