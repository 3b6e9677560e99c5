"""Audience members: state, identity and the lookups other resources use.

A member is identified by the MD5 of its lowercased email (`subscriber_hash`);
member endpoints also accept the email itself or the contact id (REFERENCE.md §8.1).
Permanently deleted emails are remembered (as hashes) so they can never be
re-added ("Forgotten Email Not Subscribed").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, now_iso, register_store

STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode("utf-8"), usedforsecurity=False).hexdigest()


class Member(BaseModel):
    id: str  # the subscriber hash
    email_address: str
    unique_email_id: str
    contact_id: str
    web_id: int
    email_type: str = "html"
    status: str
    unsubscribe_reason: str = ""
    merge_fields: dict[str, Any] = Field(default_factory=dict)
    interests: dict[str, bool] = Field(default_factory=dict)
    language: str = ""
    vip: bool = False
    location: dict[str, Any] = Field(default_factory=dict)
    marketing_permissions: list[dict[str, Any]] = Field(default_factory=list)
    ip_signup: str = ""
    timestamp_signup: str = ""
    ip_opt: str = ""
    timestamp_opt: str = ""
    member_rating: int = 2
    last_changed: str = Field(default_factory=now_iso)
    # Monotonic change counter: orders changes made within the same second
    # (last_changed has one-second resolution).
    change_seq: int = 0
    source: str = "API - Generic"
    tags: list[dict[str, Any]] = Field(default_factory=list)  # [{"id": int, "name": str}]
    list_id: str
    # Status before archiving, so an archived member can be told apart.
    status_before_archive: str | None = None


class MemberEvent(BaseModel):
    """A custom event recorded on a contact (POST .../members/{hash}/events, §8.6)."""

    name: str
    properties: dict[str, str] = Field(default_factory=dict)
    occurred_at: str
    is_syncing: bool = False


@register_store("members")
class MembersStore(BaseModel):
    # list_id → subscriber_hash → member
    members: dict[str, dict[str, Member]] = Field(default_factory=dict)
    # list_id → hashes of permanently deleted emails (never re-importable)
    forgotten: dict[str, list[str]] = Field(default_factory=dict)
    change_counter: int = 0
    # list_id → casefolded tag name → tag id. Mailchimp's tags are static
    # segments with list-wide ids; a name keeps its id across members.
    tag_ids: dict[str, dict[str, int]] = Field(default_factory=dict)
    # list_id → contact_id → events, oldest first (keyed by contact id, which
    # survives an email change; the subscriber hash does not)
    events: dict[str, dict[str, list[MemberEvent]]] = Field(default_factory=dict)

    # Derived indexes, rebuilt on demand (never snapshotted): contact id → hash,
    # and the forgotten hashes as sets. A size mismatch with the source means
    # someone changed the source directly; the index is then rebuilt.
    _contact_index: dict[str, dict[str, str]] = PrivateAttr(default_factory=dict)
    _forgotten_sets: dict[str, set[str]] = PrivateAttr(default_factory=dict)

    def contact_index(self, list_id: str, *, rebuild: bool = False) -> dict[str, str]:
        in_list = self.members.get(list_id, {})
        index = self._contact_index.get(list_id)
        if rebuild or index is None or len(index) != len(in_list):
            index = {m.contact_id: digest for digest, m in in_list.items()}
            self._contact_index[list_id] = index
        return index

    def is_forgotten(self, list_id: str, digest: str) -> bool:
        hashes = self.forgotten.get(list_id)
        if not hashes:
            return False
        found = self._forgotten_sets.get(list_id)
        if found is None or len(found) != len(hashes):
            found = set(hashes)
            self._forgotten_sets[list_id] = found
        return digest in found


def members_of(account: Account) -> MembersStore:
    return account.store(MembersStore)


def find_member(account: Account, list_id: str, key: str) -> Member | None:
    """Look a member up by subscriber hash, email address or contact id.

    All three are O(1): a miss (the common case of a PUT creating a member)
    never scans the audience.
    """
    store = members_of(account)
    in_list = store.members.get(list_id)
    if not in_list:
        return None
    if "@" in key:
        return in_list.get(subscriber_hash(key))
    found = in_list.get(key.lower())
    if found is not None:
        return found
    digest = store.contact_index(list_id).get(key)
    if digest is None:
        return None
    found = in_list.get(digest)
    if found is not None and found.contact_id == key:
        return found
    digest = store.contact_index(list_id, rebuild=True).get(key)
    return in_list.get(digest) if digest is not None else None


def touch(store: MembersStore, member: Member) -> None:
    """Record a real change: `last_changed` (1 s resolution) and `change_seq` (total order)."""
    store.change_counter += 1
    member.change_seq = store.change_counter
    member.last_changed = now_iso()


def insert(store: MembersStore, member: Member) -> None:
    store.members.setdefault(member.list_id, {})[member.id] = member
    index = store._contact_index.get(member.list_id)
    if index is not None:
        index[member.contact_id] = member.id


def rehash(store: MembersStore, member: Member, new_email: str) -> None:
    """Change a member's email address; its subscriber hash (and id) follow."""
    in_list = store.members.setdefault(member.list_id, {})
    in_list.pop(member.id, None)
    member.email_address = new_email
    member.id = subscriber_hash(new_email)
    in_list[member.id] = member
    index = store._contact_index.get(member.list_id)
    if index is not None:
        index[member.contact_id] = member.id


def forget(store: MembersStore, member: Member) -> None:
    """Permanently delete: remove the member and remember its hash (never re-importable)."""
    in_list = store.members.get(member.list_id, {})
    in_list.pop(member.id, None)
    hashes = store.forgotten.setdefault(member.list_id, [])
    if not store.is_forgotten(member.list_id, member.id):
        hashes.append(member.id)
    store._contact_index.get(member.list_id, {}).pop(member.contact_id, None)
    store.events.get(member.list_id, {}).pop(member.contact_id, None)


def drop_list(store: MembersStore, list_id: str) -> None:
    for mapping in (store.members, store.forgotten, store.tag_ids, store.events):
        mapping.pop(list_id, None)
    store._contact_index.pop(list_id, None)
    store._forgotten_sets.pop(list_id, None)


def tag_id(store: MembersStore, *, list_id: str, name: str, new_id: Callable[[], int]) -> int:
    """The list-wide id of tag `name` (case-insensitive), allocated on first use."""
    ids = store.tag_ids.setdefault(list_id, {})
    key = name.strip().casefold()
    found = ids.get(key)
    if found is None:
        used = set(ids.values())
        found = new_id()
        while found in used:
            found = new_id()
        ids[key] = found
    return found


def require_member(account: Account, list_id: str, key: str) -> Member:
    member = find_member(account, list_id, key)
    if member is None:
        raise problems.not_found("The requested resource could not be found.")
    return member
