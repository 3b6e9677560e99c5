"""The webhook inbox: deliveries stored by the receiver, drained by the inbound processor.

    receiver:   add_delivery() (duplicate → False) | add_dead_letter() (malformed)
    processor:  claim_inbox() → finish_inbox_items() | retry_inbox_item() | fail_inbox_item()
    job:        installations_with_pending_inbox(), prune_inbox()

The receiver stores, commits, then answers 200 (reliability.md §2.4): a
delivery is durable before Mailchimp stops retrying it. `dedupe_key` is
unique per installation, so the same delivery posted five times (Mailchimp
retries, or concurrent duplicates) is one row, atomically.

Claims are leases (as `cleanup.py`): a claimed row's `next_attempt_at` moves
`lease` ahead, so a second worker does not take it, and a crashed worker's
rows come back when the lease ends. Processing is idempotent, so a row
processed twice applies nothing new.

Retention (the body holds personal data):

- a processed delivery's body is set to NULL at once; the row (key, type,
  times, PII-free note) stays `PROCESSED_RETENTION` so late retries of the
  same delivery are still recognised (Mailchimp retries for 75 minutes), then
  it is deleted;
- a delivery that failed for good keeps its body `FAILED_RETENTION`, to
  diagnose it, then goes (reconciliation repairs what it would have done);
- a delivery never processed (no processor configured) goes after
  `FAILED_RETENTION` too;
- dead letters keep at most `DEAD_LETTER_BODY_LIMIT` bytes of body for
  `DEAD_LETTER_RETENTION`;
- everything goes at once with the installation (ON DELETE CASCADE).

Repositories flush, never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chimplink.store._common import dialect_insert, utc
from chimplink.store.tables import DeadLetterRow, InboundMemberRow, InboxRow

__all__ = [
    "DEAD_LETTER_BODY_LIMIT",
    "DEAD_LETTER_RETENTION",
    "FAILED_RETENTION",
    "INBOX_LEASE",
    "PROCESSED_RETENTION",
    "DeadLetter",
    "InboxItem",
    "InboxStatus",
    "PruneResult",
    "SeenMember",
    "add_dead_letter",
    "add_delivery",
    "claim_inbox",
    "count_inbox",
    "fail_inbox_item",
    "finish_inbox_items",
    "get_seen_members",
    "hashes_of_contacts",
    "installations_with_pending_inbox",
    "list_dead_letters",
    "list_inbox",
    "prune_inbox",
    "record_seen_members",
    "release_inbox_items",
    "retry_inbox_item",
]

INBOX_LEASE = timedelta(minutes=5)
PROCESSED_RETENTION = timedelta(hours=48)
FAILED_RETENTION = timedelta(days=7)
DEAD_LETTER_RETENTION = timedelta(days=14)
DEAD_LETTER_BODY_LIMIT = 8 * 1024  # bytes: Mailchimp's deliveries are far smaller

NOTE_LENGTH = 200
ERROR_LENGTH = 500
REASON_LENGTH = 500
_IN_BATCH = 1000


class InboxStatus(StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"  # gave up after repeated failures (reconciliation repairs)


@dataclass(frozen=True)
class InboxItem:
    id: int
    installation_id: str
    dedupe_key: str
    event_type: str
    received_at: datetime
    body: str | None = field(repr=False)  # personal data: kept out of repr (and logs)
    status: InboxStatus
    attempts: int
    next_attempt_at: datetime
    processed_at: datetime | None
    note: str | None
    last_error: str | None


@dataclass(frozen=True)
class DeadLetter:
    id: int
    installation_id: str
    received_at: datetime
    reason: str
    body: str = field(repr=False)
    body_size: int


@dataclass(frozen=True)
class PruneResult:
    processed: int
    failed: int
    dead_letters: int


def _item(row: InboxRow) -> InboxItem:
    return InboxItem(
        id=row.id,
        installation_id=row.installation_id,
        dedupe_key=row.dedupe_key,
        event_type=row.event_type,
        received_at=row.received_at,
        body=row.body,
        status=InboxStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        processed_at=row.processed_at,
        note=row.note,
        last_error=row.last_error,
    )


def _cut(text: str | None, limit: int) -> str | None:
    return text[:limit] if text else None


# -- the receiver ----------------------------------------------------------------------


async def add_delivery(
    *,
    session: AsyncSession,
    installation_id: str,
    dedupe_key: str,
    event_type: str,
    body: str,
    now: datetime | None = None,
) -> bool:
    """Store a delivery; False if one with this key is already there (nothing written)."""
    at = utc(now)
    insert = dialect_insert(session, InboxRow)
    result = await session.execute(
        insert.values(
            installation_id=installation_id,
            dedupe_key=dedupe_key,
            event_type=event_type[:40],
            received_at=at,
            body=body,
            status=InboxStatus.PENDING.value,
            attempts=0,
            next_attempt_at=at,
        )
        .on_conflict_do_nothing(index_elements=[InboxRow.installation_id, InboxRow.dedupe_key])
        .returning(InboxRow.id)
    )
    # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
    return result.scalar_one_or_none() is not None


async def add_dead_letter(
    *,
    session: AsyncSession,
    installation_id: str,
    reason: str,
    body: bytes,
    now: datetime | None = None,
) -> None:
    """Keep a refused delivery with the reason (the body cut to DEAD_LETTER_BODY_LIMIT bytes)."""
    kept = body[:DEAD_LETTER_BODY_LIMIT].decode("utf-8", errors="replace")
    session.add(
        DeadLetterRow(
            installation_id=installation_id,
            received_at=utc(now),
            reason=reason[:REASON_LENGTH],
            body=kept,
            body_size=len(body),
        )
    )
    await session.flush()


# -- the processor ---------------------------------------------------------------------


async def claim_inbox(
    *,
    session: AsyncSession,
    installation_id: str,
    now: datetime | None = None,
    limit: int = 100,
    lease: timedelta = INBOX_LEASE,
) -> list[InboxItem]:
    """Pending deliveries due now, oldest first, each leased to this caller for `lease`."""
    at = utc(now)
    rows = (
        (
            await session.execute(
                select(InboxRow)
                .where(
                    InboxRow.installation_id == installation_id,
                    InboxRow.status == InboxStatus.PENDING.value,
                    InboxRow.next_attempt_at <= at,
                )
                .order_by(InboxRow.id)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    claimed: list[InboxItem] = []
    for row in rows:
        # Optimistic claim: only one caller moves next_attempt_at from the value it read.
        result = await session.execute(
            update(InboxRow)
            .where(InboxRow.id == row.id, InboxRow.next_attempt_at == row.next_attempt_at)
            .values(next_attempt_at=at + lease)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0):
            claimed.append(_item(row))
    return claimed


async def finish_inbox_items(
    *,
    session: AsyncSession,
    notes: Mapping[int, str],
    now: datetime | None = None,
) -> None:
    """Mark deliveries processed (id → PII-free note); their bodies are deleted now."""
    at = utc(now)
    by_note: dict[str, list[int]] = {}
    for item_id, note in notes.items():
        by_note.setdefault(note[:NOTE_LENGTH], []).append(item_id)
    for note, ids in by_note.items():
        for start in range(0, len(ids), _IN_BATCH):
            await session.execute(
                update(InboxRow)
                .where(InboxRow.id.in_(ids[start : start + _IN_BATCH]))
                .values(
                    status=InboxStatus.PROCESSED.value,
                    body=None,
                    processed_at=at,
                    note=note,
                    last_error=None,
                )
                .execution_options(synchronize_session=False)
            )


async def retry_inbox_item(
    *,
    session: AsyncSession,
    item_id: int,
    error: str,
    retry_at: datetime,
) -> None:
    """A failure worth retrying: count it, keep the body, try again at `retry_at`."""
    await session.execute(
        update(InboxRow)
        .where(InboxRow.id == item_id)
        .values(
            attempts=InboxRow.attempts + 1,
            last_error=_cut(error, ERROR_LENGTH),
            next_attempt_at=utc(retry_at),
        )
        .execution_options(synchronize_session=False)
    )


async def release_inbox_items(
    *, session: AsyncSession, item_ids: Iterable[int], now: datetime | None = None
) -> None:
    """Give claimed deliveries back untouched (no attempt counted), due at `now`."""
    ids = sorted(set(item_ids))
    for start in range(0, len(ids), _IN_BATCH):
        await session.execute(
            update(InboxRow)
            .where(
                InboxRow.id.in_(ids[start : start + _IN_BATCH]),
                InboxRow.status == InboxStatus.PENDING.value,
            )
            .values(next_attempt_at=utc(now))
            .execution_options(synchronize_session=False)
        )


async def fail_inbox_item(
    *,
    session: AsyncSession,
    item_id: int,
    error: str,
    now: datetime | None = None,
) -> None:
    """Give up on a delivery (kept `FAILED_RETENTION` for diagnosis)."""
    at = utc(now)
    await session.execute(
        update(InboxRow)
        .where(InboxRow.id == item_id)
        .values(
            status=InboxStatus.FAILED.value,
            attempts=InboxRow.attempts + 1,
            last_error=_cut(error, ERROR_LENGTH),
            processed_at=at,
        )
        .execution_options(synchronize_session=False)
    )


async def installations_with_pending_inbox(
    *, session: AsyncSession, now: datetime | None = None
) -> list[str]:
    """Installations with deliveries due now."""
    result = await session.execute(
        select(InboxRow.installation_id)
        .where(
            InboxRow.status == InboxStatus.PENDING.value,
            InboxRow.next_attempt_at <= utc(now),
        )
        .distinct()
        .order_by(InboxRow.installation_id)
    )
    return list(result.scalars())


# -- reading -----------------------------------------------------------------------------


async def list_inbox(
    *,
    session: AsyncSession,
    installation_id: str,
    status: InboxStatus | None = None,
    limit: int = 100,
) -> list[InboxItem]:
    """Deliveries of an installation, oldest first."""
    query = select(InboxRow).where(InboxRow.installation_id == installation_id)
    if status is not None:
        query = query.where(InboxRow.status == status.value)
    result = await session.execute(query.order_by(InboxRow.id).limit(limit))
    return [_item(row) for row in result.scalars()]


async def count_inbox(*, session: AsyncSession, installation_id: str) -> dict[InboxStatus, int]:
    result = await session.execute(
        select(InboxRow.status, func.count())
        .where(InboxRow.installation_id == installation_id)
        .group_by(InboxRow.status)
    )
    counts = dict.fromkeys(InboxStatus, 0)
    for status, count in result:
        counts[InboxStatus(status)] = int(count)
    return counts


async def list_dead_letters(
    *, session: AsyncSession, installation_id: str, limit: int = 100
) -> list[DeadLetter]:
    """Refused deliveries of an installation, newest first."""
    result = await session.execute(
        select(DeadLetterRow)
        .where(DeadLetterRow.installation_id == installation_id)
        .order_by(DeadLetterRow.id.desc())
        .limit(limit)
    )
    return [
        DeadLetter(
            id=row.id,
            installation_id=row.installation_id,
            received_at=row.received_at,
            reason=row.reason,
            body=row.body,
            body_size=row.body_size,
        )
        for row in result.scalars()
    ]


# -- retention -------------------------------------------------------------------------


async def prune_inbox(*, session: AsyncSession, now: datetime | None = None) -> PruneResult:
    """Delete what retention no longer keeps (see the module docstring)."""
    at = utc(now)
    processed = await session.execute(
        delete(InboxRow)
        .where(
            InboxRow.status == InboxStatus.PROCESSED.value,
            InboxRow.received_at < at - PROCESSED_RETENTION,
        )
        .execution_options(synchronize_session=False)
    )
    stale = await session.execute(
        delete(InboxRow)
        .where(
            or_(
                InboxRow.status == InboxStatus.FAILED.value,
                InboxRow.status == InboxStatus.PENDING.value,
            ),
            InboxRow.received_at < at - FAILED_RETENTION,
        )
        .execution_options(synchronize_session=False)
    )
    letters = await session.execute(
        delete(DeadLetterRow)
        .where(DeadLetterRow.received_at < at - DEAD_LETTER_RETENTION)
        .execution_options(synchronize_session=False)
    )
    return PruneResult(
        processed=int(getattr(processed, "rowcount", 0) or 0),
        failed=int(getattr(stale, "rowcount", 0) or 0),
        dead_letters=int(getattr(letters, "rowcount", 0) or 0),
    )


# -- what was last seen of each member -----------------------------------------------


@dataclass(frozen=True)
class SeenMember:
    """A member as the inbound side last saw it (see `InboundMemberRow`)."""

    subscriber_hash: str
    contact_id: str | None
    last_changed: datetime | None  # the newest version applied to the platform


async def get_seen_members(
    *, session: AsyncSession, installation_id: str, hashes: Iterable[str]
) -> dict[str, SeenMember]:
    """subscriber hash → what was last seen (absent: never seen)."""
    wanted = sorted(set(hashes))
    found: dict[str, SeenMember] = {}
    for start in range(0, len(wanted), _IN_BATCH):
        result = await session.execute(
            select(
                InboundMemberRow.subscriber_hash,
                InboundMemberRow.contact_id,
                InboundMemberRow.last_changed,
            ).where(
                InboundMemberRow.installation_id == installation_id,
                InboundMemberRow.subscriber_hash.in_(wanted[start : start + _IN_BATCH]),
            )
        )
        for digest, contact_id, changed in result:
            found[digest] = SeenMember(digest, contact_id, changed)
    return found


async def hashes_of_contacts(
    *, session: AsyncSession, installation_id: str, contact_ids: Iterable[str]
) -> dict[str, set[str]]:
    """Mailchimp contact id → every subscriber hash it was seen under (its addresses)."""
    wanted = sorted(set(contact_ids))
    found: dict[str, set[str]] = {}
    for start in range(0, len(wanted), _IN_BATCH):
        result = await session.execute(
            select(InboundMemberRow.contact_id, InboundMemberRow.subscriber_hash).where(
                InboundMemberRow.installation_id == installation_id,
                InboundMemberRow.contact_id.in_(wanted[start : start + _IN_BATCH]),
            )
        )
        for contact_id, digest in result:
            if contact_id is not None:
                found.setdefault(contact_id, set()).add(digest)
    return found


async def record_seen_members(
    *,
    session: AsyncSession,
    installation_id: str,
    members: Iterable[SeenMember],
    now: datetime | None = None,
) -> None:
    """Remember members; a version never moves backwards, a known contact id is kept."""
    at = utc(now)
    rows = [
        {
            "installation_id": installation_id,
            "subscriber_hash": seen.subscriber_hash,
            "contact_id": seen.contact_id,
            "last_changed": utc(seen.last_changed) if seen.last_changed is not None else None,
            "updated_at": at,
        }
        for seen in sorted(members, key=lambda m: m.subscriber_hash)
    ]
    if not rows:
        return
    insert = dialect_insert(session, InboundMemberRow)
    current, offered = InboundMemberRow.last_changed, insert.excluded.last_changed
    # One atomic statement: concurrent writers can only move a version forwards.
    statement = insert.on_conflict_do_update(
        index_elements=[InboundMemberRow.installation_id, InboundMemberRow.subscriber_hash],
        set_={
            "contact_id": func.coalesce(insert.excluded.contact_id, InboundMemberRow.contact_id),
            "last_changed": case(
                (offered.is_(None), current),
                (current.is_(None), offered),
                (offered > current, offered),
                else_=current,
            ),
            "updated_at": insert.excluded.updated_at,
        },
    )
    for start in range(0, len(rows), _IN_BATCH):
        await session.execute(statement, rows[start : start + _IN_BATCH])
