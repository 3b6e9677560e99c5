"""The File Manager folder an installation's uploads go to: one per platform, made on demand.

Creating a folder is a `POST`, not idempotent either: a folder created just
before a crash is not recorded. So before creating one, the folders are
listed and one with the expected name is adopted; a recorded folder that the
user deleted in Mailchimp is forgotten and made again.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chimplink.mailchimp import MailchimpClient, NotFoundError
from chimplink.store.files import RemoteFolder, forget_folder, get_folder, save_folder
from chimplink.sync.runner import to_completion

__all__ = ["default_folder_name", "ensure_folder"]

_NAME_LENGTH = 100


def default_folder_name(platform: str, app: str | None = None) -> str:
    """ "Photos from <platform>", or "<app> – <platform>" when the app has a name."""
    platform = platform.strip() or "platform"
    name = f"{app.strip()} – {platform}" if app and app.strip() else f"Photos from {platform}"
    return name[:_NAME_LENGTH]


async def _stored(
    sessions: async_sessionmaker[AsyncSession], installation_id: str
) -> RemoteFolder | None:
    async with sessions() as session:
        return await get_folder(session=session, installation_id=installation_id)


async def _save(
    sessions: async_sessionmaker[AsyncSession], installation_id: str, folder_id: int, name: str
) -> RemoteFolder:
    async with sessions.begin() as session:
        return await save_folder(
            session=session, installation_id=installation_id, folder_id=folder_id, name=name
        )


async def _forget(sessions: async_sessionmaker[AsyncSession], installation_id: str) -> None:
    async with sessions.begin() as session:
        await forget_folder(session=session, installation_id=installation_id)


async def ensure_folder(
    *,
    sessions: async_sessionmaker[AsyncSession],
    installation_id: str,
    client: MailchimpClient,
    name: str,
    on_call: Callable[[], None] | None = None,
) -> RemoteFolder:
    """The installation's folder: the recorded one if it still exists, else one named
    `name` (adopted, or created). Mailchimp errors propagate. `on_call` counts API calls."""

    def count() -> None:
        if on_call is not None:
            on_call()

    stored = await to_completion(_stored(sessions, installation_id))
    if stored is not None:
        count()
        try:
            await client.file_manager.folders.get(stored.folder_id)
            return stored
        except NotFoundError:
            # Deleted in Mailchimp (its files stay, unfiled): make a new one.
            await to_completion(_forget(sessions, installation_id))
    count()
    async for folder in client.file_manager.folders.iterate(page_size=1000):
        if folder.name == name:
            return await to_completion(_save(sessions, installation_id, folder.id, name))
    count()
    created = await client.file_manager.folders.create(name)
    return await to_completion(_save(sessions, installation_id, created.id, name))
