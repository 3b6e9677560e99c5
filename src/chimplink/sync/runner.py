"""Chunks to Mailchimp, outcomes and checkpoints to the database.

    producer ─ read 500 contacts after the checkpoint ─ plan (sync records) ─┐
                                                                             ▼ queue (2)
    workers (max_in_flight) ─ batch subscribe + member calls ─ commit outcomes + checkpoint

Writes (REFERENCE.md §8):

- new contacts: batch subscribe with `update_existing: false` and `status`
  = the contact's `status_if_new`. Batch subscribe has no `status_if_new`
  and its `status` overwrites existing members (§8.3), so creating is the
  only time a status is sent: an address already on the audience comes back
  as ERROR_CONTACT_EXISTS untouched, and is then updated without a status;
- known contacts: batch subscribe with `update_existing: true` and no status.
  A member that is no longer at the address it was linked to answers "status
  required": it was deleted in Mailchimp, or its address changed there (an
  `upemail` not taken in yet). Its contact id tells which (member endpoints
  take one in place of the hash): a deleted member is added again (refused,
  and the address suppressed, if it was deleted permanently); a moved one is
  never created again at the old address (a second member for the same
  person, subscribed by `status_if_new` even if they had unsubscribed): the
  record waits, retried, until the inbound side follows the member to its new
  address (reconcile.py finds it by contact id). Without a known contact id it
  waits too;
- an email change: PATCH of the OLD member with the new `email_address`
  (changed in place, never duplicated). A 404 means the PATCH already went
  through (a retried request) or the member moved: the new address is then
  updated if it is there, and the record waits otherwise, as above;
- contact ids: Mailchimp's id of each member written is remembered with its
  subscriber hash (`inbound_members`), so a later address change made in
  Mailchimp can be followed even if its webhook is lost;
- tags: added with the member; managed tags whose label is gone are set
  inactive per member. `sync_tags` is never used: it would remove the
  user's own tags too;
- a known contact whose address and fields Mailchimp already holds (only its
  labels or its consent changed) is not written again: its tags change by one
  tags call, and a change of consent alone costs nothing (`status_if_new` is
  never sent to an existing member). One platform change, one write at most.
  A full run (`full=True`) writes every member again, as before.

Checkpoints (reliability.md §3.2): chunks run concurrently, but the
checkpoint moves only over a contiguous prefix of acknowledged chunks, in the
same transaction as their records, so it never passes an unacknowledged
write. A chunk is acknowledged when each of its records has a final outcome
(synced, unchanged, parked, skipped). Records whose outcome is unknown or
retry-later are re-sent a few times within the run; whatever is left keeps
the checkpoint before its chunk, so the next run re-reads it (the others
after it are then "unchanged": no call). A killed run therefore re-sends at
most the chunks that were in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chimplink.mailchimp import (
    BATCH_SUBSCRIBE_OUTCOME_FIELDS,
    InvalidRequestError,
    MailchimpClient,
    MailchimpError,
    NotFoundError,
    WritableStatus,
)
from chimplink.platforms import Connector, ConnectorError, Contact, Erasure
from chimplink.store.inbox import SeenMember, get_seen_members, record_seen_members
from chimplink.store.sync_config import add_managed_tags
from chimplink.store.sync_state import (
    RecordOutcome,
    RecordUpdate,
    RunStatus,
    SyncRecord,
    delete_records,
    linked_keys,
    load_records,
    save_records,
    set_checkpoint,
    suppress,
    suppressed,
)
from chimplink.sync.classify import Action, Decision, Reason, classify
from chimplink.sync.mapping import MemberPolicy
from chimplink.sync.planner import (
    SENDS,
    Kind,
    PlannedItem,
    content_hash,
    email_hash,
    plan_chunk,
)
from chimplink.sync.report import PlannedChange, Progress, ProgressCallback, SyncOptions, SyncReport
from chimplink.sync.streams import (
    CONTACTS,
    ERASURES,
    latest_per_key,
    read_contacts,
    read_erasures,
)

__all__ = ["CallCounter", "Halt", "Runner", "to_completion"]

_log = structlog.get_logger("chimplink.sync")

T = TypeVar("T")
Mode = Literal["create", "update", "patch", "tags"]
_STATUSES: tuple[WritableStatus, ...] = ("subscribed", "pending", "transactional")
_MAX_SWITCHES = 2  # create ⇄ update hops per record and round
# What batch subscribe reports back: outcomes, and each member's contact id (see above).
_OUTCOME_FIELDS = (
    *BATCH_SUBSCRIBE_OUTCOME_FIELDS,
    "new_members.contact_id",
    "updated_members.contact_id",
)


async def to_completion(work: Coroutine[object, object, T]) -> T:
    """Run a database transaction to its end even if the run is cancelled meanwhile.

    A transaction cut off mid-statement can leave its connection holding
    SQLite's write lock until it is garbage-collected; finishing the (short)
    transaction first, then honouring the cancellation, keeps the outcomes
    and the checkpoint atomic and the database usable.
    """
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError as error:
            if task.done():
                raise
            cancelled = error
        else:
            break
    if cancelled is not None:
        raise cancelled
    return result


@dataclass
class CallCounter:
    """API calls the run made (logical calls; the client's retries are not counted)."""

    reads: int = 0
    writes: int = 0

    def __call__(self, kind: Literal["read", "write"]) -> None:
        if kind == "write":
            self.writes += 1
        else:
            self.reads += 1

    @property
    def total(self) -> int:
        return self.reads + self.writes


@dataclass(frozen=True)
class Halt:
    """Why a run stops early."""

    status: RunStatus
    message: str
    decision: Decision | None = None


@dataclass(eq=False)
class _Chunk:
    seq: int
    items: list[PlannedItem]
    locks: list[str]
    event: asyncio.Event
    last_cursor: str


@dataclass(eq=False)
class _Send:
    item: PlannedItem
    mode: Mode
    switches: int = 0
    member_done: bool = False
    created: bool = False
    tags_done: bool = False
    final: Decision | None = None
    retry: Decision | None = None
    halted: bool = False
    waits: bool = False  # retried in a later run only (the member moved in Mailchimp)
    wrote: bool = False  # Mailchimp acknowledged a write for this contact
    contact_id: str | None = None  # Mailchimp's id of the member written

    @property
    def finished(self) -> bool:
        return self.final is not None or (self.member_done and self.tags_done)

    @property
    def email_key(self) -> str:
        assert self.item.payload is not None
        return self.item.payload.email_address.strip().lower()

    def tag_ops(self) -> dict[str, bool]:
        """Tag changes beyond what the member write did (batch subscribe adds tags)."""
        assert self.item.payload is not None
        ops = {name: False for name in self.item.remove_tags}
        if self.mode in ("patch", "tags"):
            # A PATCH carries no tags (§8.2), and the member keeps the ones it has:
            # only tags it did not get yet are added (an address change alone is
            # one write).
            record = self.item.record
            known = record.tags if record is not None else frozenset()
            ops.update(dict.fromkeys(set(self.item.payload.tags) - known, True))
        return ops

    @property
    def linked(self) -> bool:
        """Whether this write goes to a member chimplink linked the contact to before."""
        return self.item.kind in (Kind.UPDATE, Kind.EMAIL_CHANGE)


@dataclass
class _ChunkResult:
    records: list[RecordUpdate] = field(default_factory=list)
    suppress: list[str] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)
    seen: list[SeenMember] = field(default_factory=list)  # members written: their contact ids
    acked: bool = True
    sent: int = 0


class Runner:
    """One run's work for one installation (build a new one per run)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        installation_id: str,
        client: MailchimpClient,
        connector: Connector,
        list_id: str,
        policy: MemberPolicy,
        managed_tags: frozenset[str],
        options: SyncOptions,
        report: SyncReport,
        calls: CallCounter,
        full: bool = False,
        progress: ProgressCallback | None = None,
        total: int | None = None,
    ) -> None:
        self.sessions = sessions
        self.installation_id = installation_id
        self.client = client
        self.connector = connector
        self.list_id = list_id
        self.policy = policy
        self.managed_tags = set(managed_tags)
        self.options = options
        self.report = report
        self.calls = calls
        self.full = full
        self.progress = progress
        self.total = total
        self.halt: Halt | None = None
        self.checkpoint: str | None = None
        self._started = options.clock()
        self._done = 0
        self._sent = 0
        self._inflight: dict[str, asyncio.Event] = {}
        self._settled: dict[int, tuple[bool, str]] = {}
        self._next_seq = 0
        self._commit_lock = asyncio.Lock()

    # -- stopping ---------------------------------------------------------------------

    def stop(self, decision: Decision) -> None:
        if self.halt is not None:
            return
        status = (
            RunStatus.NEEDS_RECONNECT
            if decision.action is Action.NEEDS_RECONNECT
            else RunStatus.FAILED
        )
        self.halt = Halt(status=status, message=decision.user_message, decision=decision)
        _log.warning(
            "sync.stopped",
            installation_id=self.installation_id,
            action=decision.action.value,
            reason=decision.reason.value,
        )

    def _apply(self, send: _Send, decision: Decision) -> None:
        if decision.action is Action.RETRY_LATER:
            send.retry = decision
        elif decision.action is Action.FINAL_FOR_RECORD:
            send.final = decision
        else:
            send.halted = True
            self.stop(decision)

    # -- planning ---------------------------------------------------------------------

    async def _read_state(
        self, contacts: Sequence[Contact], hashes: set[str]
    ) -> tuple[dict[str, SyncRecord], dict[str, set[str]], set[str]]:
        async with self.sessions() as session:
            records = await load_records(
                session=session,
                installation_id=self.installation_id,
                keys=[c.key for c in contacts],
            )
            linked = await linked_keys(
                session=session, installation_id=self.installation_id, hashes=hashes
            )
            blocked = await suppressed(
                session=session, installation_id=self.installation_id, hashes=hashes
            )
        return records, linked, blocked

    async def _plan(
        self, contacts: Sequence[Contact], hashes: set[str] | None = None
    ) -> list[PlannedItem]:
        if hashes is None:
            hashes = {h for c in contacts if (h := email_hash(c.email)) is not None}
        records, linked, blocked = await to_completion(self._read_state(contacts, hashes))
        return plan_chunk(
            contacts,
            policy=self.policy,
            records=records,
            linked=linked,
            suppressed=blocked,
            managed_tags=self.managed_tags,
            full=self.full,
        )

    # -- the contacts stream ----------------------------------------------------------

    async def sync_contacts(self, *, after: str | None) -> bool:
        """Send every contact after `after`. True when every chunk was acknowledged."""
        self.checkpoint = after
        queue: asyncio.Queue[_Chunk | None] = asyncio.Queue(maxsize=2)
        workers = self.options.max_in_flight
        produced = 0
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(self._work(queue))
            # On an error (or cancellation) here the task group cancels the
            # workers: whatever they had not committed stays unacknowledged.
            produced = await self._produce(queue, after=after)
            for _ in range(workers):
                await queue.put(None)
        return self.halt is None and self._next_seq == produced

    async def _produce(self, queue: asyncio.Queue[_Chunk | None], *, after: str | None) -> int:
        seq = 0
        previous = after
        try:
            async for raw in read_contacts(
                self.connector, after=after, size=self.options.chunk_size
            ):
                if self.halt is not None:
                    break
                if not _in_cursor_order(raw, previous):
                    # A checkpoint taken from an unordered stream could skip
                    # contacts after a crash (meltano's InvalidStreamSortException).
                    self.halt = Halt(
                        RunStatus.FAILED,
                        f"The platform connector {self.connector.name!r} returned contacts out "
                        "of cursor order; chimplink cannot checkpoint safely. Fix the connector's "
                        "cursor (it must grow strictly, e.g. updated_at plus the key).",
                    )
                    break
                previous = raw[-1].cursor
                contacts = latest_per_key(raw)
                self.report.read += len(raw)
                hashes = {h for c in contacts if (h := email_hash(c.email)) is not None}
                locks = [f"k:{c.key}" for c in contacts] + [f"h:{h}" for h in hashes]
                event = await self._acquire(locks)
                items = await self._plan(contacts, hashes)
                await queue.put(_Chunk(seq, items, locks, event, raw[-1].cursor))
                seq += 1
        except ConnectorError as exc:
            self.halt = Halt(RunStatus.FAILED, f"The platform's data could not be read: {exc}")
        return seq

    async def _acquire(self, locks: Sequence[str]) -> asyncio.Event:
        """Wait until no chunk in flight shares a contact or an address with these."""
        while True:
            waits = {self._inflight[lock] for lock in locks if lock in self._inflight}
            if not waits:
                break
            await asyncio.gather(*(event.wait() for event in waits))
        event = asyncio.Event()
        for lock in locks:
            self._inflight[lock] = event
        return event

    def _release(self, chunk: _Chunk) -> None:
        for lock in chunk.locks:
            if self._inflight.get(lock) is chunk.event:
                del self._inflight[lock]
        chunk.event.set()

    async def _work(self, queue: asyncio.Queue[_Chunk | None]) -> None:
        while (chunk := await queue.get()) is not None:
            try:
                if self.halt is None:
                    result = await self._execute(chunk)
                    await self._commit(chunk, result)
            finally:
                self._release(chunk)

    # -- executing one chunk ----------------------------------------------------------

    async def _execute(self, chunk: _Chunk) -> _ChunkResult:
        sends = [
            _Send(item, "create" if item.kind is Kind.CREATE else "update")
            for item in chunk.items
            if item.kind in SENDS
        ]
        for send in sends:
            if send.item.kind is Kind.EMAIL_CHANGE:
                send.mode = "patch"
            elif not self.full and _member_in_step(send.item, self.list_id):
                send.mode, send.member_done = "tags", True
                send.tags_done = not send.tag_ops()
        for round_number in range(self.options.retry_rounds + 1):
            active = [s for s in sends if not s.finished and not s.halted and not s.waits]
            if not active or self.halt is not None:
                break
            if round_number:
                await self.options.sleep(self.options.retry_delay * 2 ** (round_number - 1))
            for send in active:
                send.retry = None
            await self._write_members(active)
            await self._write_tags(
                [s for s in active if s.member_done and s.final is None and not s.halted]
            )
        if sends and all(_unreachable(s) for s in sends):
            # Not one record got through, for reasons that are not the
            # records': Mailchimp is down or throttling hard. Stop instead of
            # walking every remaining chunk through the same retries.
            self.halt = Halt(
                RunStatus.FAILED,
                "Mailchimp is not accepting changes right now. chimplink will try again later; "
                "nothing needs doing now.",
            )
        return self._outcomes(chunk, sends)

    async def _write_members(self, sends: list[_Send]) -> None:
        todo = [s for s in sends if not s.member_done and s.final is None]
        while todo and self.halt is None:
            creates = [s for s in todo if s.mode == "create"]
            updates = [s for s in todo if s.mode == "update"]
            patches = [s for s in todo if s.mode == "patch"]
            switched = await asyncio.gather(
                self._batch(creates, create=True),
                self._batch(updates, create=False),
                *(self._patch(s) for s in patches),
            )
            todo = [s for group in switched for s in group]

    def _switch(self, send: _Send, mode: Mode) -> list[_Send]:
        if send.switches >= _MAX_SWITCHES:
            send.final = classify_rejected()
            return []
        send.mode = mode
        send.switches += 1
        return [send]

    async def _batch(self, sends: list[_Send], *, create: bool) -> list[_Send]:
        """One batch subscribe call; returns the sends that must go the other way."""
        if not sends:
            return []
        members = [
            s.item.payload.for_create() if create else s.item.payload.for_update()
            for s in sends
            if s.item.payload is not None
        ]
        self.calls("write")
        try:
            result = await self.client.lists.batch_subscribe(
                self.list_id,
                members,
                update_existing=not create,
                fields=_OUTCOME_FIELDS,
            )
        except MailchimpError as exc:  # account-level: 401, 403
            decision = classify(exc)
            for send in sends:
                self._apply(send, decision)
            return []
        first = result.outcomes.get(sends[0].email_key)
        if (
            len(sends) > 1
            and first is not None
            and isinstance(first.exception, InvalidRequestError)
            and classify(first.exception).action is Action.FINAL_FOR_RECORD
        ):
            # The whole call was refused for what looks like one member's data
            # (a schema error): halve it until that member stands alone.
            middle = len(sends) // 2
            halves = await asyncio.gather(
                self._batch(sends[:middle], create=create),
                self._batch(sends[middle:], create=create),
            )
            return halves[0] + halves[1]
        switched: list[_Send] = []
        for send in sends:
            outcome = result.outcomes.get(send.email_key)
            if outcome is not None and outcome.status in ("created", "updated"):
                send.member_done = send.wrote = True
                send.created = outcome.status == "created"
                send.tags_done = not send.tag_ops()
                send.contact_id = outcome.member.contact_id if outcome.member else None
                continue
            if outcome is None:
                send.retry = unknown_decision()
                continue
            decision = classify(outcome)
            if create and decision.reason is Reason.MEMBER_EXISTS:
                switched += self._switch(send, "update")
            elif not create and decision.reason is Reason.MISSING_STATUS:
                if not send.linked or await self._member_is_gone(send):
                    switched += self._switch(send, "create")
            else:
                self._apply(send, decision)
        return switched

    async def _member_is_gone(self, send: _Send) -> bool:
        """A linked member is no longer at its address: gone from the audience (True: the
        contact is added again, or refused if forgotten), or moved to another address in
        Mailchimp (False: the record waits, module docstring). Told apart by its contact
        id; when that is unknown the record waits too (never a second member)."""
        record = send.item.record
        assert record is not None and record.subscriber_hash is not None
        contact_ids = await to_completion(self._contact_ids([record.subscriber_hash]))
        contact_id = contact_ids.get(record.subscriber_hash)
        if contact_id is not None:
            self.calls("read")
            try:
                # Member endpoints take a contact id in place of the hash (§8.1).
                await self.client.lists.members.get(self.list_id, contact_id, fields=["id"])
            except NotFoundError:
                return True
            except MailchimpError as exc:
                self._apply(send, classify(exc))
                return False
            except ValueError:
                pass  # not a form the client can put in a URL: treated as unknown
        send.retry, send.waits = moved_decision(), True
        return False

    async def _patch(self, send: _Send) -> list[_Send]:
        """Change a member's address in place (PATCH on the old hash, §8.2)."""
        item = send.item
        assert item.payload is not None and item.old_hash is not None
        body: dict[str, object] = {"email_address": item.payload.email_address}
        if item.payload.merge_fields:
            body["merge_fields"] = dict(item.payload.merge_fields)
        self.calls("write")
        try:
            member = await self.client.lists.members.patch(self.list_id, item.old_hash, body)
        except MailchimpError as exc:
            decision = classify(exc)
            if decision.reason is Reason.MEMBER_NOT_FOUND:
                # A retried PATCH already moved it (then the new address is
                # updated), or the member moved in Mailchimp (then the update
                # finds nothing and the record waits: module docstring).
                return self._switch(send, "update")
            self._apply(send, decision)
            return []
        send.member_done = send.wrote = True
        send.tags_done = not send.tag_ops()
        send.contact_id = member.contact_id
        return []

    async def _write_tags(self, sends: list[_Send]) -> None:
        async def one(send: _Send) -> None:
            ops = send.tag_ops()
            if not ops or send.item.subscriber_hash is None:
                send.tags_done = True
                return
            self.calls("write")
            try:
                await self.client.lists.members.update_tags(
                    self.list_id, send.item.subscriber_hash, ops
                )
            except MailchimpError as exc:
                decision = classify(exc)
                if send.mode == "tags" and decision.reason is Reason.MEMBER_NOT_FOUND:
                    await self._tags_found_no_member(send)
                else:
                    self._apply(send, decision)
                return
            send.tags_done = send.wrote = True

        await asyncio.gather(*(one(s) for s in sends if not s.tags_done))

    async def _tags_found_no_member(self, send: _Send) -> None:
        """The member was not written (only its tags changed), and it is not at its
        address any more: as for an update that finds no member (module docstring)."""
        send.member_done = False
        if await self._member_is_gone(send):
            send.mode = "create"
            await self._write_members([send])
            if send.member_done:
                send.tags_done = not send.tag_ops()

    # -- outcomes ---------------------------------------------------------------------

    def _retry_or_park(
        self,
        item: PlannedItem,
        decision: Decision,
        result: _ChunkResult,
        *,
        link: str | None,
        tags: frozenset[str],
    ) -> None:
        """A record left for later: FAILED (blocks the checkpoint), or PARKED after
        `max_record_attempts` runs so it cannot hold the sync back forever."""
        record = item.record
        previous = record.attempts if record and record.outcome is RecordOutcome.FAILED else 0
        attempts = previous + 1
        if attempts >= self.options.max_record_attempts:
            self.report.failed[Reason.GAVE_UP.value] += 1
            outcome, digest = RecordOutcome.PARKED, item.content_hash
            reason = f"{Reason.GAVE_UP.value} ({decision.record_reason})"
        else:
            self.report.retrying[decision.reason.value] += 1
            outcome, digest, reason = RecordOutcome.FAILED, None, decision.record_reason
            result.acked = False
        result.records.append(
            RecordUpdate(
                platform_key=item.key,
                email=_linked_email(item, link),
                subscriber_hash=link,
                content_hash=digest,
                outcome=outcome,
                reason=reason,
                attempts=attempts,
                tags=tags,
            )
        )

    def _outcomes(self, chunk: _Chunk, sends: list[_Send]) -> _ChunkResult:
        result = _ChunkResult()
        by_item = {id(s.item): s for s in sends}
        for item in chunk.items:
            record = item.record
            old_link = record.subscriber_hash if record is not None else None
            old_tags = record.tags if record is not None else frozenset()
            previous_attempts = record.attempts if record is not None else 0
            if item.kind is Kind.UNCHANGED:
                self.report.unchanged += 1
            elif item.kind is Kind.PARKED:
                self.report.parked += 1
            elif item.kind is Kind.SKIP:
                self.report.skipped += 1
                if item.writes_record:
                    result.records.append(
                        RecordUpdate(
                            platform_key=item.key,
                            email=_linked_email(item, old_link),
                            subscriber_hash=old_link,
                            content_hash=item.content_hash,
                            outcome=RecordOutcome.SKIPPED,
                            reason=item.detail,
                            tags=old_tags,
                        )
                    )
            elif item.kind is Kind.INVALID:
                assert item.reason is not None
                self.report.failed[item.reason.value] += 1
                result.records.append(
                    RecordUpdate(
                        platform_key=item.key,
                        email=_linked_email(item, old_link),
                        subscriber_hash=old_link,
                        content_hash=item.content_hash,
                        outcome=RecordOutcome.PARKED,
                        reason=f"{item.reason.value}: {item.detail}",
                        attempts=previous_attempts + 1,
                        tags=old_tags,
                    )
                )
            elif item.kind is Kind.CONFLICT:
                assert item.reason is not None
                decision = Decision(
                    Action.RETRY_LATER, item.reason, item.detail or "", item.reason.value
                )
                self._retry_or_park(item, decision, result, link=old_link, tags=old_tags)
            else:
                self._send_outcome(by_item[id(item)], result)
        return result

    def _send_outcome(self, send: _Send, result: _ChunkResult) -> None:
        item = send.item
        assert item.payload is not None
        record = item.record
        old_link = record.subscriber_hash if record is not None else None
        old_tags = record.tags if record is not None else frozenset()
        new_tags = frozenset(item.payload.tags)
        if send.finished and send.final is None:
            if send.created:
                self.report.created += 1
            elif send.wrote:
                self.report.updated += 1
            else:
                self.report.unchanged += 1  # only its consent changed: nothing to send
            if send.wrote:
                result.sent += 1
            result.tags |= new_tags
            result.records.append(
                RecordUpdate(
                    platform_key=item.key,
                    email=item.payload.email_address,
                    subscriber_hash=item.subscriber_hash,
                    content_hash=item.content_hash,
                    outcome=RecordOutcome.SYNCED,
                    tags=new_tags,
                )
            )
            if item.subscriber_hash is not None and send.contact_id:
                result.seen.append(SeenMember(item.subscriber_hash, send.contact_id, None))
        elif send.final is not None:
            decision = send.final
            self.report.failed[decision.reason.value] += 1
            link = old_link
            if decision.reason is Reason.FORGOTTEN_EMAIL and item.subscriber_hash:
                # Permanently deleted in Mailchimp: never try this address again.
                result.suppress.append(item.subscriber_hash)
                link = None
            elif send.member_done:
                link = item.subscriber_hash
            result.records.append(
                RecordUpdate(
                    platform_key=item.key,
                    email=_linked_email(item, link),
                    subscriber_hash=link,
                    content_hash=item.content_hash,
                    outcome=RecordOutcome.PARKED,
                    reason=decision.record_reason,
                    attempts=(record.attempts if record is not None else 0) + 1,
                    tags=old_tags | new_tags if send.member_done else old_tags,
                )
            )
        elif send.retry is not None:
            link = item.subscriber_hash if send.member_done else old_link
            tags = old_tags | new_tags if send.member_done else old_tags
            if send.member_done:
                result.tags |= new_tags
            self._retry_or_park(item, send.retry, result, link=link, tags=tags)
        else:
            # Never attempted (the run stopped): nothing to record; the
            # checkpoint stays before this chunk, so the next run sends it.
            result.acked = False

    # -- committing -------------------------------------------------------------------

    async def _commit(self, chunk: _Chunk, result: _ChunkResult) -> None:
        async with self._commit_lock:
            self._settled[chunk.seq] = (result.acked, chunk.last_cursor)
            advance: str | None = None
            while (entry := self._settled.get(self._next_seq)) is not None and entry[0]:
                advance = entry[1]
                del self._settled[self._next_seq]
                self._next_seq += 1
            self.managed_tags |= await to_completion(self._write(result, advance))
            if advance is not None:
                self.checkpoint = advance
            self._done += len(chunk.items)
            self._sent += result.sent
            self._report_progress()

    async def _write(self, result: _ChunkResult, advance: str | None) -> frozenset[str]:
        """One transaction: the chunk's records, and the checkpoint when it moves."""
        new_tags = result.tags - self.managed_tags
        managed = frozenset(self.managed_tags)
        async with self.sessions.begin() as session:
            await save_records(
                session=session, installation_id=self.installation_id, records=result.records
            )
            await record_seen_members(
                session=session, installation_id=self.installation_id, members=result.seen
            )
            if result.suppress:
                await suppress(
                    session=session,
                    installation_id=self.installation_id,
                    hashes=result.suppress,
                    reason="forgotten in Mailchimp",
                )
            if new_tags:
                managed = await add_managed_tags(
                    session=session, installation_id=self.installation_id, tags=new_tags
                )
            if advance is not None:
                await set_checkpoint(
                    session=session,
                    installation_id=self.installation_id,
                    stream=CONTACTS,
                    cursor=advance,
                )
        return managed

    def _report_progress(self) -> None:
        if self.progress is None:
            return
        elapsed = max(self.options.clock() - self._started, 1e-9)
        update = Progress(
            done=self._done,
            total=self.total,
            rate=self._done / elapsed,
            sent=self._sent,
            checkpoint=self.checkpoint,
        )
        try:
            self.progress(update)
        except Exception:
            # A broken progress bar must not fail a sync that Mailchimp acknowledged.
            _log.exception("sync.progress_failed", installation_id=self.installation_id)

    # -- dry run ------------------------------------------------------------------------

    async def preview_contacts(self, *, after: str | None, existing: dict[str, str] | None) -> None:
        """Plan every contact after `after` and count what would happen; write nothing.

        `existing` maps subscriber hash → status of the audience's members
        (None: not looked up, so new contacts are "create or update").
        """
        async for raw in read_contacts(self.connector, after=after, size=self.options.chunk_size):
            contacts = latest_per_key(raw)
            self.report.read += len(raw)
            for item in await self._plan(contacts):
                self._preview(item, existing)

    def _preview(self, item: PlannedItem, existing: dict[str, str] | None) -> None:
        report = self.report
        action: str | None = None
        detail = item.detail
        if item.kind is Kind.CREATE:
            if existing is None:
                report.create_or_update += 1
                action = "create or update"
            elif item.subscriber_hash in existing:
                report.updated += 1
                action = "update"
                detail = (
                    f"already in the audience as {existing[item.subscriber_hash]}; "
                    "its status is kept"
                )
            else:
                report.created += 1
                action = "create"
                assert item.payload is not None
                detail = f"status {item.payload.status_if_new}"
        elif item.kind is Kind.UPDATE:
            report.updated += 1
            action = "update"
        elif item.kind is Kind.EMAIL_CHANGE:
            report.updated += 1
            action, detail = "email change", "the member's address is changed in place"
        elif item.kind is Kind.UNCHANGED:
            report.unchanged += 1
        elif item.kind is Kind.PARKED:
            report.parked += 1
        elif item.kind is Kind.SKIP:
            report.skipped += 1
            action = "skip"
        elif item.kind is Kind.INVALID:
            assert item.reason is not None
            report.failed[item.reason.value] += 1
            action, detail = "fail", f"{item.reason.value}: {item.detail}"
        else:
            assert item.reason is not None
            report.retrying[item.reason.value] += 1
            action = "fail"
        if action is not None and len(report.preview) < self.options.preview_limit:
            report.preview.append(PlannedChange(item.key, item.contact.email, action, detail))

    # -- the erasures stream ----------------------------------------------------------

    async def sync_erasures(self, *, after: str | None, delete: bool, dry_run: bool) -> bool:
        """Suppress erased addresses, forget their records, and (when enabled) delete
        the members permanently (§8.1). True when the stream was read to its end."""
        async for page in read_erasures(self.connector, after=after, size=self.options.chunk_size):
            if self.halt is not None:
                return False
            if dry_run:
                self.report.erased += len(page)
                for erasure in page:
                    if len(self.report.preview) < self.options.preview_limit:
                        self.report.preview.append(
                            PlannedChange(
                                erasure.key,
                                erasure.email,
                                "erase",
                                "delete permanently" if delete else "stop syncing",
                            )
                        )
                continue
            records = await to_completion(self._load([e.key for e in page]))
            targets = [self._erasure_targets(e, records) for e in page]
            done = len(page)
            if delete:
                moved, checked = await self._moved_members(page, records)
                for erasure, hashes in zip(page, targets, strict=True):
                    if erasure.key in moved and moved[erasure.key] not in hashes:
                        hashes.append(moved[erasure.key])
                done = await self._delete_members(targets[:checked])
            if done:
                await self._commit_erasures(page[:done], targets[:done])
            if done < len(page):
                return False
        return True

    @staticmethod
    def _erasure_targets(erasure: Erasure, records: Mapping[str, SyncRecord]) -> list[str]:
        """The members to erase: the one linked to the contact, and the address's own."""
        hashes: list[str] = []
        record = records.get(erasure.key)
        if record is not None and record.subscriber_hash is not None:
            hashes.append(record.subscriber_hash)
        own = email_hash(erasure.email)
        if own is not None and own not in hashes:
            hashes.append(own)
        return hashes

    async def _moved_members(
        self, erasures: Sequence[Erasure], records: Mapping[str, SyncRecord]
    ) -> tuple[dict[str, str], int]:
        """Where each erased contact's member is now, if its address changed in Mailchimp
        since the record was linked (an `upemail` not taken in yet), found by its contact
        id; and how many of the erasures (a prefix) could be checked."""
        linked = {k: r.subscriber_hash for k, r in records.items() if r.subscriber_hash}
        contact_ids = await to_completion(self._contact_ids(linked.values()))
        moved: dict[str, str] = {}
        for index, erasure in enumerate(erasures):
            digest = linked.get(erasure.key)
            contact_id = contact_ids.get(digest or "")
            if digest is None or contact_id is None:
                continue
            self.calls("read")
            try:
                # Member endpoints take a contact id in place of the hash (§8.1).
                member = await self.client.lists.members.get(
                    self.list_id, contact_id, fields=["id", "contact_id"]
                )
            except NotFoundError:
                continue
            except ValueError:
                continue  # not a form the client can put in a URL
            except MailchimpError as exc:
                decision = classify(exc)
                if decision.action in (Action.RETRY_LATER, Action.FINAL_FOR_RECORD):
                    self.report.retrying[f"erasure: {decision.reason.value}"] += 1
                else:
                    self.stop(decision)
                return moved, index
            if member.id and member.id != digest and member.contact_id == contact_id:
                moved[erasure.key] = member.id
        return moved, len(erasures)

    async def _contact_ids(self, hashes: Iterable[str]) -> dict[str, str]:
        """subscriber hash → Mailchimp contact id, for the members `inbound_members` knows."""
        async with self.sessions() as session:
            seen = await get_seen_members(
                session=session, installation_id=self.installation_id, hashes=hashes
            )
        return {digest: s.contact_id for digest, s in seen.items() if s.contact_id}

    async def _delete_members(self, targets: list[list[str]]) -> int:
        """Delete permanently; returns how many erasures (a prefix) are done."""

        async def one(digest: str) -> Decision | None:
            self.calls("write")
            try:
                await self.client.lists.members.delete_permanent(self.list_id, digest)
            except MailchimpError as exc:
                decision = classify(exc)
                if decision.reason is Reason.MEMBER_NOT_FOUND:
                    return None  # not (or no longer) in the audience: nothing to erase
                return decision
            return None

        flat = [digest for hashes in targets for digest in hashes]
        results = iter(await asyncio.gather(*(one(d) for d in flat)))
        for index, hashes in enumerate(targets):
            for _ in hashes:
                decision = next(results)
                if decision is None:
                    continue
                if decision.action is Action.FINAL_FOR_RECORD:
                    self.report.failed[f"erasure: {decision.reason.value}"] += 1
                    continue
                if decision.action is Action.RETRY_LATER:
                    self.report.retrying[f"erasure: {decision.reason.value}"] += 1
                else:
                    self.stop(decision)
                return index
        return len(targets)

    async def _load(self, keys: list[str]) -> dict[str, SyncRecord]:
        async with self.sessions() as session:
            return await load_records(
                session=session, installation_id=self.installation_id, keys=keys
            )

    async def _commit_erasures(self, erasures: Sequence[Erasure], targets: list[list[str]]) -> None:
        await to_completion(self._write_erasures(erasures, targets))
        self.report.erased += len(erasures)

    async def _write_erasures(self, erasures: Sequence[Erasure], targets: list[list[str]]) -> None:
        async with self.sessions.begin() as session:
            await suppress(
                session=session,
                installation_id=self.installation_id,
                hashes=[d for hashes in targets for d in hashes],
                reason="erased",
            )
            await delete_records(
                session=session,
                installation_id=self.installation_id,
                keys=[e.key for e in erasures],
            )
            await set_checkpoint(
                session=session,
                installation_id=self.installation_id,
                stream=ERASURES,
                cursor=erasures[-1].cursor,
            )


def _member_in_step(item: PlannedItem, list_id: str) -> bool:
    """Whether Mailchimp holds this contact's address and fields as last acknowledged,
    so that only its tags or its `status_if_new` changed (module docstring).

    The stored hash covers the whole payload; the payload with the tags last set
    (the record's) and some status reproducing it means nothing else moved.
    """
    record, payload = item.record, item.payload
    if (
        item.kind is not Kind.UPDATE
        or payload is None
        or record is None
        or record.outcome is not RecordOutcome.SYNCED
        or not record.content_hash
    ):
        return False
    tags = tuple(sorted(record.tags))
    return any(
        content_hash(replace(payload, status_if_new=status, tags=tags).hash_input(list_id))
        == record.content_hash
        for status in dict.fromkeys((payload.status_if_new, *_STATUSES))
    )


def _linked_email(item: PlannedItem, link: str | None) -> str:
    """The address stored with a record: the one its linked member has.

    The inbound side compares it with the platform's address to tell which side
    changed the address since the last sync (inbound.py); storing the platform's
    new address while the record still points at the old member would make a
    change made on the platform look like one made in Mailchimp, and undo it.
    """
    record = item.record
    if link is not None and record is not None and link == record.subscriber_hash:
        return record.email
    if link is not None and item.payload is not None and link == item.subscriber_hash:
        return item.payload.email_address
    return item.contact.email


def _in_cursor_order(contacts: Sequence[Contact], previous: str | None) -> bool:
    last = previous
    for contact in contacts:
        if last is not None and contact.cursor <= last:
            return False
        last = contact.cursor
    return True


_TRANSIENT = frozenset(
    {Reason.SERVER_ERROR, Reason.CONNECTION, Reason.THROTTLED, Reason.OUTCOME_UNKNOWN}
)


def _unreachable(send: _Send) -> bool:
    return not send.member_done and send.retry is not None and send.retry.reason in _TRANSIENT


def classify_rejected() -> Decision:
    return Decision(
        Action.FINAL_FOR_RECORD,
        Reason.REJECTED,
        "Mailchimp neither created nor updated this contact",
        "Mailchimp rejected this contact. Check the record's data and the mapping.",
    )


def moved_decision() -> Decision:
    return Decision(
        Action.RETRY_LATER,
        Reason.MISSING_STATUS,
        "no member at the linked address: it changed in Mailchimp, or was deleted there",
        "This contact's address changed in Mailchimp (or it was deleted there). chimplink "
        "takes that change in first, then sends this contact again.",
    )


def unknown_decision() -> Decision:
    return Decision(
        Action.RETRY_LATER,
        Reason.OUTCOME_UNKNOWN,
        "Mailchimp did not report this address",
        "chimplink could not confirm this change with Mailchimp; it will send it again.",
    )
