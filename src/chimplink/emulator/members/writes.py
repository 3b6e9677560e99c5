"""Creating and changing members: Mailchimp's rules (REFERENCE.md §5, §8.1–8.3).

Every write path (POST, PUT, PATCH, batch subscribe, the control plane) goes
through `create()` or `update()`, so the compliance rules hold everywhere:

- an `unsubscribed` or `cleaned` contact is never set to `subscribed` through
  the API ("Member In Compliance State"); `pending` is allowed, because it
  only sends a confirmation email the contact must click;
- a `cleaned` (bounced) contact cannot be edited, except that re-opt-in;
- a permanently deleted address is never re-added ("Forgotten Email Not
  Subscribed");
- fake or invalid addresses are refused (`emails.py`);
- `ip_signup` / `ip_opt` must be IPv4 or IPv6 addresses (enforced since
  2022-09-01, §5).

The control plane acts as the subscriber or an admin in Mailchimp's UI and
passes `enforce=False` to skip the API-only rules.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, Backend, now_iso
from chimplink.emulator.context import json_type
from chimplink.emulator.members import emails, errors
from chimplink.emulator.members.models import (
    Member,
    MembersStore,
    forget,
    insert,
    members_of,
    rehash,
    subscriber_hash,
    tag_id,
    touch,
)
from chimplink.emulator.merge_fields.models import MergeField
from chimplink.emulator.merge_fields.values import merge_values
from chimplink.emulator.segments.interests import require_known_interests

WRITABLE_STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
EMAIL_TYPES = ("html", "text")
# Fields copied as given (after validation) when they differ from the stored value.
_SIMPLE_FIELDS = (
    "email_type",
    "language",
    "vip",
    "location",
    "marketing_permissions",
    "ip_signup",
    "timestamp_signup",
    "ip_opt",
    "timestamp_opt",
)
_NOT_ARCHIVABLE = ("cleaned", "pending", "archived")


@dataclass(slots=True)
class MemberInput:
    """A member write body, type-checked; `None` means "not given"."""

    email_address: str | None = None
    status: str | None = None
    status_if_new: str | None = None
    email_type: str | None = None
    merge_fields: dict[str, Any] | None = None
    interests: dict[str, bool] | None = None
    language: str | None = None
    vip: bool | None = None
    location: dict[str, Any] | None = None
    marketing_permissions: list[dict[str, Any]] | None = None
    ip_signup: str | None = None
    timestamp_signup: str | None = None
    ip_opt: str | None = None
    timestamp_opt: str | None = None
    tags: list[str] | None = None


@dataclass(slots=True)
class Outcome:
    """What a write did, for the response and the webhook events."""

    member: Member
    created: bool = False
    changed: bool = False
    old_status: str | None = None  # None when created
    old_email: str | None = None  # set when the address changed
    profile_changed: bool = False

    @property
    def status_changed(self) -> bool:
        return self.old_status is not None and self.old_status != self.member.status


# -- parsing --------------------------------------------------------------------


def _string(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise problems.field_error(
            name, f"Schema describes string, {json_type(value)} found instead"
        )
    return value


def _status(body: Mapping[str, Any], name: str) -> str | None:
    value = _string(body, name)
    if value is not None and value not in WRITABLE_STATUSES:
        raise problems.field_error(name, f"Schema describes enum, {value} found instead")
    return value


def _ip(body: Mapping[str, Any], name: str) -> str | None:
    value = _string(body, name)
    if value:
        try:
            ipaddress.ip_address(value.strip())
        except ValueError:
            raise problems.field_error(
                name, f"{value} is not a valid IPv4 or IPv6 address."
            ) from None
        return value.strip()
    return value


def parse_timestamp(value: str) -> datetime | None:
    """An ISO 8601 timestamp (`Z`, an offset, or none = UTC; `T` or a space)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC).replace(microsecond=0)
    except (ValueError, OverflowError):  # e.g. year 9999 with a negative offset
        return None


def _timestamp(body: Mapping[str, Any], name: str) -> str | None:
    value = _string(body, name)
    if value:
        parsed = parse_timestamp(value)
        if parsed is None:
            raise problems.field_error(
                name, f"{value} is not a valid date-time (use ISO 8601, e.g. 2024-05-01T12:00:00Z)."
            )
        return parsed.isoformat()
    return value


def parse_input(body: Mapping[str, Any]) -> MemberInput:
    """Check what the spec's schema cannot say (enums where it has none, IPs,
    timestamps, map value types) and collect the fields of a write."""
    data = MemberInput(
        email_address=_string(body, "email_address"),
        status=_status(body, "status"),
        status_if_new=_status(body, "status_if_new"),
        email_type=_string(body, "email_type"),
        language=_string(body, "language"),
        ip_signup=_ip(body, "ip_signup"),
        ip_opt=_ip(body, "ip_opt"),
        timestamp_signup=_timestamp(body, "timestamp_signup"),
        timestamp_opt=_timestamp(body, "timestamp_opt"),
    )
    if data.email_address is not None:
        data.email_address = data.email_address.strip()
    if data.email_type is not None and data.email_type not in EMAIL_TYPES:
        raise problems.field_error(
            "email_type", f"Schema describes enum, {data.email_type} found instead"
        )
    vip = body.get("vip")
    if vip is not None:
        if not isinstance(vip, bool):
            raise problems.field_error(
                "vip", f"Schema describes boolean, {json_type(vip)} found instead"
            )
        data.vip = vip
    merge = body.get("merge_fields")
    if merge is not None:
        if not isinstance(merge, dict):
            raise problems.field_error(
                "merge_fields", f"Schema describes object, {json_type(merge)} found instead"
            )
        data.merge_fields = merge
    interests = body.get("interests")
    if interests is not None:
        if not isinstance(interests, dict):
            raise problems.field_error(
                "interests", f"Schema describes object, {json_type(interests)} found instead"
            )
        for key, value in interests.items():
            if not isinstance(value, bool):
                raise problems.field_error(
                    f"interests.{key}",
                    f"Schema describes boolean, {json_type(value)} found instead",
                )
        data.interests = dict(interests)
    location = body.get("location")
    if location is not None:
        if not isinstance(location, dict):
            raise problems.field_error(
                "location", f"Schema describes object, {json_type(location)} found instead"
            )
        data.location = {k: v for k, v in location.items() if k in ("latitude", "longitude")}
    permissions = body.get("marketing_permissions")
    if permissions is not None:
        if not isinstance(permissions, list) or not all(isinstance(p, dict) for p in permissions):
            raise problems.field_error("marketing_permissions", "Schema describes array of objects")
        data.marketing_permissions = [dict(p) for p in permissions]
    tags = body.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise problems.field_error("tags", "Schema describes array of strings")
        data.tags = [t.strip() for t in tags if t.strip()]
    return data


def hex_id(backend: Backend, length: int) -> str:
    """A hex id from the backend's seeded generator, in one draw.

    `Backend.new_id()` draws once per character, which cost ~100 µs per new
    member (two ids); PUT creating contacts is on the benchmark's hot path.
    """
    return f"{backend.rng.getrandbits(4 * length):0{length}x}"


# -- rules ------------------------------------------------------------------------


def _check_new_address(store: MembersStore, list_id: str, email: str) -> str:
    """The hash of an address about to join the audience, or the reason it cannot."""
    if emails.looks_fake(email):
        raise errors.looks_fake(email)
    digest = subscriber_hash(email)
    if store.is_forgotten(list_id, digest):
        raise errors.forgotten(email)
    return digest


def _merged_tags(
    store: MembersStore,
    *,
    list_id: str,
    current: list[dict[str, Any]],
    names: list[str],
    replace: bool,
    new_id: Callable[[], int],
) -> list[dict[str, Any]]:
    """Member tags after adding `names` (or replacing the set with them)."""
    now = now_iso()
    kept = [] if replace else list(current)
    existing = {str(t.get("name", "")).casefold(): t for t in current}
    seen = {str(t.get("name", "")).casefold() for t in kept}
    for name in names:
        key = name.casefold()
        if key in seen:
            continue
        seen.add(key)
        found = existing.get(key)
        kept.append(
            found
            if found is not None
            else {
                "id": tag_id(store, list_id=list_id, name=name, new_id=new_id),
                "name": name,
                "date_added": now,
            }
        )
    return kept


def create(
    *,
    account: Account,
    backend: Backend,
    list_id: str,
    data: MemberInput,
    status: str,
    fields: Mapping[str, MergeField],
    skip_merge_validation: bool,
) -> Outcome:
    """Add a new contact (the caller has checked it is not on the audience)."""
    email = data.email_address
    if not email:
        raise problems.missing_fields("email_address")
    if data.interests:
        require_known_interests(account, list_id, data.interests)
    store = members_of(account)
    digest = _check_new_address(store, list_id, email)
    merges = merge_values(
        fields, data.merge_fields, current={}, check_required=not skip_merge_validation
    )
    now = now_iso()
    member = Member(
        id=digest,
        email_address=email,
        unique_email_id=hex_id(backend, 10),
        contact_id=hex_id(backend, 32),
        web_id=backend.new_int_id(),
        email_type=data.email_type or "html",
        status=status,
        merge_fields=merges,
        interests=dict(data.interests or {}),
        language=data.language or "",
        vip=bool(data.vip),
        location=dict(data.location or {}),
        marketing_permissions=list(data.marketing_permissions or []),
        ip_signup=data.ip_signup or "",
        timestamp_signup=data.timestamp_signup or (now if status == "pending" else ""),
        ip_opt=data.ip_opt or "",
        timestamp_opt=data.timestamp_opt or (now if status == "subscribed" else ""),
        last_changed=now,
        list_id=list_id,
    )
    if data.tags:
        member.tags = _merged_tags(
            store,
            list_id=list_id,
            current=[],
            names=data.tags,
            replace=False,
            new_id=backend.new_int_id,
        )
    insert(store, member)
    touch(store, member)
    return Outcome(member, created=True, changed=True)


def update(
    *,
    account: Account,
    backend: Backend,
    member: Member,
    data: MemberInput,
    status: str | None,
    fields: Mapping[str, MergeField],
    skip_merge_validation: bool,
    sync_tags: bool = False,
    enforce: bool = True,
) -> Outcome:
    """Change an existing contact; `status` is the status to set (None: keep)."""
    if data.interests:
        require_known_interests(account, member.list_id, data.interests)
    store = members_of(account)
    prior = member.status
    # An archived contact keeps the consent state it had before archiving.
    effective = (member.status_before_archive or prior) if prior == "archived" else prior
    if (
        enforce
        and status == "subscribed"
        and prior != "subscribed"
        and effective in ("unsubscribed", "cleaned")
    ):
        raise errors.compliance_state(member.email_address)
    new_email: str | None = None
    if data.email_address and subscriber_hash(data.email_address) != member.id:
        new_email = data.email_address
    merges = merge_values(
        fields,
        data.merge_fields,
        current=member.merge_fields,
        check_required=not skip_merge_validation,
    )
    simple: dict[str, Any] = {}
    for name in _SIMPLE_FIELDS:
        value = getattr(data, name)
        if value is not None and value != getattr(member, name):
            simple[name] = value
    if data.interests:
        interests = {**member.interests, **data.interests}
        if interests != member.interests:
            simple["interests"] = interests
    merge_changed = merges != member.merge_fields
    status_changed = status is not None and status != prior
    tags: list[dict[str, Any]] | None = None
    if data.tags is not None and (data.tags or sync_tags):
        tags = _merged_tags(
            store,
            list_id=member.list_id,
            current=member.tags,
            names=data.tags,
            replace=sync_tags,
            new_id=backend.new_int_id,
        )
        if [t.get("name") for t in tags] == [t.get("name") for t in member.tags]:
            tags = None
    if enforce and prior == "cleaned":
        if new_email is not None:
            raise errors.email_change_not_subscribed(prior)
        if (status_changed and status != "pending") or simple or merge_changed or tags:
            raise errors.cleaned_not_editable(member.email_address)
    if new_email is not None:
        if enforce and prior != "subscribed":
            raise errors.email_change_not_subscribed(prior)
        digest = _check_new_address(store, member.list_id, new_email)
        taken = store.members.get(member.list_id, {}).get(digest)
        if taken is not None:
            raise errors.email_taken(new_email, taken.status)

    outcome = Outcome(member, old_status=prior)
    if new_email is not None:
        outcome.old_email = member.email_address
        rehash(store, member, new_email)
    for name, value in simple.items():
        setattr(member, name, value)
    if merge_changed:
        member.merge_fields = merges
    if status is not None and status_changed:
        now = now_iso()
        member.status = status
        if prior == "archived":
            member.status_before_archive = None
        if status == "subscribed":
            member.timestamp_opt = data.timestamp_opt or now
            member.unsubscribe_reason = ""
        elif status == "pending" and not member.timestamp_signup:
            member.timestamp_signup = now
    if tags is not None:
        member.tags = tags
    outcome.profile_changed = merge_changed or "interests" in simple
    outcome.changed = bool(
        new_email is not None or simple or merge_changed or status_changed or tags is not None
    )
    if outcome.changed:
        touch(store, member)
    return outcome


def archive(account: Account, member: Member) -> Outcome:
    """DELETE a member: Mailchimp archives it (status `archived`), §8.1."""
    if member.status in _NOT_ARCHIVABLE:
        raise errors.cannot_archive()
    outcome = Outcome(member, changed=True, old_status=member.status)
    member.status_before_archive = member.status
    member.status = "archived"
    touch(members_of(account), member)
    return outcome


def delete_permanently(account: Account, member: Member) -> None:
    forget(members_of(account), member)


def set_tags(
    account: Account,
    *,
    backend: Backend,
    member: Member,
    updates: list[tuple[str, bool]],
) -> bool:
    """Apply POST .../tags: active adds (creating the tag), inactive removes (§8.4)."""
    store = members_of(account)
    now = now_iso()
    tags = list(member.tags)
    changed = False
    for name, active in updates:
        key = name.casefold()
        present = [t for t in tags if str(t.get("name", "")).casefold() == key]
        if active and not present:
            tags.append(
                {
                    "id": tag_id(
                        store, list_id=member.list_id, name=name, new_id=backend.new_int_id
                    ),
                    "name": name,
                    "date_added": now,
                }
            )
            changed = True
        elif not active and present:
            tags = [t for t in tags if str(t.get("name", "")).casefold() != key]
            changed = True
    if changed:
        member.tags = tags
        touch(store, member)
    return changed
