"""Sync state: per-record outcomes, suppressions, checkpoints and runs.

The engine's rule (reliability.md §3.2): a chunk's per-record outcomes and
the checkpoint that passes them are written in ONE transaction, so the
cursor never passes a write Mailchimp has not acknowledged. Repositories
here flush, never commit; the engine owns the transaction.

Emails are personal data: they live in `sync_records` only, are deleted with
the installation (ON DELETE CASCADE) and with an erasure (`delete_records`);
suppressions keep only the subscriber hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chimplink.store._common import dialect_insert, new_id, utc
from chimplink.store.tables import (
    SyncCheckpointRow,
    SyncRecordRow,
    SyncRunRow,
    SyncSuppressionRow,
)

__all__ = [
    "RecordOutcome",
    "RecordUpdate",
    "RunStatus",
    "SyncRecord",
    "SyncRun",
    "clear_checkpoints",
    "count_records",
    "delete_records",
    "finish_run",
    "get_checkpoint",
    "get_run",
    "linked_keys",
    "list_records",
    "list_runs",
    "load_records",
    "save_records",
    "set_checkpoint",
    "start_run",
    "suppress",
    "suppressed",
]

T = TypeVar("T")

# Rows per IN (...) list: well under SQLite's and PostgreSQL's parameter limits.
_IN_BATCH = 1000
REASON_LENGTH = 500
MESSAGE_LENGTH = 1000


class RecordOutcome(StrEnum):
    """The last decision about a record (a run's "unchanged" ones are not rewritten)."""

    SYNCED = "synced"  # Mailchimp acknowledged exactly `content_hash`
    FAILED = "failed"  # will be retried (`content_hash` is NULL): throttling, outages
    PARKED = "parked"  # final for this content: not retried until the record changes
    SKIPPED = "skipped"  # not sent on purpose (no consent and policy "skip"; erased)


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    NEEDS_RECONNECT = "needs_reconnect"


@dataclass(frozen=True)
class SyncRecord:
    platform_key: str
    email: str = field(repr=False)  # personal data: kept out of repr (and so of logs)
    subscriber_hash: str | None  # the Mailchimp member this contact is linked to
    content_hash: str | None
    outcome: RecordOutcome
    reason: str | None
    attempts: int
    tags: frozenset[str]  # managed tags last set on the member
    updated_at: datetime


@dataclass(frozen=True)
class RecordUpdate:
    """A record to write (insert or replace)."""

    platform_key: str
    email: str = field(repr=False)
    subscriber_hash: str | None
    content_hash: str | None
    outcome: RecordOutcome
    reason: str | None = None
    attempts: int = 0
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SyncRun:
    id: str
    installation_id: str
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    dry_run: bool
    full: bool
    counts: Mapping[str, Any]
    message: str | None


def _batches(items: Sequence[T], size: int = _IN_BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _record(row: Any) -> SyncRecord:
    return SyncRecord(
        platform_key=row.platform_key,
        email=row.email,
        subscriber_hash=row.subscriber_hash,
        content_hash=row.content_hash,
        outcome=RecordOutcome(row.outcome),
        reason=row.reason,
        attempts=row.attempts,
        tags=frozenset(str(t) for t in (row.tags or ())),
        updated_at=row.updated_at,
    )


_RECORD_COLUMNS = (
    SyncRecordRow.platform_key,
    SyncRecordRow.email,
    SyncRecordRow.subscriber_hash,
    SyncRecordRow.content_hash,
    SyncRecordRow.outcome,
    SyncRecordRow.reason,
    SyncRecordRow.attempts,
    SyncRecordRow.tags,
    SyncRecordRow.updated_at,
)


# -- records ----------------------------------------------------------------------


async def load_records(
    *, session: AsyncSession, installation_id: str, keys: Iterable[str]
) -> dict[str, SyncRecord]:
    """The stored records of these platform keys (missing keys are absent)."""
    wanted = sorted(set(keys))
    found: dict[str, SyncRecord] = {}
    for batch in _batches(wanted):
        result = await session.execute(
            select(*_RECORD_COLUMNS).where(
                SyncRecordRow.installation_id == installation_id,
                SyncRecordRow.platform_key.in_(batch),
            )
        )
        for row in result:
            found[row.platform_key] = _record(row)
    return found


async def linked_keys(
    *, session: AsyncSession, installation_id: str, hashes: Iterable[str]
) -> dict[str, set[str]]:
    """subscriber hash → the platform keys whose record is linked to that member."""
    wanted = sorted(set(hashes))
    found: dict[str, set[str]] = {}
    for batch in _batches(wanted):
        result = await session.execute(
            select(SyncRecordRow.subscriber_hash, SyncRecordRow.platform_key).where(
                SyncRecordRow.installation_id == installation_id,
                SyncRecordRow.subscriber_hash.in_(batch),
            )
        )
        for digest, key in result:
            if digest is not None:
                found.setdefault(digest, set()).add(key)
    return found


async def save_records(
    *,
    session: AsyncSession,
    installation_id: str,
    records: Sequence[RecordUpdate],
    now: datetime | None = None,
) -> None:
    """Insert or replace records, in bulk (one statement per 1,000 rows)."""
    if not records:
        return
    at = utc(now)
    insert = dialect_insert(session, SyncRecordRow)
    statement = insert.on_conflict_do_update(
        index_elements=[SyncRecordRow.installation_id, SyncRecordRow.platform_key],
        set_={
            "email": insert.excluded.email,
            "subscriber_hash": insert.excluded.subscriber_hash,
            "content_hash": insert.excluded.content_hash,
            "outcome": insert.excluded.outcome,
            "reason": insert.excluded.reason,
            "attempts": insert.excluded.attempts,
            "tags": insert.excluded.tags,
            "updated_at": insert.excluded.updated_at,
        },
    )
    # Core execution on the session's connection: a plain executemany, without
    # the ORM's bulk-insert bookkeeping (a sync commits 500 rows per chunk).
    connection = await session.connection()
    for batch in _batches(records):
        await connection.execute(
            statement,
            [
                {
                    "installation_id": installation_id,
                    "platform_key": record.platform_key,
                    "email": record.email,
                    "subscriber_hash": record.subscriber_hash,
                    "content_hash": record.content_hash,
                    "outcome": record.outcome.value,
                    "reason": record.reason[:REASON_LENGTH] if record.reason else None,
                    "attempts": record.attempts,
                    "tags": sorted(record.tags),
                    "updated_at": at,
                }
                for record in batch
            ],
        )


async def delete_records(
    *, session: AsyncSession, installation_id: str, keys: Iterable[str]
) -> int:
    """Forget records (erasure: the email goes with them). Returns rows deleted."""
    wanted = sorted(set(keys))
    deleted = 0
    for batch in _batches(wanted):
        result = await session.execute(
            delete(SyncRecordRow)
            .where(
                SyncRecordRow.installation_id == installation_id,
                SyncRecordRow.platform_key.in_(batch),
            )
            .execution_options(synchronize_session=False)
        )
        deleted += int(getattr(result, "rowcount", 0) or 0)
    return deleted


async def list_records(
    *,
    session: AsyncSession,
    installation_id: str,
    outcome: RecordOutcome | None = None,
    limit: int = 100,
    after_key: str | None = None,
) -> list[SyncRecord]:
    """Records by platform key (keyset paging with `after_key`), optionally one outcome."""
    query = select(*_RECORD_COLUMNS).where(SyncRecordRow.installation_id == installation_id)
    if outcome is not None:
        query = query.where(SyncRecordRow.outcome == outcome.value)
    if after_key is not None:
        query = query.where(SyncRecordRow.platform_key > after_key)
    result = await session.execute(query.order_by(SyncRecordRow.platform_key).limit(limit))
    return [_record(row) for row in result]


async def count_records(*, session: AsyncSession, installation_id: str) -> dict[RecordOutcome, int]:
    result = await session.execute(
        select(SyncRecordRow.outcome, func.count())
        .where(SyncRecordRow.installation_id == installation_id)
        .group_by(SyncRecordRow.outcome)
    )
    counts = dict.fromkeys(RecordOutcome, 0)
    for outcome, count in result:
        counts[RecordOutcome(outcome)] = int(count)
    return counts


# -- suppressions -------------------------------------------------------------------


async def suppress(
    *,
    session: AsyncSession,
    installation_id: str,
    hashes: Iterable[str],
    reason: str = "erased",
    now: datetime | None = None,
) -> None:
    """Never send these members again (idempotent)."""
    wanted = sorted(set(hashes))
    if not wanted:
        return
    at = utc(now)
    insert = dialect_insert(session, SyncSuppressionRow)
    statement = insert.on_conflict_do_nothing(
        index_elements=[SyncSuppressionRow.installation_id, SyncSuppressionRow.subscriber_hash]
    )
    for batch in _batches(wanted):
        await session.execute(
            statement,
            [
                {
                    "installation_id": installation_id,
                    "subscriber_hash": digest,
                    "reason": reason[:40],
                    "created_at": at,
                }
                for digest in batch
            ],
        )


async def suppressed(
    *, session: AsyncSession, installation_id: str, hashes: Iterable[str]
) -> set[str]:
    """The subset of `hashes` that must never be sent."""
    wanted = sorted(set(hashes))
    found: set[str] = set()
    for batch in _batches(wanted):
        result = await session.execute(
            select(SyncSuppressionRow.subscriber_hash).where(
                SyncSuppressionRow.installation_id == installation_id,
                SyncSuppressionRow.subscriber_hash.in_(batch),
            )
        )
        found.update(result.scalars())
    return found


# -- checkpoints --------------------------------------------------------------------


async def get_checkpoint(*, session: AsyncSession, installation_id: str, stream: str) -> str | None:
    return (
        await session.execute(
            select(SyncCheckpointRow.cursor).where(
                SyncCheckpointRow.installation_id == installation_id,
                SyncCheckpointRow.stream == stream,
            )
        )
    ).scalar_one_or_none()


async def set_checkpoint(
    *,
    session: AsyncSession,
    installation_id: str,
    stream: str,
    cursor: str,
    now: datetime | None = None,
) -> None:
    at = utc(now)
    insert = dialect_insert(session, SyncCheckpointRow)
    await session.execute(
        insert.values(
            installation_id=installation_id, stream=stream, cursor=cursor, updated_at=at
        ).on_conflict_do_update(
            index_elements=[SyncCheckpointRow.installation_id, SyncCheckpointRow.stream],
            set_={"cursor": insert.excluded.cursor, "updated_at": insert.excluded.updated_at},
        )
    )


async def clear_checkpoints(
    *, session: AsyncSession, installation_id: str, stream: str | None = None
) -> None:
    """Start reading the platform from the beginning (content hashes still apply)."""
    statement = delete(SyncCheckpointRow).where(
        SyncCheckpointRow.installation_id == installation_id
    )
    if stream is not None:
        statement = statement.where(SyncCheckpointRow.stream == stream)
    await session.execute(statement.execution_options(synchronize_session=False))


# -- runs ---------------------------------------------------------------------------


def _run(row: SyncRunRow) -> SyncRun:
    return SyncRun(
        id=row.id,
        installation_id=row.installation_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=RunStatus(row.status),
        dry_run=row.dry_run,
        full=row.full,
        counts=dict(row.counts or {}),
        message=row.message,
    )


INTERRUPTED = "Interrupted: the process stopped before the run finished; the next run resumed it."


async def start_run(
    *,
    session: AsyncSession,
    installation_id: str,
    dry_run: bool = False,
    full: bool = False,
    now: datetime | None = None,
) -> SyncRun:
    """Record a new run. Runs of this installation still marked running are closed
    as failed (interrupted): the jobs layer runs one sync per installation at a
    time, so a "running" row seen now belongs to a process that died."""
    at = utc(now)
    await session.execute(
        update(SyncRunRow)
        .where(
            SyncRunRow.installation_id == installation_id,
            SyncRunRow.status == RunStatus.RUNNING.value,
        )
        .values(status=RunStatus.FAILED.value, finished_at=at, message=INTERRUPTED)
        .execution_options(synchronize_session=False)
    )
    row = SyncRunRow(
        id=new_id(),
        installation_id=installation_id,
        started_at=at,
        finished_at=None,
        status=RunStatus.RUNNING.value,
        dry_run=dry_run,
        full=full,
        counts={},
        message=None,
    )
    session.add(row)
    await session.flush()
    return _run(row)


async def finish_run(
    *,
    session: AsyncSession,
    run_id: str,
    status: RunStatus,
    counts: Mapping[str, Any],
    message: str | None = None,
    now: datetime | None = None,
) -> None:
    await session.execute(
        update(SyncRunRow)
        .where(SyncRunRow.id == run_id)
        .values(
            status=status.value,
            finished_at=utc(now),
            counts=dict(counts),
            message=message[:MESSAGE_LENGTH] if message else None,
        )
        .execution_options(synchronize_session=False)
    )


async def get_run(*, session: AsyncSession, run_id: str) -> SyncRun | None:
    row = await session.get(SyncRunRow, run_id, populate_existing=True)
    return _run(row) if row is not None else None


async def list_runs(
    *, session: AsyncSession, installation_id: str, limit: int = 20
) -> list[SyncRun]:
    """Newest first."""
    result = await session.execute(
        select(SyncRunRow)
        .where(SyncRunRow.installation_id == installation_id)
        .order_by(SyncRunRow.started_at.desc(), SyncRunRow.id.desc())
        .limit(limit)
    )
    return [_run(row) for row in result.scalars()]
