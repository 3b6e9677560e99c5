"""Photos → Mailchimp's File Manager: one photo, an album, or all (REFERENCE.md §1, §9).

    report = await push_photos(sessions=sessions, installation_id=installation.id,
                               client=client, library=connector, album="Summer")

Per photo, in this order:

1. the File Manager's limits (type, size), from the platform's metadata,
   before any call (limits.py): a photo over a limit is rejected with a
   message naming it, and never sent;
2. unchanged? The content hash of the version in Mailchimp is the photo's:
   nothing to do (the platform's hash, or the bytes' when it gives none);
3. the intent: a `pending` row with the name to send, committed before the
   `POST` (store/files.py);
4. the upload: base64 streamed from the photo's bytes, so a worker holds one
   file in memory, once; uploads run up to the client's per-account limit
   (twice as many workers read and record meanwhile, _common.py);
5. the outcome: `uploaded` with Mailchimp's file id and URL; `rejected` when
   Mailchimp refuses the file (final until the photo changes); `failed` when
   it could not be sent now (throttled, unreachable; sent again next run).
   An edited photo is uploaded as a new file (Mailchimp files cannot be
   replaced), linked to the previous version, which is kept in Mailchimp, or
   deleted there when `FileOptions.delete_replaced` is on.

`POST /file-manager/files` is not idempotent: an upload whose answer never
came (a 5xx, a lost connection after sending, a crash) stays `pending`.
Before anything is sent again, the folder is listed and the file looked for
by the token in its name and its size (naming.py): found, it is recorded as
uploaded; not found, it is sent again. This runs at the start of every run
(for a crashed run's intents) and between the in-run retry rounds, so a 5xx
on one file neither stops the others nor makes a duplicate.

Intents and outcomes of concurrent workers are committed together (a group
commit, `_common.GroupWriter`): each write is durable before its worker goes
on, without one transaction per write queueing behind SQLite's one writer.

A dry run reads only: no folder is made, nothing is written to Mailchimp or
to the file state (the run itself is recorded, flagged `dry_run`). One push
per installation runs at a time (the jobs layer's lock, as for contact sync).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chimplink.mailchimp import (
    File,
    InvalidRequestError,
    MailchimpClient,
    MailchimpError,
    NotFoundError,
    OutcomeUnknownError,
)
from chimplink.platforms import ConnectorError, Photo, PhotoLibrary
from chimplink.store.files import (
    RemoteFolder,
    TransferDirection,
    Upload,
    UploadStatus,
    file_owners,
    forget_folder,
    load_uploads,
    pending_uploads,
    set_upload,
    start_upload,
)
from chimplink.store.sync_state import RunStatus
from chimplink.sync.classify import Action, Decision, Reason, classify
from chimplink.sync.files._common import Transfer, halt_for, run_pool
from chimplink.sync.files.folder import default_folder_name, ensure_folder
from chimplink.sync.files.limits import LimitViolation, check_limits
from chimplink.sync.files.naming import sent_name, token, token_of, upload_name
from chimplink.sync.files.report import (
    FileAction,
    FileOptions,
    FileOutcome,
    FileProgressCallback,
    FileReport,
)
from chimplink.sync.runner import Halt, to_completion

__all__ = ["CountingPhotoLibrary", "push_photo", "push_photos"]

REFUSED = "refused by Mailchimp"
NOT_ON_PLATFORM = "not on the platform"
UNREADABLE = "platform could not read it"
UNCONFIRMED = "upload not confirmed"
FOLDER_GONE = "folder deleted in Mailchimp"
_UNKNOWN_MESSAGE = (
    "Mailchimp did not confirm this upload; chimplink looks for it in the folder "
    "before sending it again."
)
_RETRYABLE = (UploadStatus.FAILED, UploadStatus.PENDING)


@runtime_checkable
class CountingPhotoLibrary(Protocol):
    """Optional: a library that can count its photos cheaply (for the progress total)."""

    async def count_photos(self, *, album: str | None = None) -> int: ...


def _live(history: Sequence[Upload]) -> Upload | None:
    """The version of the photo that is in Mailchimp now (the newest uploaded one)."""
    for upload in reversed(history):
        if upload.status is UploadStatus.UPLOADED and upload.file_id is not None:
            return upload
    return None


def _file_decision(error: MailchimpError) -> Decision:
    """What to do about an error on one file: `classify`, with the File Manager's 4xx
    read as "Mailchimp refuses this file" (classify reads them as member errors)."""
    if isinstance(error, InvalidRequestError):
        parts = [part for part in (error.title, error.detail) if part]
        parts += [f"{e.field}: {e.message}" if e.field else e.message for e in error.errors]
        detail = " — ".join(parts)
        return Decision(
            Action.FINAL_FOR_RECORD,
            Reason.REJECTED,
            detail,
            f"Mailchimp refused this file ({detail}). It is sent again once it changes.",
        )
    if isinstance(error, NotFoundError):
        # classify reads a 404 as "the audience is gone"; here nothing is missing but
        # the answer: try again on the next run.
        return Decision(
            Action.RETRY_LATER,
            Reason.SERVER_ERROR,
            error.title or "Not Found",
            "Mailchimp could not take this file just now. chimplink will try again.",
        )
    return classify(error)


class _Pusher(Transfer):
    def __init__(
        self,
        *,
        library: PhotoLibrary,
        folder_name: str,
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
            direction=TransferDirection.PUSH,
            dry_run=dry_run,
            options=options,
            progress=progress,
        )
        self.library = library
        self.folder_name = folder_name
        self.folder: RemoteFolder | None = None
        self._folder_lock = asyncio.Lock()
        self._busy: dict[str, asyncio.Event] = {}
        self._unknown: dict[str, Photo] = {}  # this run's uploads without an answer
        self._found: set[str] = set()  # keys whose earlier unconfirmed upload was found
        # Histories read a page at a time by `_all`, taken once by the photo's worker.
        self._prefetched: dict[str, list[Upload]] = {}
        self._handled: set[str] = set()  # keys pushed in this run (their history moved on)

    # -- the run --------------------------------------------------------------------------

    async def run(self, source: AsyncIterator[Photo]) -> bool:
        """Push every photo of `source`; True when every one was handled."""
        if not self.dry_run:
            earlier = await to_completion(self._pending())
            try:
                if earlier:
                    await self._ensure_folder()
                await self._reconcile(earlier, this_run=False)
            except MailchimpError as exc:
                self.stop_for(exc)
                return False
        complete = await run_pool(source, self._push_one, workers=self.workers, halted=self.halted)
        for _ in range(self.options.retry_rounds):
            if not self._unknown or self.halted():
                break
            await self._retry_unknown()
        for photo in self._unknown.values():
            # Still unanswered: the intent stays pending; the next run looks for it first.
            self.report.failed[UNCONFIRMED] += 1
            self.outcome(
                FileOutcome(photo.key, upload_name(photo), FileAction.FAILED, _UNKNOWN_MESSAGE)
            )
        return complete and not self._unknown

    async def _retry_unknown(self) -> None:
        keys = set(self._unknown)
        pending = [u for u in await to_completion(self._pending()) if u.platform_key in keys]
        try:
            await self._reconcile(pending, this_run=True)
        except MailchimpError as exc:
            self.stop_for(exc)
            return
        again = list(self._unknown.values())
        self._unknown.clear()

        async def photos() -> AsyncIterator[Photo]:
            for photo in again:
                yield photo

        await run_pool(photos(), self._push_one, workers=self.workers, halted=self.halted)

    async def _ensure_folder(self) -> RemoteFolder:
        """The folder, made on the first upload: a run with nothing to send makes no call."""
        async with self._folder_lock:
            if self.folder is None:
                self.folder = await ensure_folder(
                    sessions=self.sessions,
                    installation_id=self.installation_id,
                    client=self.client,
                    name=self.folder_name,
                    on_call=self.call,
                )
                self.report.folder_id = self.folder.folder_id
            return self.folder

    # -- reconciliation -------------------------------------------------------------------

    async def _pending(self) -> list[Upload]:
        async with self.sessions() as session:
            return await pending_uploads(session=session, installation_id=self.installation_id)

    async def _reconcile(self, pending: Sequence[Upload], *, this_run: bool) -> None:
        """Look for unconfirmed uploads in the folder; record those found as uploaded."""
        if not pending or self.folder is None:
            return
        self.call()
        listed = [
            f
            async for f in self.client.file_manager.folders.iterate_files(
                self.folder.folder_id, page_size=1000
            )
        ]
        async with self.sessions() as session:
            claimed = set(
                await file_owners(
                    session=session,
                    installation_id=self.installation_id,
                    file_ids=[f.id for f in listed],
                )
            )
        candidates: dict[tuple[str, int | None], list[File]] = {}
        for listed_file in sorted(listed, key=lambda f: f.id):
            mark = token_of(listed_file.name or "")
            if mark is not None and listed_file.id not in claimed:
                candidates.setdefault((mark, listed_file.size), []).append(listed_file)
        for upload in pending:
            found = candidates.get((token(upload.platform_key, upload.content_hash), upload.size))
            if not found:
                continue  # never arrived: sent again when its photo comes up
            match = found.pop(0)
            await self._uploaded(upload, match)
            self.report.reconciled += 1
            photo = self._unknown.pop(upload.platform_key, None) if this_run else None
            if photo is not None:
                self._count_upload(upload.replaces_id is not None, photo.size)
                self.outcome(
                    FileOutcome(
                        photo.key,
                        upload_name(photo),
                        FileAction.RECONCILED,
                        f"file {match.id}, uploaded although Mailchimp's answer was lost",
                    )
                )
            else:
                self._found.add(upload.platform_key)

    # -- one photo ------------------------------------------------------------------------

    @asynccontextmanager
    async def _exclusive(self, key: str) -> AsyncIterator[None]:
        """One worker per photo: a photo edited during the run is listed twice."""
        while (busy := self._busy.get(key)) is not None:
            await busy.wait()
        event = self._busy[key] = asyncio.Event()
        try:
            yield
        finally:
            del self._busy[key]
            event.set()

    async def _push_one(self, photo: Photo) -> None:
        async with self._exclusive(photo.key):
            try:
                await self._push(photo)
            except ConnectorError as exc:
                self.report.failed[UNREADABLE] += 1
                self.outcome(
                    FileOutcome(
                        photo.key,
                        upload_name(photo),
                        FileAction.FAILED,
                        f"The platform could not read this photo: {exc}",
                    )
                )

    async def _histories(self, keys: Sequence[str]) -> dict[str, list[Upload]]:
        async with self.sessions() as session:
            return await load_uploads(
                session=session, installation_id=self.installation_id, keys=keys
            )

    async def prefetch(self, photos: Sequence[Photo]) -> None:
        """Read the histories of a page of photos in one query (one per photo otherwise)."""
        keys = [p.key for p in photos if p.key not in self._prefetched]
        found = await to_completion(self._histories(keys))
        for key in keys:
            self._prefetched[key] = found.get(key, [])

    async def _history(self, key: str) -> list[Upload]:
        # A photo listed again later in the run (edited meanwhile) is read afresh:
        # what was prefetched for it may predate its first push.
        prefetched = self._prefetched.pop(key, None)
        if prefetched is not None and key not in self._handled:
            return prefetched
        found = await to_completion(self._histories([key]))
        return found.get(key, [])

    async def _push(self, photo: Photo) -> None:
        self.report.read += 1
        name = upload_name(photo)
        history = await self._history(photo.key)
        self._handled.add(photo.key)
        current = history[-1] if history else None
        live = _live(history)
        violation = check_limits(name, photo.size)
        if violation is not None:
            await self._reject(photo, name, violation, current)
            return
        digest = photo.content_hash
        data: bytes | None = None
        if digest is None:
            data = await self.library.read_photo(photo.key)
            digest = hashlib.sha256(data).hexdigest()
        if live is not None and live.content_hash == digest:
            await self._unchanged(photo, name, current, live)
            return
        if (
            current is not None
            and current.content_hash == digest
            and current.status is UploadStatus.REJECTED
        ):
            self.report.rejected[REFUSED] += 1
            self.outcome(FileOutcome(photo.key, name, FileAction.REJECTED, current.message))
            return
        if self.dry_run:
            self._count_upload(live is not None, photo.size)
            action = FileAction.REPLACE if live is not None else FileAction.UPLOAD
            self.outcome(FileOutcome(photo.key, name, action, "dry run: nothing sent"))
            return
        if data is None:
            data = await self.library.read_photo(photo.key)
            actual = hashlib.sha256(data).hexdigest()
            if actual != digest:
                # Edited since it was listed: the bytes decide.
                violation = check_limits(name, len(data))
                if violation is not None:
                    await self._reject(photo, name, violation, current)
                    return
                if live is not None and live.content_hash == actual:
                    await self._unchanged(photo, name, current, live)
                    return
                digest = actual
        await self._upload(photo, name, data, digest, current, live)

    async def _upload(
        self,
        photo: Photo,
        name: str,
        data: bytes,
        digest: str,
        current: Upload | None,
        live: Upload | None,
    ) -> None:
        if self.halted():
            return  # never attempted: the next run sends it
        try:
            folder = await self._ensure_folder()
        except MailchimpError as exc:
            decision = classify(exc)
            self.report.failed[decision.reason.value] += 1
            self.outcome(FileOutcome(photo.key, name, FileAction.FAILED, decision.user_message))
            self.stop(halt_for(decision))
            return
        reuse = (
            current.id
            if current is not None
            and current.content_hash == digest
            and current.status in _RETRYABLE
            else None
        )
        stale = (
            current
            if current is not None
            and reuse is None
            and current is not live
            and current.status in _RETRYABLE
            else None
        )
        sent = sent_name(name, key=photo.key, content_hash=digest)
        upload_id = await self._intent(photo, sent, digest, len(data), live, reuse, stale)
        self.call()
        try:
            uploaded = await self.client.file_manager.files.upload(
                sent, data, folder_id=folder.folder_id
            )
        except OutcomeUnknownError:
            await self._set(upload_id, UploadStatus.PENDING, _UNKNOWN_MESSAGE)
            self._unknown[photo.key] = photo
            return
        except MailchimpError as exc:
            await self._refused(photo, name, upload_id, exc)
            return
        await self._record_upload(upload_id, uploaded)
        self._count_upload(live is not None, len(data))
        if live is not None:
            await self._retire(live)
        action = FileAction.REPLACE if live is not None else FileAction.UPLOAD
        detail = f"file {uploaded.id}" + (f", replacing file {live.file_id}" if live else "")
        self.outcome(FileOutcome(photo.key, name, action, detail))

    def _count_upload(self, replacing: bool, size: int) -> None:
        self.report.uploaded += 1
        self.report.bytes += size
        if replacing:
            self.report.replaced += 1

    async def _unchanged(
        self, photo: Photo, name: str, current: Upload | None, live: Upload
    ) -> None:
        if (
            not self.dry_run
            and current is not None
            and current is not live
            and current.status in _RETRYABLE
        ):
            # A later version that never reached Mailchimp, and the photo is back
            # to the one that did (its unconfirmed upload was looked for already).
            await self._set(
                current.id, UploadStatus.ABANDONED, "The photo changed back before upload."
            )
        detail = f"file {live.file_id}"
        if photo.key in self._found:
            self.outcome(FileOutcome(photo.key, name, FileAction.RECONCILED, detail))
            return
        self.report.unchanged += 1
        self.outcome(FileOutcome(photo.key, name, FileAction.UNCHANGED, detail))

    async def _reject(
        self, photo: Photo, name: str, violation: LimitViolation, current: Upload | None
    ) -> None:
        """Over a File Manager limit: recorded for the photo's status, never sent."""
        self.report.rejected[violation.limit.value] += 1
        self.outcome(FileOutcome(photo.key, name, FileAction.REJECTED, violation.message))
        if self.dry_run:
            return
        digest = photo.content_hash or f"size:{photo.size}"
        if (
            current is not None
            and current.status is UploadStatus.REJECTED
            and (current.content_hash, current.message) == (digest, violation.message)
        ):
            return  # recorded already
        await self._write_rejection(photo, name, digest, violation.message)

    async def _refused(
        self, photo: Photo, name: str, upload_id: int, error: MailchimpError
    ) -> None:
        if _folder_gone(error):
            # Deleted in Mailchimp during the run: the next run makes a new one.
            message = "The File Manager folder was deleted in Mailchimp during the run."
            await self._set(upload_id, UploadStatus.FAILED, message)
            self.report.failed[FOLDER_GONE] += 1
            self.outcome(FileOutcome(photo.key, name, FileAction.FAILED, message))
            await self._forget_folder()
            self.stop(Halt(RunStatus.FAILED, f"{message} The next run creates it again."))
            return
        decision = _file_decision(error)
        if decision.action is Action.FINAL_FOR_RECORD:
            message = f"Mailchimp refused {name}: {decision.detail}"
            await self._set(upload_id, UploadStatus.REJECTED, message)
            self.report.rejected[REFUSED] += 1
            self.outcome(FileOutcome(photo.key, name, FileAction.REJECTED, message))
            return
        await self._set(upload_id, UploadStatus.FAILED, decision.user_message)
        self.report.failed[decision.reason.value] += 1
        self.outcome(FileOutcome(photo.key, name, FileAction.FAILED, decision.user_message))
        if decision.action is not Action.RETRY_LATER:
            self.stop(halt_for(decision))

    async def _retire(self, previous: Upload) -> None:
        """The previous version of an edited photo: kept (superseded) or deleted."""
        assert previous.file_id is not None
        if not self.options.delete_replaced:
            await self._set(previous.id, UploadStatus.SUPERSEDED, None)
            return
        self.call()
        try:
            await self.client.file_manager.files.delete(previous.file_id)
        except NotFoundError:
            pass  # deleted in Mailchimp already
        except MailchimpError as exc:
            decision = classify(exc)
            await self._set(
                previous.id,
                UploadStatus.SUPERSEDED,
                f"Replaced, but deleting it in Mailchimp failed: {decision.user_message}",
            )
            if decision.action is Action.NEEDS_RECONNECT:
                self.stop(halt_for(decision))
            return
        await self._set(previous.id, UploadStatus.DELETED, None)
        self.report.deleted_old += 1

    async def _uploaded(self, upload: Upload, found: File) -> None:
        await self._record_upload(upload.id, found)
        if upload.replaces_id is None:
            return
        async with self.sessions() as session:
            history = await load_uploads(
                session=session, installation_id=self.installation_id, keys=[upload.platform_key]
            )
        previous = next(
            (u for u in history.get(upload.platform_key, []) if u.id == upload.replaces_id), None
        )
        if previous is not None and previous.status is UploadStatus.UPLOADED:
            await self._retire(previous)

    # -- writes (group-committed: _common.GroupWriter) ------------------------------------

    async def _intent(
        self,
        photo: Photo,
        sent: str,
        digest: str,
        size: int,
        live: Upload | None,
        reuse: int | None,
        stale: Upload | None,
    ) -> int:
        async def write(session: AsyncSession) -> int:
            if stale is not None:
                await set_upload(
                    session=session,
                    upload_id=stale.id,
                    status=UploadStatus.ABANDONED,
                    message="The photo changed again before this version was uploaded.",
                )
            return await start_upload(
                session=session,
                installation_id=self.installation_id,
                platform_key=photo.key,
                content_hash=digest,
                name=sent,
                size=size,
                replaces_id=live.id if live is not None else None,
                reuse_id=reuse,
            )

        return await self.writer.write(write)

    async def _record_upload(self, upload_id: int, found: File) -> None:
        async def write(session: AsyncSession) -> None:
            await set_upload(
                session=session,
                upload_id=upload_id,
                status=UploadStatus.UPLOADED,
                file_id=found.id,
                url=found.full_size_url,
                width=found.width,
                height=found.height,
            )

        await self.writer.write(write)

    async def _write_rejection(self, photo: Photo, name: str, digest: str, message: str) -> None:
        async def write(session: AsyncSession) -> None:
            await start_upload(
                session=session,
                installation_id=self.installation_id,
                platform_key=photo.key,
                content_hash=digest,
                name=name,
                size=photo.size,
                status=UploadStatus.REJECTED,
                message=message,
            )

        await self.writer.write(write)

    async def _set(self, upload_id: int, status: UploadStatus, message: str | None) -> None:
        async def write(session: AsyncSession) -> None:
            await set_upload(session=session, upload_id=upload_id, status=status, message=message)

        await self.writer.write(write)

    async def _forget_folder(self) -> None:
        async def write(session: AsyncSession) -> None:
            await forget_folder(session=session, installation_id=self.installation_id)

        await self.writer.write(write)


def _folder_gone(error: MailchimpError) -> bool:
    return isinstance(error, InvalidRequestError) and any(
        e.field == "folder_id" for e in error.errors
    )


async def _by_key(
    library: PhotoLibrary, keys: Sequence[str], pusher: _Pusher
) -> AsyncIterator[Photo]:
    for key in dict.fromkeys(keys):
        photo = await library.get_photo(key)
        if photo is None:
            pusher.report.rejected[NOT_ON_PLATFORM] += 1
            pusher.outcome(
                FileOutcome(key, key, FileAction.REJECTED, f"The platform has no photo {key}.")
            )
            continue
        yield photo


async def _all(
    library: PhotoLibrary, pusher: _Pusher, *, album: str | None, page_size: int
) -> AsyncIterator[Photo]:
    async for page in library.photos(after=None, page_size=page_size, album=album):
        await pusher.prefetch(page)
        for photo in page:
            yield photo


async def push_photos(
    *,
    sessions: async_sessionmaker[AsyncSession],
    installation_id: str,
    client: MailchimpClient,
    library: PhotoLibrary,
    keys: Sequence[str] | None = None,
    album: str | None = None,
    dry_run: bool = False,
    progress: FileProgressCallback | None = None,
    options: FileOptions | None = None,
) -> FileReport:
    """Push the photos `keys`, or those of `album`, or all; return the report (also stored).

    Mailchimp and platform failures do not raise: they end the run with a
    status and a message (`report.status`, `report.message`), or count per
    photo; a 401 also marks the installation as needing a reconnect.
    """
    opts = options or FileOptions()
    pusher = _Pusher(
        library=library,
        folder_name=opts.folder_name or default_folder_name(library.name),
        sessions=sessions,
        installation_id=installation_id,
        client=client,
        dry_run=dry_run,
        options=opts,
        progress=progress,
    )
    await to_completion(pusher.start())
    try:
        if keys is not None:
            pusher.total = len(set(keys))
            source = _by_key(library, keys, pusher)
        else:
            if isinstance(library, CountingPhotoLibrary):
                pusher.total = await library.count_photos(album=album)
            source = _all(library, pusher, album=album, page_size=opts.page_size)
        complete = await pusher.run(source)
    except ConnectorError as exc:
        pusher.stop(Halt(RunStatus.FAILED, f"The platform's photos could not be read: {exc}"))
        complete = False
    except BaseException as error:
        await pusher.finish(complete=False, error=error)
        raise
    return await pusher.finish(complete=complete)


async def push_photo(
    *,
    sessions: async_sessionmaker[AsyncSession],
    installation_id: str,
    client: MailchimpClient,
    library: PhotoLibrary,
    key: str,
    options: FileOptions | None = None,
) -> FileReport:
    """The *Send to Mailchimp* button: push one photo (see `push_photos`)."""
    return await push_photos(
        sessions=sessions,
        installation_id=installation_id,
        client=client,
        library=library,
        keys=[key],
        options=options,
    )
