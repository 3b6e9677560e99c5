"""Mailchimp → platform: webhook deliveries as hints, Mailchimp's member as the truth.

    receiver (web/) ─ receive_delivery ─► webhook_inbox ─► process_inbox ─► connector.apply
                                                                 ▲
    reconcile.py (since_last_changed) ─ the same apply_members ──┘

**Receiving** (`receive_delivery`, called by the web receiver after it has
checked the URL secret): verify `X-Mailchimp-Signature` when the installation
has a signing secret (REFERENCE.md §4.1: raw bytes, 5-minute tolerance,
constant time), parse the form body, and store it in the inbox under a dedupe
key, committed before the receiver answers 200. Mailchimp's deliveries carry
no id (§4.1), so the key is a hash of type, `fired_at`, audience, member and
the canonical (sorted) form body: a retry of the same delivery is the same
key, two different changes in the same second are not (reliability.md §2.4).
Malformed bodies are kept in the dead-letter table; a bad signature stores
nothing. No Mailchimp call is made while Mailchimp waits for the answer.

**Applying** (`process_inbox`, `apply_members`): a delivery only names a
member. The member is re-read from Mailchimp and its *current* state is
what gets applied, so duplicates, reordering and forged deliveries cannot
apply anything Mailchimp does not hold (reliability.md §2.2, §2.4). For each
platform contact linked to that member (`sync_records`):

- consent: an `unsubscribed` or `cleaned` member withdraws the contact's
  consent (never the other way: consent is only granted on the platform);
- email: Mailchimp's address is taken when the platform still has the address
  last synced (otherwise the platform changed it too, and the outbound sync
  will change the member, by the link this updates);
- profile fields: mapped merge fields back to platform fields, *only those
  Mailchimp changed*. The platform's current contact is compared with the
  member; where they differ, the stored content hash of what was last synced
  tells which side moved: the combination of "this field moved in Mailchimp,
  that one on the platform" whose base reproduces the stored hash decides.
  When no single combination does (both sides changed the same field, or
  nothing was synced yet) the platform wins: the outbound sync sends its
  values (its fields are the source of truth, sync/mapping.py).

Then the stored record is rewritten to what is now in both places (address,
subscriber hash, and the content hash the outbound planner computes for the
platform's contact as it is *after* the change), so the next outbound run
sees "unchanged" and nothing echoes back (Mailchimp's side does not echo
either: the webhook has `sources.api = false`, DESIGN.md). If the platform
still differs from Mailchimp afterwards (it changed other fields, or the
same ones), the record describes what Mailchimp holds now: its address, and
the hash of its content as the planner would have sent it. That differs from
the platform's, so the outbound run sends the platform's values; and it is
the right base for the next comparison, so a later change in Mailchimp to
yet another field is still recognised as Mailchimp's (clearing the hash
instead would make the platform win every field, and the outbound run
overwrite that change with the platform's stale value).

`last_changed` of each re-read is remembered per member (`inbound_members`):
an answer older than one already applied is ignored (a monotonic guard). The
same version may be applied again: every change is computed against the
platform's current contact, so a repeat finds nothing to do.

**Reading the platform's contact**: a connector that implements
`ContactLookup.get_contacts` is asked for the keys; otherwise its contact
stream is scanned from the start until every key is found (correct, but one
platform scan per batch: built-in connectors should implement the lookup).

The connector is passed in (dependency injection); so is the client.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chimplink.mailchimp import (
    AuthenticationError,
    MailchimpClient,
    MailchimpError,
    NotFoundError,
    WebhookPayloadError,
    WebhookSignatureError,
    subscriber_hash,
)
from chimplink.mailchimp.models.members import Member
from chimplink.mailchimp.webhook_events import (
    CleanedEvent,
    ProfileEvent,
    SubscribeEvent,
    UnsubscribeEvent,
    UpemailEvent,
    WebhookEvent,
    parse_event,
    verify_signature,
)
from chimplink.platforms import (
    Connector,
    ConnectorError,
    Consent,
    ConsentWithdrawn,
    Contact,
    EmailChanged,
    FieldSpec,
    FieldType,
    FieldValue,
    InboundChange,
    ProfileChanged,
)
from chimplink.store.crypto import DecryptionError, TokenCipher
from chimplink.store.inbox import (
    InboxItem,
    SeenMember,
    add_dead_letter,
    add_delivery,
    claim_inbox,
    fail_inbox_item,
    finish_inbox_items,
    get_seen_members,
    record_seen_members,
    release_inbox_items,
    retry_inbox_item,
)
from chimplink.store.installations import get_signing_secret
from chimplink.store.sync_config import SyncConfig, get_sync_config
from chimplink.store.sync_state import (
    RecordOutcome,
    RecordUpdate,
    SyncRecord,
    linked_keys,
    load_records,
    save_records,
    suppressed,
)
from chimplink.sync.classify import Action, classify
from chimplink.sync.mapping import (
    MappingError,
    MemberPayload,
    MemberPolicy,
    MergeValue,
    SyncConfigError,
    build_member,
    convert_value,
    ensure_merge_fields,
)
from chimplink.sync.planner import Kind, content_hash, plan_chunk

__all__ = [
    "APPLIED_EVENT_TYPES",
    "MAX_BODY_BYTES",
    "MEMBER_FIELDS",
    "WITHDRAWN_STATUSES",
    "AppliedBatch",
    "ContactLookup",
    "InboundContext",
    "InboundOptions",
    "InboundReport",
    "LinkedMember",
    "MemberTarget",
    "Receipt",
    "ReceiptOutcome",
    "apply_members",
    "commit_applied",
    "delivery_dedupe_key",
    "inbound_changes",
    "load_context",
    "lookup_contacts",
    "member_in_step",
    "process_inbox",
    "receive_delivery",
    "target_of",
]

_log = structlog.get_logger("chimplink.inbound")

# Mailchimp's deliveries are a few KB; anything far larger is not one (dead-lettered).
MAX_BODY_BYTES = 64 * 1024
APPLIED_EVENT_TYPES = frozenset({"subscribe", "unsubscribe", "profile", "upemail", "cleaned"})
# Statuses after which the person must not get marketing email (REFERENCE.md §8.1).
WITHDRAWN_STATUSES = frozenset({"unsubscribed", "cleaned"})
# What a re-read asks for (`fields`, §6): everything the decision needs, nothing more.
MEMBER_FIELDS = (
    "id",
    "email_address",
    "contact_id",
    "status",
    "merge_fields",
    "last_changed",
)
_STATUS_CANDIDATES = ("subscribed", "pending", "transactional")
# 2^n combinations are tried (sync-state base search); beyond this, the platform wins.
_MAX_DIFFERING_FIELDS = 12
_SCAN_PAGE = 1000


# -- receiving ---------------------------------------------------------------------------


class ReceiptOutcome(StrEnum):
    STORED = "stored"  # 200: in the inbox
    DUPLICATE = "duplicate"  # 200: already in the inbox, nothing written
    IGNORED = "ignored"  # 200: a valid event chimplink does not apply (campaign, batch)
    MALFORMED = "malformed"  # 400: kept as a dead letter with the reason
    BAD_SIGNATURE = "bad_signature"  # 401: nothing stored


@dataclass(frozen=True)
class Receipt:
    outcome: ReceiptOutcome
    detail: str | None = None  # for MALFORMED: the reason (PII-free)
    event_type: str | None = None


def _canonical_body(text: str) -> str:
    pairs = sorted(parse_qsl(text, keep_blank_values=True))
    return json.dumps(pairs, separators=(",", ":"), ensure_ascii=False)


def delivery_dedupe_key(event: WebhookEvent, body: str) -> str:
    """SHA-256 of type, fired_at, audience, member and the canonical body (module docstring)."""
    target = target_of(event)
    parts = [
        event.type,
        event.fired_at.isoformat(),
        getattr(event.data, "list_id", None) or "",
        target.subscriber_hash if target is not None else "",
        _canonical_body(body),
    ]
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


async def receive_delivery(
    *,
    sessions: async_sessionmaker[AsyncSession],
    cipher: TokenCipher,
    installation_id: str,
    body: bytes,
    signature: str | None,
    now: datetime | None = None,
    clock: Callable[[], float] = time.time,
) -> Receipt:
    """Verify, parse and store one delivery (commits). The caller has checked the URL secret.

    Raises only when the database fails: the receiver then answers 5xx and
    Mailchimp retries (reliability.md §2.4).
    """
    at = now or datetime.now(UTC)
    if len(body) > MAX_BODY_BYTES:
        # Not a Mailchimp delivery, and its signature cannot be checked (the receiver
        # stops reading at the limit): refused as malformed, a few KB kept.
        return await _dead_letter(
            sessions,
            installation_id=installation_id,
            reason=f"the delivery body is larger than {MAX_BODY_BYTES} bytes",
            body=body,
            now=at,
        )
    async with sessions() as session:
        try:
            secret = await get_signing_secret(
                session=session, cipher=cipher, installation_id=installation_id
            )
        except DecryptionError:
            # Cannot verify: accept unverified. A delivery is only a hint (re-read).
            _log.error("inbound.signing_secret_unreadable", installation_id=installation_id)
            secret = None
    if secret is not None:
        try:
            verify_signature(
                body=body, header=signature, secret=secret.get_secret_value(), now=clock
            )
        except WebhookSignatureError as exc:
            _log.warning(
                "inbound.signature_rejected",
                security=True,
                installation_id=installation_id,
                reason=str(exc),
                body_size=len(body),
            )
            return Receipt(ReceiptOutcome.BAD_SIGNATURE)
    try:
        text = body.decode("utf-8")
        event = parse_event(text)
    except UnicodeDecodeError:
        return await _dead_letter(
            sessions,
            installation_id=installation_id,
            reason="the delivery body is not UTF-8",
            body=body,
            now=at,
        )
    except WebhookPayloadError as exc:
        return await _dead_letter(
            sessions, installation_id=installation_id, reason=str(exc), body=body, now=at
        )
    if event.type not in APPLIED_EVENT_TYPES:
        _log.info("inbound.ignored", installation_id=installation_id, event_type=event.type)
        return Receipt(ReceiptOutcome.IGNORED, event_type=event.type)
    key = delivery_dedupe_key(event, text)
    async with sessions.begin() as session:
        added = await add_delivery(
            session=session,
            installation_id=installation_id,
            dedupe_key=key,
            event_type=event.type,
            body=text,
            now=at,
        )
    outcome = ReceiptOutcome.STORED if added else ReceiptOutcome.DUPLICATE
    _log.info(
        "inbound.received",
        installation_id=installation_id,
        event_type=event.type,
        outcome=outcome.value,
    )
    return Receipt(outcome, event_type=event.type)


async def _dead_letter(
    sessions: async_sessionmaker[AsyncSession],
    *,
    installation_id: str,
    reason: str,
    body: bytes,
    now: datetime,
) -> Receipt:
    async with sessions.begin() as session:
        await add_dead_letter(
            session=session, installation_id=installation_id, reason=reason, body=body, now=now
        )
    _log.warning("inbound.dead_letter", installation_id=installation_id, reason=reason)
    return Receipt(ReceiptOutcome.MALFORMED, reason)


# -- what a delivery points at -------------------------------------------------------------


@dataclass(frozen=True)
class MemberTarget:
    """The member a delivery is about: re-read `subscriber_hash`; contacts linked to it or
    to a `related` hash (upemail: the old address) are the ones to update."""

    list_id: str
    subscriber_hash: str
    related: frozenset[str] = frozenset()


def _hash(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    return subscriber_hash(email)


def target_of(event: WebhookEvent) -> MemberTarget | None:
    """The member of an audience event (None for campaign and batch events).

    `data[id]` is not the subscriber hash in Mailchimp's deliveries (it is the
    member's `unique_email_id`), so the hash comes from the address (§8.1).
    """
    match event:
        case SubscribeEvent() | UnsubscribeEvent() | ProfileEvent():
            digest = _hash(event.data.email)
            return MemberTarget(event.data.list_id, digest) if digest else None
        case CleanedEvent():
            digest = _hash(event.data.email)
            return MemberTarget(event.data.list_id, digest) if digest else None
        case UpemailEvent():
            new, old = _hash(event.data.new_email), _hash(event.data.old_email)
            if new is None:
                return None
            related = frozenset({old}) if old is not None and old != new else frozenset()
            return MemberTarget(event.data.list_id, new, related)
    return None


# -- reading the platform ------------------------------------------------------------------


@runtime_checkable
class ContactLookup(Protocol):
    """Optional for connectors: contacts by key (missing keys are absent from the result)."""

    async def get_contacts(self, keys: Collection[str]) -> Mapping[str, Contact]: ...


async def lookup_contacts(connector: Connector, keys: Collection[str]) -> dict[str, Contact]:
    """The platform's current contacts for `keys` (see the module docstring)."""
    wanted = set(keys)
    if not wanted:
        return {}
    if isinstance(connector, ContactLookup):
        return {
            k: c for k, c in (await connector.get_contacts(sorted(wanted))).items() if k in wanted
        }
    found: dict[str, Contact] = {}
    pages = connector.contacts(after=None, page_size=_SCAN_PAGE)
    try:
        async for page in pages:
            for contact in page:
                if contact.key in wanted and contact.key not in found:
                    found[contact.key] = contact
            if len(found) == len(wanted):
                break
    finally:
        close = getattr(pages, "aclose", None)
        if close is not None:
            await close()
    return found


# -- the settings a pass works with ------------------------------------------------------


@dataclass(frozen=True)
class InboundContext:
    installation_id: str
    config: SyncConfig
    policy: MemberPolicy  # exactly what the outbound planner uses (so hashes agree)
    specs: Mapping[str, FieldSpec]  # platform fields by name


async def load_context(
    *,
    sessions: async_sessionmaker[AsyncSession],
    installation_id: str,
    client: MailchimpClient,
    connector: Connector,
) -> InboundContext | None:
    """The sync settings resolved as the outbound engine resolves them; None if not set up.

    Two reads: the audience (double opt-in decides `status_if_new`) and its
    merge fields (their types decide how values are written). Nothing is created.
    """
    async with sessions() as session:
        config = await get_sync_config(session=session, installation_id=installation_id)
    if config is None:
        return None
    fields = await connector.describe_fields()
    audience = await client.lists.get(config.list_id, fields=["id", "double_optin"])
    plan = await ensure_merge_fields(client, config.list_id, config.field_map, fields, create=False)
    policy = MemberPolicy(
        list_id=config.list_id,
        fields=plan.fields,
        sync_labels=config.sync_labels,
        label_tags=config.label_tags,
        no_consent=config.no_consent,
        double_optin=config.double_optin or bool(audience.double_optin),
    )
    return InboundContext(
        installation_id=installation_id,
        config=config,
        policy=policy,
        specs={spec.name: spec for spec in fields},
    )


# -- values: Mailchimp's form ⇄ the platform's form ⇄ the payload's form ---------------------


def _platform_value(value: Any, kind: FieldType) -> FieldValue:
    """A merge value as the platform field holds it ("" clears: None)."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return int(value) if kind is FieldType.NUMBER else ("true" if value else "false")
    if isinstance(value, int | float):
        number: float | int = value
        if kind is not FieldType.NUMBER:
            return str(int(number)) if float(number).is_integer() else str(number)
    else:
        text = str(value).strip()
        if not text:
            return None
        if kind is not FieldType.NUMBER:
            return text
        try:
            number = float(text)
        except ValueError:
            return text
    if float(number).is_integer() and abs(number) < 2**53:
        return int(number)
    return float(number)


def _payload_value(value: FieldValue, merge_type: str) -> MergeValue | None:
    """What the outbound mapping would send for a platform value (None: cannot be sent)."""
    try:
        return convert_value(value, merge_type)
    except MappingError:
        return None


def _same(a: MergeValue, b: MergeValue) -> bool:
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return float(a) == float(b)
    return str(a).strip() == str(b).strip()


@dataclass(frozen=True)
class _MemberValue:
    field: str  # platform field
    tag: str
    platform: FieldValue  # Mailchimp's value in the platform's form
    payload: MergeValue  # ... and in the form the outbound mapping sends


def _member_values(member: Member, ctx: InboundContext) -> dict[str, _MemberValue]:
    """Mailchimp's mapped merge values by tag (tags it lacks or cannot map are absent)."""
    values: dict[str, _MemberValue] = {}
    for resolved in ctx.policy.fields:
        if resolved.tag not in member.merge_fields:
            continue
        raw = member.merge_fields[resolved.tag]
        if isinstance(raw, dict | list):
            continue
        spec = ctx.specs.get(resolved.field)
        platform = _platform_value(raw, spec.type if spec is not None else FieldType.TEXT)
        payload = _payload_value(platform, resolved.type)
        if payload is not None:
            values[resolved.tag] = _MemberValue(resolved.field, resolved.tag, platform, payload)
    return values


def _base_hash(
    ctx: InboundContext, record: SyncRecord, status: str, merge: Mapping[str, MergeValue]
) -> str:
    payload = MemberPayload(
        email_address=record.email,
        status_if_new=status,  # type: ignore[arg-type]
        merge_fields=dict(merge),
        tags=tuple(sorted(record.tags)),
    )
    return content_hash(payload.hash_input(ctx.policy.list_id))


def member_in_step(member: Member, record: SyncRecord, ctx: InboundContext) -> bool:
    """Whether Mailchimp holds exactly what was last synced for this record (address and
    mapped fields), with nothing to withdraw: then there is nothing to apply, and the
    platform need not even be read."""
    if record.outcome is not RecordOutcome.SYNCED or not record.content_hash:
        return False
    if (member.status or "") in WITHDRAWN_STATUSES or not member.email_address:
        return False
    if member.email_address.strip() != record.email:
        return False
    values = _member_values(member, ctx)
    if len(values) != len(ctx.policy.fields):
        return False
    merge = {tag: value.payload for tag, value in values.items()}
    return any(
        _base_hash(ctx, record, status, merge) == record.content_hash
        for status in _STATUS_CANDIDATES
    )


# -- deciding what to apply ------------------------------------------------------------------


def _moved_in_mailchimp(
    *,
    differing: Sequence[_MemberValue],
    payload: MemberPayload,
    record: SyncRecord,
    ctx: InboundContext,
) -> list[_MemberValue] | None:
    """Which differing fields Mailchimp changed (vs. the platform), from the stored hash of
    the last synced content; None when no single answer reproduces it."""
    if record.outcome is not RecordOutcome.SYNCED or not record.content_hash:
        return None
    if len(differing) > _MAX_DIFFERING_FIELDS:
        return None
    statuses = list(dict.fromkeys([payload.status_if_new, *_STATUS_CANDIDATES]))
    answers: set[int] = set()
    for mask in range(1 << len(differing)):
        merge = dict(payload.merge_fields)
        for index, value in enumerate(differing):
            if not mask & (1 << index):
                # The platform moved this field: the base had Mailchimp's value.
                merge[value.tag] = value.payload
        if any(_base_hash(ctx, record, s, merge) == record.content_hash for s in statuses):
            answers.add(mask)
    if len(answers) != 1:
        return None
    [mask] = answers
    return [value for index, value in enumerate(differing) if mask & (1 << index)]


def inbound_changes(
    *,
    key: str,
    member: Member,
    contact: Contact,
    record: SyncRecord,
    ctx: InboundContext,
) -> tuple[list[InboundChange], list[str]]:
    """The changes that bring `contact` to Mailchimp's state, and PII-free notes on
    what was left to the platform (see the module docstring for the rules)."""
    changes: list[InboundChange] = []
    notes: list[str] = []
    status = member.status or ""
    if status in WITHDRAWN_STATUSES and contact.consent is not Consent.WITHDRAWN:
        changes.append(ConsentWithdrawn(key=key, reason=status))
    mc_email = (member.email_address or "").strip()
    if mc_email and _hash(mc_email) != _hash(contact.email):
        if _hash(contact.email) == _hash(record.email):
            changes.append(EmailChanged(key=key, new_email=mc_email))
        else:
            notes.append("email changed on both sides: the platform's address is kept")
    try:
        built = build_member(contact, ctx.policy)
    except MappingError:
        built = None
    if isinstance(built, MemberPayload):
        values = _member_values(member, ctx)
        differing = [
            values[tag]
            for tag, sent in built.merge_fields.items()
            if tag in values and not _same(values[tag].payload, sent)
        ]
        if differing:
            moved = _moved_in_mailchimp(differing=differing, payload=built, record=record, ctx=ctx)
            if moved is None:
                notes.append("fields changed on both sides: the platform's values are kept")
            elif moved:
                changes.append(ProfileChanged(key=key, fields={v.field: v.platform for v in moved}))
    return changes, notes


def _held_hash(
    member: Member, payload: MemberPayload | None, record: SyncRecord, ctx: InboundContext
) -> str | None:
    """The content hash of what Mailchimp holds, as if the platform had sent it: the
    platform's fields with Mailchimp's values, Mailchimp's address, the tags last set.
    None when a field cannot be read back (then the platform wins every field)."""
    if payload is None or not member.email_address:
        return None
    values = _member_values(member, ctx)
    if not all(tag in values for tag in payload.merge_fields):
        return None
    held = MemberPayload(
        email_address=member.email_address.strip(),
        status_if_new=payload.status_if_new,
        merge_fields={tag: values[tag].payload for tag in payload.merge_fields},
        tags=tuple(sorted(record.tags)),
    )
    return content_hash(held.hash_input(ctx.policy.list_id))


def _payload_matches(payload: MemberPayload, member: Member, ctx: InboundContext) -> bool:
    if _hash(payload.email_address) != _hash(member.email_address):
        return False
    values = _member_values(member, ctx)
    return all(
        tag in values and _same(values[tag].payload, sent)
        for tag, sent in payload.merge_fields.items()
    )


# -- applying ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkedMember:
    """A re-read member and the platform keys linked to it (or to its former address)."""

    member: Member
    subscriber_hash: str
    keys: frozenset[str]


@dataclass
class AppliedBatch:
    """What `apply_members` did; `commit_applied` writes it in one transaction."""

    notes: dict[str, str] = field(default_factory=dict)  # subscriber hash → PII-free note
    errors: dict[str, str] = field(default_factory=dict)  # subscriber hash → retry reason
    records: list[RecordUpdate] = field(default_factory=list)
    seen: list[SeenMember] = field(default_factory=list)
    applied: list[InboundChange] = field(default_factory=list)
    # Mailchimp failed in a way worth waiting for (throttled, down): stop for now.
    mailchimp_unavailable: bool = False


def _describe(changes: Sequence[InboundChange]) -> str:
    names = {
        ConsentWithdrawn: "consent withdrawn",
        EmailChanged: "email changed",
        ProfileChanged: "profile changed",
    }
    return ", ".join(dict.fromkeys(names[type(c)] for c in changes))


def _record_after(
    *,
    key: str,
    linked: LinkedMember,
    contact: Contact,
    record: SyncRecord,
    ctx: InboundContext,
    links: Mapping[str, set[str]],
    blocked: set[str],
) -> RecordUpdate | None:
    """The record for what is now in both places (None: leave it as it is)."""
    relinked = dataclasses.replace(record, subscriber_hash=linked.subscriber_hash)
    [item] = plan_chunk(
        [contact],
        policy=ctx.policy,
        records={key: relinked},
        linked=links,
        suppressed=blocked,
        managed_tags=ctx.config.managed_tags,
    )
    if item.kind is Kind.SKIP:
        update = RecordUpdate(
            platform_key=key,
            email=contact.email,
            subscriber_hash=linked.subscriber_hash,
            content_hash=item.content_hash,
            outcome=RecordOutcome.SKIPPED,
            reason=item.detail,
            tags=record.tags,
        )
    elif (
        item.kind in (Kind.UPDATE, Kind.UNCHANGED)
        and item.payload is not None
        and frozenset(item.payload.tags) == record.tags
        and _payload_matches(item.payload, linked.member, ctx)
    ):
        update = RecordUpdate(
            platform_key=key,
            email=item.payload.email_address,
            subscriber_hash=linked.subscriber_hash,
            content_hash=item.content_hash,
            outcome=RecordOutcome.SYNCED,
            tags=record.tags,
        )
    else:
        # The platform still differs from Mailchimp (its edit wins): follow the member,
        # and make the next outbound run send the platform's values (module docstring).
        synced = record.outcome is RecordOutcome.SYNCED
        held = _held_hash(linked.member, item.payload, record, ctx) if synced else None
        if held is not None and linked.member.email_address:
            email = linked.member.email_address.strip()  # what `held` was computed with
        elif _hash(contact.email) == linked.subscriber_hash:
            email = contact.email
        else:
            email = record.email
        update = RecordUpdate(
            platform_key=key,
            email=email,
            subscriber_hash=linked.subscriber_hash,
            content_hash=held if synced else record.content_hash,
            outcome=record.outcome,
            reason=record.reason,
            attempts=record.attempts,
            tags=record.tags,
        )
    unchanged = (
        update.email == record.email
        and update.subscriber_hash == record.subscriber_hash
        and update.content_hash == record.content_hash
        and update.outcome is record.outcome
        and update.reason == record.reason
        and update.attempts == record.attempts
    )
    return None if unchanged else update


async def apply_members(
    ctx: InboundContext,
    *,
    sessions: async_sessionmaker[AsyncSession],
    connector: Connector,
    members: Sequence[LinkedMember],
) -> AppliedBatch:
    """Apply each member's current state to its linked contacts (see the module docstring).

    Writes only to the platform; the caller commits the result (`commit_applied`).
    A platform failure for one member is reported in `errors` (its record is
    left as it was, so applying it again later is safe).
    """
    batch = AppliedBatch()
    if not members:
        return batch
    installation_id = ctx.installation_id
    keys = {key for linked in members for key in linked.keys}
    hashes = {linked.subscriber_hash for linked in members}
    async with sessions() as session:
        records = await load_records(session=session, installation_id=installation_id, keys=keys)
        seen = await get_seen_members(
            session=session, installation_id=installation_id, hashes=hashes
        )
        links = await linked_keys(session=session, installation_id=installation_id, hashes=hashes)
        blocked = await suppressed(session=session, installation_id=installation_id, hashes=hashes)

    todo: list[LinkedMember] = []
    for linked in members:
        member, digest = linked.member, linked.subscriber_hash
        known = seen.get(digest)
        version = member.last_changed
        if known and known.last_changed and version and version < known.last_changed:
            batch.notes[digest] = "stale read: a newer version was already applied"
            continue
        mine = [records[k] for k in sorted(linked.keys) if k in records]
        if not mine:
            batch.notes[digest] = "not linked to a platform contact: nothing to apply"
            continue
        if all(r.subscriber_hash == digest and member_in_step(member, r, ctx) for r in mine):
            batch.notes[digest] = "already in step: nothing to apply"
            batch.seen.append(SeenMember(digest, member.contact_id, version))
            continue
        todo.append(linked)
    if not todo:
        return batch

    before = await lookup_contacts(connector, {k for linked in todo for k in linked.keys})
    handled: set[str] = set()
    touched: list[tuple[LinkedMember, str, SyncRecord, bool]] = []
    for linked in todo:
        digest = linked.subscriber_hash
        applied: list[InboundChange] = []
        notes: list[str] = []
        pending: list[tuple[LinkedMember, str, SyncRecord, bool]] = []
        try:
            for key in sorted(linked.keys):
                record = records.get(key)
                contact = before.get(key)
                if key in handled or record is None:
                    continue
                handled.add(key)
                if contact is None:
                    notes.append("a linked contact is no longer on the platform")
                    continue
                changes, left = inbound_changes(
                    key=key, member=linked.member, contact=contact, record=record, ctx=ctx
                )
                notes.extend(left)
                for change in changes:
                    await connector.apply(change)
                    applied.append(change)
                pending.append((linked, key, record, bool(changes)))
        except ConnectorError as exc:
            # Retried later; what was applied is re-checked against the platform then.
            batch.errors[digest] = f"the platform refused a change: {exc}"
            batch.applied.extend(applied)
            continue
        batch.applied.extend(applied)
        touched.extend(pending)
        summary = f"applied: {_describe(applied)}" if applied else "nothing to apply"
        batch.notes[digest] = "; ".join([summary, *dict.fromkeys(notes)])
        batch.seen.append(SeenMember(digest, linked.member.contact_id, linked.member.last_changed))

    after = await lookup_contacts(connector, {key for _, key, _, changed in touched if changed})
    for linked, key, record, changed in touched:
        contact = after.get(key) if changed else before.get(key)
        if contact is None:
            continue
        update = _record_after(
            key=key,
            linked=linked,
            contact=contact,
            record=record,
            ctx=ctx,
            links=links,
            blocked=blocked,
        )
        if update is not None:
            batch.records.append(update)
    return batch


async def commit_applied(
    session: AsyncSession, *, installation_id: str, batch: AppliedBatch
) -> None:
    """Write the records and member versions of a batch (the caller's transaction)."""
    await save_records(session=session, installation_id=installation_id, records=batch.records)
    await record_seen_members(session=session, installation_id=installation_id, members=batch.seen)


# -- draining the inbox ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class InboundOptions:
    """Tuning and test seams."""

    batch_size: int = 100  # deliveries claimed at once
    max_attempts: int = 8  # then the delivery is failed (reconciliation repairs it)
    first_retry: timedelta = timedelta(seconds=30)
    max_retry: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)
    max_batches: int = 100  # per call: the job runs again soon anyway
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)

    def retry_at(self, now: datetime, attempts: int) -> datetime:
        delay = self.first_retry * (1 << min(attempts, 16))
        return now + min(delay, self.max_retry)


@dataclass
class InboundReport:
    installation_id: str
    deliveries: int = 0  # claimed
    processed: int = 0
    retrying: int = 0
    failed: int = 0
    members_read: int = 0
    applied: Counter[str] = field(default_factory=Counter)  # change kind → count

    def counts(self) -> dict[str, object]:
        return {
            "deliveries": self.deliveries,
            "processed": self.processed,
            "retrying": self.retrying,
            "failed": self.failed,
            "members_read": self.members_read,
            "applied": dict(self.applied),
        }


def _parse_target(item: InboxItem) -> MemberTarget | str:
    """The item's member, or a note saying why there is none."""
    try:
        event = parse_event(item.body or "")
    except WebhookPayloadError:
        return "unreadable delivery: nothing to apply"
    target = target_of(event)
    if target is None:
        return f"{event.type} events are not applied"
    return target


async def process_inbox(
    *,
    sessions: async_sessionmaker[AsyncSession],
    installation_id: str,
    client: MailchimpClient,
    connector: Connector,
    options: InboundOptions | None = None,
) -> InboundReport:
    """Drain the installation's due deliveries (batch by batch) and apply them.

    Raises `AuthenticationError` (401: the caller marks the installation for
    reconnect; the deliveries stay pending). Every other failure is per
    delivery: retried with backoff, then failed after `max_attempts`.
    """
    opts = options or InboundOptions()
    report = InboundReport(installation_id=installation_id)
    ctx: InboundContext | None = None
    context_loaded = False
    for _ in range(opts.max_batches):
        now = opts.clock()
        async with sessions.begin() as session:
            items = await claim_inbox(
                session=session,
                installation_id=installation_id,
                now=now,
                limit=opts.batch_size,
                lease=opts.lease,
            )
        if not items:
            break
        report.deliveries += len(items)
        notes: dict[int, str] = {}
        errors: dict[int, str] = {}
        targets: dict[int, MemberTarget] = {}
        for item in items:
            parsed = _parse_target(item)
            if isinstance(parsed, str):
                notes[item.id] = parsed
            else:
                targets[item.id] = parsed
        batch = AppliedBatch()
        if targets and not context_loaded:
            try:
                ctx = await load_context(
                    sessions=sessions,
                    installation_id=installation_id,
                    client=client,
                    connector=connector,
                )
            except AuthenticationError:
                await _release(sessions, items, now)
                raise
            except (MailchimpError, SyncConfigError, ConnectorError) as exc:
                reason = _reason(exc)
                errors.update({item_id: reason for item_id in targets})
                targets = {}
                batch.mailchimp_unavailable = True  # no settings to work with: stop for now
            else:
                context_loaded = True
        if targets and ctx is None:
            notes.update({i: "no sync settings: nothing to apply" for i in targets})
            targets = {}
        if ctx is not None and targets:
            for item_id, target in list(targets.items()):
                if target.list_id != ctx.config.list_id:
                    notes[item_id] = "another audience than the synced one: not applied"
                    del targets[item_id]
            try:
                batch = await _apply_targets(
                    ctx,
                    sessions=sessions,
                    client=client,
                    connector=connector,
                    targets=targets,
                    report=report,
                )
            except AuthenticationError:
                await _release(sessions, items, now)
                raise
            for item_id, target in targets.items():
                digest = target.subscriber_hash
                if digest in batch.errors:
                    errors[item_id] = batch.errors[digest]
                else:
                    notes[item_id] = batch.notes.get(digest, "nothing to apply")
        by_id = {item.id: item for item in items}
        async with sessions.begin() as session:
            await commit_applied(session, installation_id=installation_id, batch=batch)
            await finish_inbox_items(session=session, notes=notes, now=now)
            for item_id, error in errors.items():
                item = by_id[item_id]
                if item.attempts + 1 >= opts.max_attempts:
                    await fail_inbox_item(session=session, item_id=item_id, error=error, now=now)
                    report.failed += 1
                else:
                    await retry_inbox_item(
                        session=session,
                        item_id=item_id,
                        error=error,
                        retry_at=opts.retry_at(now, item.attempts),
                    )
                    report.retrying += 1
        report.processed += len(notes)
        report.applied.update(type(change).__name__ for change in batch.applied)
        if batch.mailchimp_unavailable:
            break  # the failed deliveries wait for their retry; so does the rest
    if report.deliveries:
        _log.info("inbound.processed", installation_id=installation_id, **report.counts())
    return report


def _reason(exc: Exception) -> str:
    if isinstance(exc, MailchimpError):
        decision = classify(exc)
        return f"Mailchimp: {decision.reason.value}"
    return str(exc)


async def _release(
    sessions: async_sessionmaker[AsyncSession], items: Sequence[InboxItem], now: datetime
) -> None:
    """Give claimed deliveries back untouched: access was revoked, they wait for a reconnect."""
    async with sessions.begin() as session:
        await release_inbox_items(session=session, item_ids=[item.id for item in items], now=now)


async def _apply_targets(
    ctx: InboundContext,
    *,
    sessions: async_sessionmaker[AsyncSession],
    client: MailchimpClient,
    connector: Connector,
    targets: Mapping[int, MemberTarget],
    report: InboundReport,
) -> AppliedBatch:
    """Re-read each member once (however many deliveries name it), then apply."""
    by_hash: dict[str, set[str]] = {}
    for target in targets.values():
        by_hash.setdefault(target.subscriber_hash, set()).update(target.related)
    every_hash = set(by_hash) | {h for related in by_hash.values() for h in related}
    async with sessions() as session:
        links = await linked_keys(
            session=session, installation_id=ctx.installation_id, hashes=every_hash
        )
    batch = AppliedBatch()
    found: list[LinkedMember] = []
    for digest, related in sorted(by_hash.items()):
        keys = set(links.get(digest, ()))
        for other in related:
            keys |= links.get(other, set())
        if not keys:
            # Nothing on the platform is linked: no need to ask Mailchimp.
            batch.notes[digest] = "not linked to a platform contact: nothing to apply"
            continue
        if batch.mailchimp_unavailable:
            batch.errors[digest] = "Mailchimp unavailable: not read"
            continue
        try:
            report.members_read += 1
            member = await client.lists.members.get(
                ctx.config.list_id, digest, fields=list(MEMBER_FIELDS)
            )
        except NotFoundError:
            batch.notes[digest] = "not in the audience any more (deleted): nothing to apply"
            continue
        except AuthenticationError:
            raise
        except MailchimpError as exc:
            batch.errors[digest] = _reason(exc)
            batch.mailchimp_unavailable = classify(exc).action is Action.RETRY_LATER
            continue
        found.append(LinkedMember(member, digest, frozenset(keys)))
    applied = await apply_members(ctx, sessions=sessions, connector=connector, members=found)
    applied.notes = {**batch.notes, **applied.notes}
    applied.errors = {**batch.errors, **applied.errors}
    applied.mailchimp_unavailable = batch.mailchimp_unavailable
    return applied
