"""What to do with each contact of a chunk, decided against the stored sync records.

The content hash covers exactly what would be sent (audience, address,
`status_if_new`, merge fields, tags), so an unchanged contact costs no call
and a changed one costs one write. Decisions:

    CREATE        no Mailchimp member is linked to this contact yet
    UPDATE        linked to the member of this address: update (never its status)
    EMAIL_CHANGE  linked to the member of the OLD address: change it in place,
                  never add a second member (§8.2)
    UNCHANGED     same content as last acknowledged
    PARKED        same content as a final failure: not retried until it changes
    SKIP          not sent on purpose: no consent (policy "skip"), or an address
                  erased on the platform (suppressed, never re-added)
    INVALID       cannot be sent as mapped (bad address, bad value): parked now
    CONFLICT      another platform contact is linked to this address (or
                  claims it in this chunk): retried later, since the other
                  contact may be about to change its address

`full=True` ignores content hashes (everything is sent again, parked records
too); suppressions always apply.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chimplink.mailchimp import subscriber_hash
from chimplink.platforms import Contact
from chimplink.store.sync_state import RecordOutcome, SyncRecord
from chimplink.sync.classify import Reason
from chimplink.sync.mapping import MappingError, MemberPayload, MemberPolicy, Skip, build_member

__all__ = ["Kind", "PlannedItem", "contact_hash", "content_hash", "email_hash", "plan_chunk"]

ERASED_REASON = "erased on the platform: never sent again"


class Kind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    EMAIL_CHANGE = "email_change"
    UNCHANGED = "unchanged"
    PARKED = "parked"
    SKIP = "skip"
    INVALID = "invalid"
    CONFLICT = "conflict"


SENDS = frozenset({Kind.CREATE, Kind.UPDATE, Kind.EMAIL_CHANGE})


def content_hash(value: Mapping[str, Any]) -> str:
    """A stable digest of a JSON-able mapping (sorted keys, no whitespace)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def email_hash(email: str) -> str | None:
    """The subscriber hash of an address, or None for an empty one."""
    return subscriber_hash(email) if email.strip() else None


@dataclass(frozen=True)
class PlannedItem:
    contact: Contact
    kind: Kind
    content_hash: str
    record: SyncRecord | None
    payload: MemberPayload | None = None
    subscriber_hash: str | None = None  # the member this contact will be linked to
    old_hash: str | None = None  # EMAIL_CHANGE: the member to change in place
    remove_tags: frozenset[str] = field(default_factory=frozenset)
    reason: Reason | None = None  # INVALID / CONFLICT
    detail: str | None = None  # INVALID / CONFLICT / SKIP: what to store and show

    @property
    def key(self) -> str:
        return self.contact.key

    @property
    def writes_record(self) -> bool:
        """Whether the stored record changes even if nothing is sent."""
        if self.kind in (Kind.UNCHANGED, Kind.PARKED):
            return False
        if self.kind is Kind.SKIP:
            return self.record is None or self.record.content_hash != self.content_hash
        return True


def _raw_hash(contact: Contact, list_id: str) -> str:
    """The content of a record that could not be mapped: its source values."""
    return content_hash(
        {
            "invalid": True,
            "list_id": list_id,
            "email": contact.email,
            "consent": contact.consent.value,
            "fields": {k: contact.fields[k] for k in sorted(contact.fields)},
            "labels": sorted(contact.labels),
        }
    )


def _unchanged(record: SyncRecord | None, digest: str, *, full: bool) -> bool:
    return not full and record is not None and record.content_hash == digest


def contact_hash(contact: Contact, policy: MemberPolicy) -> str:
    """The content hash a run would store for `contact` once Mailchimp acknowledged it.

    Store it (with outcome "synced") after writing Mailchimp's state back to
    the platform, and the next run sees the contact as unchanged: no echo.
    """
    item = plan_chunk(
        [contact], policy=policy, records={}, linked={}, suppressed=set(), managed_tags=set()
    )[0]
    return item.content_hash


def plan_chunk(
    contacts: Sequence[Contact],
    *,
    policy: MemberPolicy,
    records: Mapping[str, SyncRecord],
    linked: Mapping[str, Set[str]],
    suppressed: Set[str],
    managed_tags: Set[str],
    full: bool = False,
) -> list[PlannedItem]:
    """Decide each contact (one entry per contact, in order).

    `records`: stored records by key; `linked`: subscriber hash → keys whose
    record is linked to that member; `suppressed`: hashes never to send.
    """
    planned: list[PlannedItem] = []
    claimed: dict[str, str] = {}  # subscriber hash → key, within this chunk
    for contact in contacts:
        record = records.get(contact.key)
        try:
            built = build_member(contact, policy)
        except MappingError as exc:
            digest = _raw_hash(contact, policy.list_id)
            reason = Reason.INVALID_EMAIL if exc.field == "email" else Reason.MERGE_FIELD_INVALID
            unchanged = _unchanged(record, digest, full=full)
            parked = unchanged and record is not None and record.outcome is RecordOutcome.PARKED
            planned.append(
                PlannedItem(
                    contact,
                    Kind.PARKED if parked else Kind.INVALID,
                    digest,
                    record,
                    reason=reason,
                    detail=str(exc),
                )
            )
            continue
        if isinstance(built, Skip):
            digest = content_hash(
                {"skip": built.reason, "list_id": policy.list_id, "email": contact.email}
            )
            planned.append(PlannedItem(contact, Kind.SKIP, digest, record, detail=built.reason))
            continue
        payload = built
        member = subscriber_hash(payload.email_address)
        if member in suppressed:
            digest = content_hash({"skip": ERASED_REASON, "member": member})
            planned.append(PlannedItem(contact, Kind.SKIP, digest, record, detail=ERASED_REASON))
            continue
        digest = content_hash(payload.hash_input(policy.list_id))
        if _unchanged(record, digest, full=full):
            assert record is not None
            kind = Kind.PARKED if record.outcome is RecordOutcome.PARKED else Kind.UNCHANGED
            planned.append(PlannedItem(contact, kind, digest, record, payload, member))
            claimed.setdefault(member, contact.key)
            continue
        others = (set(linked.get(member, ())) - {contact.key}) or (
            {claimed[member]} if claimed.get(member, contact.key) != contact.key else set()
        )
        if others:
            planned.append(
                PlannedItem(
                    contact,
                    Kind.CONFLICT,
                    digest,
                    record,
                    payload,
                    member,
                    reason=Reason.DUPLICATE_EMAIL,
                    detail="another platform contact is linked to this email address",
                )
            )
            continue
        claimed[member] = contact.key
        current = record.subscriber_hash if record is not None else None
        previous_tags = record.tags if record is not None else frozenset()
        remove = frozenset((previous_tags - set(payload.tags)) & managed_tags)
        if current is None:
            kind, old = Kind.CREATE, None
        elif current == member:
            kind, old = Kind.UPDATE, None
        else:
            kind, old = Kind.EMAIL_CHANGE, current
        planned.append(
            PlannedItem(
                contact,
                kind,
                digest,
                record,
                payload,
                member,
                old_hash=old,
                remove_tags=remove if kind is not Kind.CREATE else frozenset(),
            )
        )
    return planned
