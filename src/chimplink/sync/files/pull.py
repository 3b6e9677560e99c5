"""Mailchimp's File Manager → the platform: import chosen images, or all (REFERENCE.md §1, §9).

    report = await pull_photos(sessions=sessions, installation_id=installation.id,
                               client=client, library=connector, file_ids=[4211, 4212])

Per image: the bytes are downloaded from its `full_size_url` (never with the
token, and only from the API's host or Mailchimp's file hosts: see the
client's `files.download`), checked against the size Mailchimp reported, and
written to the platform as they are, so name and dimensions are kept. An
image imported before is skipped while its photo is still on the platform
(a Mailchimp file's bytes never change: there is no replacing a file).

"Import all" skips the images chimplink itself sent from this platform
while their photo is still there (they are on the platform already); chosen
ones are imported whatever their origin, named as on the platform.

A dry run reads only: nothing is downloaded or written.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chimplink.mailchimp import File, MailchimpClient, MailchimpError, NotFoundError
from chimplink.platforms import ConnectorError, PhotoLibrary
from chimplink.store.files import (
    FileImport,
    TransferDirection,
    Upload,
    file_owners,
    load_imports,
    save_import,
)
from chimplink.store.sync_state import RunStatus
from chimplink.sync.classify import Action, classify
from chimplink.sync.files._common import Transfer, halt_for, run_pool
from chimplink.sync.files.naming import original_name
from chimplink.sync.files.report import (
    FileAction,
    FileOptions,
    FileOutcome,
    FileProgressCallback,
    FileReport,
)
from chimplink.sync.runner import Halt, to_completion

__all__ = ["pull_photos"]

NOT_IN_MAILCHIMP = "not in Mailchimp"
NOT_AN_IMAGE = "not an image"
UNSAFE_URL = "file URL not trusted"
INCOMPLETE = "incomplete download"
UNWRITABLE = "platform could not store it"
_LIST_PAGE = 1000  # File Manager files per listing call (the API's maximum, §6)


class _Puller(Transfer):
    def __init__(
        self,
        *,
        library: PhotoLibrary,
        album: str | None,
        chosen: bool,
        sessions: async_sessionmaker[AsyncSession],
        installation_id: str,
        client: MailchimpClient,
        dry_run: bool,
        options: FileOptions,
        progress: FileProgressCallback | None,
    ) -> None:
        super().__init__(
            sessions=sessions,
            installation_id=installation_id,
            client=client,
            direction=TransferDirection.PULL,
            dry_run=dry_run,
            options=options,
            progress=progress,
        )
        self.library = library
        self.album = album
        self.chosen = chosen

    def _note(self, file: File, action: FileAction, detail: str | None = None) -> None:
        self.outcome(FileOutcome(str(file.id), file.name or f"file {file.id}", action, detail))

    async def _state(self, file_id: int) -> tuple[Upload | None, FileImport | None]:
        async with self.sessions() as session:
            owners = await file_owners(
                session=session, installation_id=self.installation_id, file_ids=[file_id]
            )
            imports = await load_imports(
                session=session, installation_id=self.installation_id, file_ids=[file_id]
            )
        return owners.get(file_id), imports.get(file_id)

    async def pull_one(self, file: File) -> None:
        self.report.read += 1
        if file.type is not None and file.type != "image":
            self.report.skipped += 1
            self._note(file, FileAction.SKIP, "Only images are imported into the platform.")
            return
        owner, imported = await to_completion(self._state(file.id))
        try:
            if (
                owner is not None
                and not self.chosen
                and await self.library.get_photo(owner.platform_key) is not None
            ):
                self.report.skipped += 1
                self._note(
                    file, FileAction.SKIP, f"Sent from this platform (photo {owner.platform_key})."
                )
                return
            if (
                imported is not None
                and imported.size == file.size
                and await self.library.get_photo(imported.platform_key) is not None
            ):
                self.report.unchanged += 1
                self._note(
                    file,
                    FileAction.UNCHANGED,
                    f"Imported already (photo {imported.platform_key}).",
                )
                return
            if self.dry_run:
                self.report.imported += 1
                self._note(file, FileAction.IMPORT, "dry run: nothing imported")
                return
            await self._import(file, owner)
        except ConnectorError as exc:
            self.report.failed[UNWRITABLE] += 1
            self._note(file, FileAction.FAILED, f"The platform could not store it: {exc}")

    async def _import(self, file: File, owner: Upload | None) -> None:
        self.call()
        try:
            data = await self.client.file_manager.files.download(file)
        except NotFoundError:
            self.report.rejected[NOT_IN_MAILCHIMP] += 1
            self._note(file, FileAction.REJECTED, "Mailchimp no longer has this file.")
            return
        except ValueError as exc:
            self.report.rejected[UNSAFE_URL] += 1
            self._note(file, FileAction.REJECTED, str(exc))
            return
        except MailchimpError as exc:
            decision = classify(exc)
            self.report.failed[decision.reason.value] += 1
            self._note(file, FileAction.FAILED, decision.user_message)
            if decision.action not in (Action.RETRY_LATER, Action.FINAL_FOR_RECORD):
                self.stop(halt_for(decision))
            return
        if file.size is not None and len(data) != file.size:
            self.report.failed[INCOMPLETE] += 1
            self._note(
                file,
                FileAction.FAILED,
                f"Downloaded {len(data):,} bytes where Mailchimp reports {file.size:,}.",
            )
            return
        name = file.name or f"mailchimp-{file.id}"
        if owner is not None:
            name = original_name(name, key=owner.platform_key, content_hash=owner.content_hash)
        photo = await self.library.write_photo(name=name, data=data, album=self.album)
        await self._record(file, photo.key, hashlib.sha256(data).hexdigest())
        self.report.imported += 1
        self.report.bytes += len(data)
        size = f", {photo.width}×{photo.height}" if photo.width and photo.height else ""
        self._note(file, FileAction.IMPORT, f"photo {photo.key}{size}")

    async def _record(self, file: File, key: str, digest: str) -> None:
        async def write(session: AsyncSession) -> None:
            await save_import(
                session=session,
                installation_id=self.installation_id,
                file_id=file.id,
                platform_key=key,
                name=file.name or "",
                size=file.size if file.size is not None else 0,
                content_hash=digest,
            )

        await self.writer.write(write)


async def _chosen(
    client: MailchimpClient, file_ids: Sequence[int], puller: _Puller
) -> AsyncIterator[File]:
    for file_id in dict.fromkeys(file_ids):
        puller.call()
        try:
            found = await client.file_manager.files.get(file_id)
        except NotFoundError:
            puller.report.rejected[NOT_IN_MAILCHIMP] += 1
            puller.outcome(
                FileOutcome(
                    str(file_id),
                    f"file {file_id}",
                    FileAction.REJECTED,
                    "No such file in Mailchimp.",
                )
            )
            continue
        yield found


async def _every_image(
    client: MailchimpClient, page_size: int, puller: _Puller
) -> AsyncIterator[File]:
    seen = 0
    async for found in client.file_manager.files.iterate(type="image", page_size=page_size):
        if seen % page_size == 0:
            puller.call()
        seen += 1
        yield found


async def pull_photos(
    *,
    sessions: async_sessionmaker[AsyncSession],
    installation_id: str,
    client: MailchimpClient,
    library: PhotoLibrary,
    file_ids: Sequence[int] | None = None,
    album: str | None = None,
    dry_run: bool = False,
    progress: FileProgressCallback | None = None,
    options: FileOptions | None = None,
) -> FileReport:
    """Import the File Manager files `file_ids`, or every image, into `album` of the platform.

    Failures do not raise: they end the run with a status and a message, or
    count per file; a 401 also marks the installation as needing a reconnect.
    """
    opts = options or FileOptions()
    puller = _Puller(
        library=library,
        album=album,
        chosen=file_ids is not None,
        sessions=sessions,
        installation_id=installation_id,
        client=client,
        dry_run=dry_run,
        options=opts,
        progress=progress,
    )
    await to_completion(puller.start())
    try:
        if file_ids is not None:
            puller.total = len(set(file_ids))
            source = _chosen(client, file_ids, puller)
        else:
            puller.call()
            _, puller.total = await client.file_manager.files.page(type="image", count=1)
            source = _every_image(client, _LIST_PAGE, puller)
        complete = await run_pool(
            source, puller.pull_one, workers=puller.workers, halted=puller.halted
        )
    except MailchimpError as exc:
        puller.stop_for(exc)
        complete = False
    except ConnectorError as exc:
        puller.stop(Halt(RunStatus.FAILED, f"The platform could not be read: {exc}"))
        complete = False
    except BaseException as error:
        await puller.finish(complete=False, error=error)
        raise
    return await puller.finish(complete=complete)
