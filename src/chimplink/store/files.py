"""File state per installation: the File Manager folder, per-photo uploads, imports, runs.

The rule of the upload path (`sync/files/push.py`): an upload's row is
written as `pending` and committed BEFORE the `POST` (an intent), and its
outcome after. `POST /file-manager/files` is not idempotent (REFERENCE.md §9;
retry.py), so a pending row seen by a later run means "maybe uploaded": the
folder is listed and the file matched by name and size before anything is
sent again. Repositories here flush, never commit; the engine owns the
transaction.

A photo has one row per version sent; its current state is its newest row.
Rows of an installation go with it (ON DELETE CASCADE, and `store/uninstall.py`
deletes them explicitly); the files themselves stay in the user's Mailchimp
account.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chimplink.store._common import dialect_insert, new_id, utc
from chimplink.store.sync_state import RunStatus
from chimplink.store.tables import FileFolderRow, FileImportRow, FileRunRow, FileUploadRow

__all__ = [
    "FILE_TABLES",
    "FileImport",
    "FileRun",
    "RemoteFolder",
    "TransferDirection",
    "Upload",
    "UploadStatus",
    "count_uploads",
    "delete_file_state",
    "file_owners",
    "finish_file_run",
    "forget_folder",
    "get_folder",
    "get_upload",
    "list_file_runs",
    "load_imports",
    "load_uploads",
    "pending_uploads",
    "photo_states",
    "save_folder",
    "save_import",
    "set_upload",
    "start_file_run",
    "start_upload",
]

T = TypeVar("T")

_IN_BATCH = 1000  # rows per IN (...) list
MESSAGE_LENGTH = 500
RUN_MESSAGE_LENGTH = 1000

# Every table of this module: uninstall deletes from each (store/uninstall.py).
FILE_TABLES = (FileUploadRow, FileImportRow, FileFolderRow, FileRunRow)


class UploadStatus(StrEnum):
    """Where one version of a photo stands."""

    PENDING = "pending"  # intent written; the POST may or may not have reached Mailchimp
    UPLOADED = "uploaded"  # in the File Manager as `file_id`
    FAILED = "failed"  # not uploaded (throttled, unreachable): sent again on the next run
    REJECTED = "rejected"  # over a limit or refused by Mailchimp: not sent until it changes
    SUPERSEDED = "superseded"  # a newer version was uploaded; this file stays in Mailchimp
    DELETED = "deleted"  # a newer version was uploaded and this file deleted in Mailchimp
    ABANDONED = "abandoned"  # never reached Mailchimp, and the photo has changed since


class TransferDirection(StrEnum):
    PUSH = "push"
    PULL = "pull"


@dataclass(frozen=True)
class RemoteFolder:
    folder_id: int
    name: str
    created_at: datetime


@dataclass(frozen=True)
class Upload:
    id: int
    platform_key: str
    content_hash: str
    name: str  # as sent to Mailchimp
    size: int
    status: UploadStatus
    file_id: int | None
    url: str | None
    width: int | None
    height: int | None
    message: str | None
    attempts: int
    replaces_id: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class FileImport:
    file_id: int
    platform_key: str
    name: str
    size: int
    content_hash: str
    imported_at: datetime


@dataclass(frozen=True)
class FileRun:
    id: str
    installation_id: str
    direction: TransferDirection
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    dry_run: bool
    counts: Mapping[str, Any]
    message: str | None


def _batches(items: Sequence[T], size: int = _IN_BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _cut(message: str | None, length: int = MESSAGE_LENGTH) -> str | None:
    return message[:length] if message else None


# -- the folder ------------------------------------------------------------------------


async def get_folder(*, session: AsyncSession, installation_id: str) -> RemoteFolder | None:
    row = await session.get(FileFolderRow, installation_id, populate_existing=True)
    if row is None:
        return None
    return RemoteFolder(folder_id=row.folder_id, name=row.name, created_at=row.created_at)


async def save_folder(
    *,
    session: AsyncSession,
    installation_id: str,
    folder_id: int,
    name: str,
    now: datetime | None = None,
) -> RemoteFolder:
    """Remember the installation's folder (replacing a previous one, e.g. deleted in Mailchimp)."""
    at = utc(now)
    insert = dialect_insert(session, FileFolderRow)
    await session.execute(
        insert.values(
            installation_id=installation_id, folder_id=folder_id, name=name[:255], created_at=at
        ).on_conflict_do_update(
            index_elements=[FileFolderRow.installation_id],
            set_={"folder_id": folder_id, "name": name[:255], "created_at": at},
        )
    )
    return RemoteFolder(folder_id=folder_id, name=name[:255], created_at=at)


async def forget_folder(*, session: AsyncSession, installation_id: str) -> None:
    await session.execute(
        delete(FileFolderRow)
        .where(FileFolderRow.installation_id == installation_id)
        .execution_options(synchronize_session=False)
    )


# -- uploads ---------------------------------------------------------------------------


def _upload(row: FileUploadRow) -> Upload:
    return Upload(
        id=row.id,
        platform_key=row.platform_key,
        content_hash=row.content_hash,
        name=row.name,
        size=row.size,
        status=UploadStatus(row.status),
        file_id=row.file_id,
        url=row.url,
        width=row.width,
        height=row.height,
        message=row.message,
        attempts=row.attempts,
        replaces_id=row.replaces_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def load_uploads(
    *, session: AsyncSession, installation_id: str, keys: Iterable[str]
) -> dict[str, list[Upload]]:
    """Every version of these photos, oldest first (the last one is the photo's state)."""
    wanted = sorted(set(keys))
    found: dict[str, list[Upload]] = {}
    for batch in _batches(wanted):
        result = await session.execute(
            select(FileUploadRow)
            .where(
                FileUploadRow.installation_id == installation_id,
                FileUploadRow.platform_key.in_(batch),
            )
            .order_by(FileUploadRow.id)
            .execution_options(populate_existing=True)
        )
        for row in result.scalars():
            found.setdefault(row.platform_key, []).append(_upload(row))
    return found


async def get_upload(*, session: AsyncSession, upload_id: int) -> Upload | None:
    row = await session.get(FileUploadRow, upload_id, populate_existing=True)
    return _upload(row) if row is not None else None


async def pending_uploads(*, session: AsyncSession, installation_id: str) -> list[Upload]:
    """Intents without an outcome: uploads a crash (or an unknown outcome) left open."""
    result = await session.execute(
        select(FileUploadRow)
        .where(
            FileUploadRow.installation_id == installation_id,
            FileUploadRow.status == UploadStatus.PENDING.value,
        )
        .order_by(FileUploadRow.id)
        .execution_options(populate_existing=True)
    )
    return [_upload(row) for row in result.scalars()]


async def start_upload(
    *,
    session: AsyncSession,
    installation_id: str,
    platform_key: str,
    content_hash: str,
    name: str,
    size: int,
    status: UploadStatus = UploadStatus.PENDING,
    replaces_id: int | None = None,
    reuse_id: int | None = None,
    message: str | None = None,
    now: datetime | None = None,
) -> int:
    """Write an intent (or a rejection) for one version of a photo; returns the row id.

    `reuse_id` re-arms an earlier row of the same version (failed, or pending
    and not found in the folder) instead of adding one.
    """
    at = utc(now)
    if reuse_id is not None:
        await session.execute(
            update(FileUploadRow)
            .where(FileUploadRow.id == reuse_id, FileUploadRow.installation_id == installation_id)
            .values(
                status=status.value,
                name=name[:255],
                message=_cut(message),
                attempts=FileUploadRow.attempts + 1,
                updated_at=at,
            )
            .execution_options(synchronize_session=False)
        )
        return reuse_id
    row = FileUploadRow(
        installation_id=installation_id,
        platform_key=platform_key,
        content_hash=content_hash,
        name=name[:255],
        size=size,
        status=status.value,
        file_id=None,
        url=None,
        width=None,
        height=None,
        message=_cut(message),
        attempts=1,
        replaces_id=replaces_id,
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    await session.flush()
    upload_id = row.id
    session.expunge(row)
    return upload_id


async def set_upload(
    *,
    session: AsyncSession,
    upload_id: int,
    status: UploadStatus,
    message: str | None = None,
    file_id: int | None = None,
    url: str | None = None,
    width: int | None = None,
    height: int | None = None,
    now: datetime | None = None,
) -> None:
    """Record an outcome. The Mailchimp fields are written only when given."""
    values: dict[str, Any] = {
        "status": status.value,
        "message": _cut(message),
        "updated_at": utc(now),
    }
    if file_id is not None:
        values.update(file_id=file_id, url=url, width=width, height=height)
    await session.execute(
        update(FileUploadRow)
        .where(FileUploadRow.id == upload_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def file_owners(
    *, session: AsyncSession, installation_id: str, file_ids: Iterable[int]
) -> dict[int, Upload]:
    """Mailchimp file id → the upload row that put it there (this installation's files)."""
    wanted = sorted(set(file_ids))
    found: dict[int, Upload] = {}
    for batch in _batches(wanted):
        result = await session.execute(
            select(FileUploadRow)
            .where(
                FileUploadRow.installation_id == installation_id,
                FileUploadRow.file_id.in_(batch),
            )
            .execution_options(populate_existing=True)
        )
        for row in result.scalars():
            assert row.file_id is not None
            found[row.file_id] = _upload(row)
    return found


async def photo_states(
    *,
    session: AsyncSession,
    installation_id: str,
    keys: Iterable[str] | None = None,
) -> dict[str, Upload]:
    """The current state (newest row) of each photo, of `keys` or of every photo."""
    newest = (
        select(func.max(FileUploadRow.id))
        .where(FileUploadRow.installation_id == installation_id)
        .group_by(FileUploadRow.platform_key)
    )
    query = select(FileUploadRow).where(FileUploadRow.id.in_(newest))
    found: dict[str, Upload] = {}
    if keys is None:
        result = await session.execute(query.execution_options(populate_existing=True))
        return {row.platform_key: _upload(row) for row in result.scalars()}
    for batch in _batches(sorted(set(keys))):
        result = await session.execute(
            query.where(FileUploadRow.platform_key.in_(batch)).execution_options(
                populate_existing=True
            )
        )
        found.update({row.platform_key: _upload(row) for row in result.scalars()})
    return found


async def count_uploads(*, session: AsyncSession, installation_id: str) -> dict[UploadStatus, int]:
    """Photos by current status."""
    states = await photo_states(session=session, installation_id=installation_id)
    counts = dict.fromkeys(UploadStatus, 0)
    for state in states.values():
        counts[state.status] += 1
    return counts


# -- imports ---------------------------------------------------------------------------


async def load_imports(
    *, session: AsyncSession, installation_id: str, file_ids: Iterable[int]
) -> dict[int, FileImport]:
    wanted = sorted(set(file_ids))
    found: dict[int, FileImport] = {}
    for batch in _batches(wanted):
        result = await session.execute(
            select(FileImportRow)
            .where(
                FileImportRow.installation_id == installation_id,
                FileImportRow.file_id.in_(batch),
            )
            .execution_options(populate_existing=True)
        )
        for row in result.scalars():
            found[row.file_id] = FileImport(
                file_id=row.file_id,
                platform_key=row.platform_key,
                name=row.name,
                size=row.size,
                content_hash=row.content_hash,
                imported_at=row.imported_at,
            )
    return found


async def save_import(
    *,
    session: AsyncSession,
    installation_id: str,
    file_id: int,
    platform_key: str,
    name: str,
    size: int,
    content_hash: str,
    now: datetime | None = None,
) -> None:
    at = utc(now)
    values = {
        "platform_key": platform_key,
        "name": name[:255],
        "size": size,
        "content_hash": content_hash,
        "imported_at": at,
    }
    insert = dialect_insert(session, FileImportRow).values(
        installation_id=installation_id, file_id=file_id, **values
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[FileImportRow.installation_id, FileImportRow.file_id], set_=values
        )
    )


# -- runs ------------------------------------------------------------------------------


def _run(row: FileRunRow) -> FileRun:
    return FileRun(
        id=row.id,
        installation_id=row.installation_id,
        direction=TransferDirection(row.direction),
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=RunStatus(row.status),
        dry_run=row.dry_run,
        counts=dict(row.counts or {}),
        message=row.message,
    )


INTERRUPTED = "Interrupted: the process stopped before the run finished; the next run resumed it."


async def start_file_run(
    *,
    session: AsyncSession,
    installation_id: str,
    direction: TransferDirection,
    dry_run: bool = False,
    now: datetime | None = None,
) -> FileRun:
    """Record a new run. Runs of the same direction still marked running belong to a
    process that died (one push and one pull per installation at a time): they are
    closed as interrupted."""
    at = utc(now)
    await session.execute(
        update(FileRunRow)
        .where(
            FileRunRow.installation_id == installation_id,
            FileRunRow.direction == direction.value,
            FileRunRow.status == RunStatus.RUNNING.value,
        )
        .values(status=RunStatus.FAILED.value, finished_at=at, message=INTERRUPTED)
        .execution_options(synchronize_session=False)
    )
    row = FileRunRow(
        id=new_id(),
        installation_id=installation_id,
        direction=direction.value,
        started_at=at,
        finished_at=None,
        status=RunStatus.RUNNING.value,
        dry_run=dry_run,
        counts={},
        message=None,
    )
    session.add(row)
    await session.flush()
    run = _run(row)
    session.expunge(row)
    return run


async def finish_file_run(
    *,
    session: AsyncSession,
    run_id: str,
    status: RunStatus,
    counts: Mapping[str, Any],
    message: str | None = None,
    now: datetime | None = None,
) -> None:
    await session.execute(
        update(FileRunRow)
        .where(FileRunRow.id == run_id)
        .values(
            status=status.value,
            finished_at=utc(now),
            counts=dict(counts),
            message=_cut(message, RUN_MESSAGE_LENGTH),
        )
        .execution_options(synchronize_session=False)
    )


async def list_file_runs(
    *,
    session: AsyncSession,
    installation_id: str,
    direction: TransferDirection | None = None,
    limit: int = 20,
) -> list[FileRun]:
    """Newest first."""
    query = select(FileRunRow).where(FileRunRow.installation_id == installation_id)
    if direction is not None:
        query = query.where(FileRunRow.direction == direction.value)
    result = await session.execute(
        query.order_by(FileRunRow.started_at.desc(), FileRunRow.id.desc())
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return [_run(row) for row in result.scalars()]


# -- uninstall -------------------------------------------------------------------------


async def delete_file_state(*, session: AsyncSession, installation_id: str) -> None:
    """Forget every file row of the installation (its files stay in Mailchimp)."""
    for table in FILE_TABLES:
        await session.execute(
            delete(table)
            .where(table.installation_id == installation_id)
            .execution_options(synchronize_session=False)
        )
