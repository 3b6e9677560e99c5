"""Photo transfers for one installation, as the CLI and the web's Photos page run them.

    report = await push_files(services, installation_id, connectors=factory, album="Summer")
    report = await push_files(services, installation_id, connectors=factory, keys=["42"])
    report = await pull_files(services, installation_id, connectors=factory, file_ids=[4211])
    states = await photo_page(services, installation_id, connectors=factory, limit=48)
    images = await mailchimp_images(services, installation_id, offset=0, count=48)

Before anything is read they check what a transfer needs and raise a
`ConnectError` an adapter can show as it is:

    InstallationMissing   no such installation (or it was uninstalled)
    NeedsReconnect        the installation is paused until the user reconnects
    NoPhotoLibrary        no platform connector, or one without photos

Transfers of one installation run one at a time, under their own lock
(`files:<id>` in the process's lock set, jobs/locks.py): the engine's intent
records assume no other push of the installation runs meanwhile, and a photo
push has no reason to wait for a contact sync. Once running, Mailchimp's and
the platform's failures end the run with a status and a message in the
report (sync/files/).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace

from chimplink.connect import (
    ConnectError,
    InstallationMissing,
    MailchimpFailed,
    NeedsReconnect,
    Services,
    installation_client,
)
from chimplink.jobs.inbound_tasks import BACKGROUND_RETRY, ConnectorFactory
from chimplink.jobs.locks import InstallationLocks, shared_locks
from chimplink.mailchimp import AuthenticationError, MailchimpClient, MailchimpError
from chimplink.platforms import ConnectorError, PhotoLibrary
from chimplink.store import Installation, InstallationStatus, find_installation
from chimplink.sync.files import (
    FileOptions,
    FileProgressCallback,
    FileReport,
    ImagePage,
    PhotoState,
    default_folder_name,
    list_mailchimp_images,
    photo_states_page,
    pull_photos,
    push_photos,
)

__all__ = [
    "NoPhotoLibrary",
    "files_lock_key",
    "mailchimp_images",
    "photo_library",
    "photo_page",
    "pull_files",
    "push_files",
]


class NoPhotoLibrary(ConnectError):
    title = "No photos to sync"
    default_message = (
        "This platform has no photo library chimplink can send to Mailchimp's File Manager. "
        "Please tell the platform's support team."
    )
    status = 409


def files_lock_key(installation_id: str) -> str:
    return f"files:{installation_id}"


async def _installation(services: Services, installation_id: str) -> Installation:
    async with services.sessions() as session:
        installation = await find_installation(session=session, installation_id=installation_id)
    if installation is None or installation.status is InstallationStatus.UNINSTALLED:
        raise InstallationMissing(reason=f"no installation {installation_id}")
    if installation.status is not InstallationStatus.ACTIVE:
        raise NeedsReconnect(reason=f"installation is {installation.status.value}")
    return installation


async def photo_library(
    connectors: ConnectorFactory | None, installation: Installation
) -> PhotoLibrary:
    """The installation's platform as a `PhotoLibrary`, or `NoPhotoLibrary` saying why not."""
    if connectors is None:
        raise NoPhotoLibrary(reason="no platform connector is configured (CHIMPLINK_CONNECTOR)")
    try:
        connector = await connectors(installation)
    except ConnectorError as exc:
        raise NoPhotoLibrary(reason=f"the platform connector failed: {exc}") from exc
    if connector is None:
        raise NoPhotoLibrary(reason="the connector factory has no platform for this installation")
    if not isinstance(connector, PhotoLibrary):
        raise NoPhotoLibrary(
            reason=f"the {connector.name!r} platform has no photos (its connector does not "
            "implement PhotoLibrary)"
        )
    return connector


def _options(services: Services, library: PhotoLibrary, options: FileOptions | None) -> FileOptions:
    if options is not None and options.folder_name is not None:
        return options
    name = default_folder_name(library.name, services.config.app_name)
    if options is None:
        return FileOptions(folder_name=name)
    return replace(options, folder_name=name)


@asynccontextmanager
async def _transfer(
    services: Services,
    installation_id: str,
    *,
    connectors: ConnectorFactory | None,
    locks: InstallationLocks | None,
) -> AsyncIterator[tuple[MailchimpClient, PhotoLibrary]]:
    """The client and the library a push or a pull runs with, under the installation's lock.

    The checks come before the wait for the lock, so a refused transfer says so at
    once; the installation is read again under the lock, since it may have been
    paused or uninstalled while the transfer waited.
    """
    library = await photo_library(connectors, await _installation(services, installation_id))
    async with (locks or shared_locks()).of(files_lock_key(installation_id)):
        installation = await _installation(services, installation_id)
        async with installation_client(services, installation, retry=BACKGROUND_RETRY) as client:
            yield client, library


async def push_files(
    services: Services,
    installation_id: str,
    *,
    connectors: ConnectorFactory | None,
    keys: Sequence[str] | None = None,
    album: str | None = None,
    dry_run: bool = False,
    progress: FileProgressCallback | None = None,
    options: FileOptions | None = None,
    locks: InstallationLocks | None = None,
) -> FileReport:
    """Send photos (`keys`, or an album, or all) to the installation's File Manager folder."""
    transfer = _transfer(services, installation_id, connectors=connectors, locks=locks)
    async with transfer as (client, library):
        return await push_photos(
            sessions=services.sessions,
            installation_id=installation_id,
            client=client,
            library=library,
            keys=keys,
            album=album,
            dry_run=dry_run,
            progress=progress,
            options=_options(services, library, options),
        )


async def pull_files(
    services: Services,
    installation_id: str,
    *,
    connectors: ConnectorFactory | None,
    file_ids: Sequence[int] | None = None,
    album: str | None = None,
    dry_run: bool = False,
    progress: FileProgressCallback | None = None,
    options: FileOptions | None = None,
    locks: InstallationLocks | None = None,
) -> FileReport:
    """Import File Manager images (`file_ids`, or every image) into the platform's `album`."""
    transfer = _transfer(services, installation_id, connectors=connectors, locks=locks)
    async with transfer as (client, library):
        return await pull_photos(
            sessions=services.sessions,
            installation_id=installation_id,
            client=client,
            library=library,
            file_ids=file_ids,
            album=album,
            dry_run=dry_run,
            progress=progress,
            options=options,
        )


async def photo_page(
    services: Services,
    installation_id: str,
    *,
    connectors: ConnectorFactory | None,
    album: str | None = None,
    after: str | None = None,
    limit: int = 48,
) -> list[PhotoState]:
    """The platform's photos (after the cursor `after`) with their Mailchimp status."""
    library = await photo_library(connectors, await _installation(services, installation_id))
    return await photo_states_page(
        sessions=services.sessions,
        installation_id=installation_id,
        library=library,
        album=album,
        after=after,
        limit=limit,
    )


async def mailchimp_images(
    services: Services, installation_id: str, *, offset: int = 0, count: int = 48
) -> ImagePage:
    """One page of the File Manager's images, newest first, with where each came from.

    Mailchimp's errors come out as `MailchimpFailed` (a 401 as `NeedsReconnect`).
    """
    installation = await _installation(services, installation_id)
    async with installation_client(services, installation) as client:
        try:
            return await list_mailchimp_images(
                sessions=services.sessions,
                installation_id=installation_id,
                client=client,
                offset=offset,
                count=count,
            )
        except AuthenticationError:
            raise  # installation_client pauses the installation and raises NeedsReconnect
        except MailchimpError as exc:
            raise MailchimpFailed.from_error(exc) from exc
