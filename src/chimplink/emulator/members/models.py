"""Audience members: state, identity and the lookups other resources use.

A member is identified by the MD5 of its lowercased email (`subscriber_hash`);
member endpoints also accept the email itself or the contact id (REFERENCE.md §8.1).
Permanently deleted emails are remembered (as hashes) so they can never be
re-added ("Forgotten Email Not Subscribed").
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, Field

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


@register_store("members")
class MembersStore(BaseModel):
    # list_id → subscriber_hash → member
    members: dict[str, dict[str, Member]] = Field(default_factory=dict)
    # list_id → hashes of permanently deleted emails (never re-importable)
    forgotten: dict[str, list[str]] = Field(default_factory=dict)
    change_counter: int = 0


def members_of(account: Account) -> MembersStore:
    return account.store(MembersStore)


def find_member(account: Account, list_id: str, key: str) -> Member | None:
    """Look a member up by subscriber hash, email address or contact id."""
    in_list = members_of(account).members.get(list_id, {})
    if "@" in key:
        return in_list.get(subscriber_hash(key))
    found = in_list.get(key.lower())
    if found is not None:
        return found
    for member in in_list.values():
        if member.contact_id == key:
            return member
    return None


def require_member(account: Account, list_id: str, key: str) -> Member:
    member = find_member(account, list_id, key)
    if member is None:
        raise problems.not_found("The requested resource could not be found.")
    return member
