"""Reconciliation: repair what lost webhooks missed.

Mailchimp retries a delivery for 75 minutes and may drop or disable a
webhook "at its discretion" (REFERENCE.md §4.1); chimplink may also have
been down. So, periodically, every member changed since the last pass is
listed (`GET /lists/{id}/members?since_last_changed=`, paginated) and put
through the same `apply_members` as a webhook delivery (sync/inbound.py):
members linked to a platform contact whose Mailchimp state differs from the
stored record get their current state applied; members in step cost nothing
more than the listing (reliability.md §2.3; Shopify: "implement
reconciliation jobs").

The watermark is a `sync_checkpoints` row (stream `reconcile`): the time the
pass *started*, minus `overlap` (clock skew between Mailchimp and us; members
changed while the pass ran are listed again next time, which is harmless:
applying is idempotent). It moves only when the pass finished without a
failure, so an interrupted pass is simply repeated. Without a watermark (the
first pass, or after the audience changed) every member is listed.

An address changed in Mailchimp moves the member to a new subscriber hash,
which no record is linked to yet. Members seen before are remembered with
their Mailchimp `contact_id` (which survives the change), so a pass finds
the contact by its former hash even when the `upemail` delivery was lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chimplink.mailchimp import MailchimpClient, subscriber_hash
from chimplink.mailchimp.models.members import Member
from chimplink.platforms import Connector
from chimplink.store.inbox import hashes_of_contacts
from chimplink.store.sync_state import get_checkpoint, linked_keys, set_checkpoint
from chimplink.sync.inbound import (
    MEMBER_FIELDS,
    InboundContext,
    LinkedMember,
    apply_members,
    commit_applied,
    load_context,
)

__all__ = ["RECONCILE_OVERLAP", "RECONCILE_STREAM", "ReconcileReport", "reconcile"]

_log = structlog.get_logger("chimplink.inbound")

RECONCILE_STREAM = "reconcile"  # its watermark's name in sync_checkpoints
RECONCILE_OVERLAP = timedelta(minutes=10)


@dataclass
class ReconcileReport:
    installation_id: str
    since: datetime | None = None  # the watermark this pass listed from (None: everything)
    listed: int = 0  # members changed since then
    linked: int = 0  # ... linked to a platform contact
    errors: int = 0  # members whose change the platform refused (tried again next pass)
    applied: Counter[str] = field(default_factory=Counter)  # change kind → count
    complete: bool = False
    watermark: datetime | None = None  # stored for the next pass (when complete)
    note: str | None = None

    def counts(self) -> dict[str, object]:
        return {
            "listed": self.listed,
            "linked": self.linked,
            "errors": self.errors,
            "applied": dict(self.applied),
            "complete": self.complete,
        }


def _member_hash(member: Member) -> str | None:
    if member.id:
        return member.id
    return subscriber_hash(member.email_address) if member.email_address else None


async def _link(
    sessions: async_sessionmaker[AsyncSession], installation_id: str, page: Sequence[Member]
) -> list[LinkedMember]:
    """The members of a page that are linked to platform contacts (by hash, or by the
    hashes their contact id was seen under)."""
    by_hash = {digest: m for m in page if (digest := _member_hash(m)) is not None}
    async with sessions() as session:
        links = await linked_keys(session=session, installation_id=installation_id, hashes=by_hash)
        unlinked = {
            m.contact_id: digest
            for digest, m in by_hash.items()
            if digest not in links and m.contact_id
        }
        former: dict[str, set[str]] = {}
        if unlinked:
            former = await hashes_of_contacts(
                session=session, installation_id=installation_id, contact_ids=unlinked
            )
        old_links = await linked_keys(
            session=session,
            installation_id=installation_id,
            hashes={h for hashes in former.values() for h in hashes},
        )
    found: list[LinkedMember] = []
    for digest, member in by_hash.items():
        keys = set(links.get(digest, ()))
        if member.contact_id and member.contact_id in unlinked:
            for old in former.get(member.contact_id, ()):
                keys |= old_links.get(old, set())
        if keys:
            found.append(LinkedMember(member, digest, frozenset(keys)))
    return found


async def _apply(
    ctx: InboundContext,
    *,
    sessions: async_sessionmaker[AsyncSession],
    connector: Connector,
    members: Sequence[LinkedMember],
    report: ReconcileReport,
) -> None:
    batch = await apply_members(ctx, sessions=sessions, connector=connector, members=members)
    async with sessions.begin() as session:
        await commit_applied(session, installation_id=ctx.installation_id, batch=batch)
    report.errors += len(batch.errors)
    report.applied.update(type(change).__name__ for change in batch.applied)


async def reconcile(
    *,
    sessions: async_sessionmaker[AsyncSession],
    installation_id: str,
    client: MailchimpClient,
    connector: Connector,
    now: datetime | None = None,
    page_size: int = 1000,
    batch_size: int = 500,
    overlap: timedelta = RECONCILE_OVERLAP,
) -> ReconcileReport:
    """One reconciliation pass for an installation (see the module docstring).

    Mailchimp errors propagate (the pass is repeated later from the same
    watermark); platform refusals are counted per member and retried next pass.
    """
    report = ReconcileReport(installation_id=installation_id)
    started = now or datetime.now(UTC)
    ctx = await load_context(
        sessions=sessions, installation_id=installation_id, client=client, connector=connector
    )
    if ctx is None:
        report.note = "no sync settings: nothing to reconcile"
        report.complete = True
        return report
    async with sessions() as session:
        cursor = await get_checkpoint(
            session=session, installation_id=installation_id, stream=RECONCILE_STREAM
        )
    report.since = datetime.fromisoformat(cursor) if cursor else None
    page: list[Member] = []
    pending: list[LinkedMember] = []
    async for member in client.lists.members.iterate(
        ctx.config.list_id,
        since_last_changed=report.since,
        fields=list(MEMBER_FIELDS),
        page_size=page_size,
    ):
        report.listed += 1
        page.append(member)
        if len(page) >= page_size:
            pending.extend(await _link(sessions, installation_id, page))
            page = []
        if len(pending) >= batch_size:
            report.linked += len(pending)
            await _apply(
                ctx, sessions=sessions, connector=connector, members=pending, report=report
            )
            pending = []
    if page:
        pending.extend(await _link(sessions, installation_id, page))
    if pending:
        report.linked += len(pending)
        await _apply(ctx, sessions=sessions, connector=connector, members=pending, report=report)
    if report.errors == 0:
        report.watermark = started - overlap
        if report.since is not None and report.watermark < report.since:
            report.watermark = report.since
        async with sessions.begin() as session:
            await set_checkpoint(
                session=session,
                installation_id=installation_id,
                stream=RECONCILE_STREAM,
                cursor=report.watermark.isoformat(),
            )
        report.complete = True
    _log.info("inbound.reconciled", installation_id=installation_id, **report.counts())
    return report
