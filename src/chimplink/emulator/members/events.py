"""Audience webhook events for member changes, in Mailchimp's field format (REFERENCE.md §4.1).

`data` is the flat key map without the `data[...]` wrapping, in the order of
the canonical payloads; the deliverer (webhooks/) renders `merges][FNAME` as
`data[merges][FNAME]`. An address value nests one level deeper
(`merges][ADDRESS][city`), as PHP's bracket encoding of an array does.

- subscribe: a contact becomes `subscribed` (new, or from pending,
  transactional or archived);
- unsubscribe: a contact becomes `unsubscribed` (`action=unsub`), or a
  subscribed contact is archived or permanently deleted (`action=delete`,
  a value community docs report and no official source confirms);
- cleaned: a contact becomes `cleaned` (`reason=hard` unless given);
- upemail: the address changed — always followed by a profile event
  ("you will always receive a profile update at the same time");
- profile: merge fields or interests of an existing contact changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from chimplink.emulator.backend import ListEvent
from chimplink.emulator.members.models import Member
from chimplink.emulator.members.writes import Outcome
from chimplink.emulator.merge_fields.models import MergeField

_FIRED_AT = "%Y-%m-%d %H:%M:%S"


def fired_at() -> str:
    return datetime.now(UTC).strftime(_FIRED_AT)


def _merges(member: Member, fields: Iterable[MergeField]) -> dict[str, str]:
    out = {"merges][EMAIL": member.email_address}
    for field in fields:
        value: Any = member.merge_fields.get(field.tag, "")
        if isinstance(value, dict):
            for part, text in value.items():
                out[f"merges][{field.tag}][{part}"] = str(text)
        else:
            out[f"merges][{field.tag}"] = "" if value is None else str(value)
    return out


def _profile_data(member: Member, fields: Iterable[MergeField]) -> dict[str, str]:
    return {
        "id": member.unique_email_id,
        "list_id": member.list_id,
        "email": member.email_address,
        "email_type": member.email_type,
        "web_id": str(member.web_id),
        **_merges(member, fields),
        "ip_opt": member.ip_opt,
    }


def subscribe_data(member: Member, fields: Iterable[MergeField]) -> dict[str, str]:
    return {**_profile_data(member, fields), "ip_signup": member.ip_signup}


def unsubscribe_data(
    member: Member, fields: Iterable[MergeField], *, action: str, reason: str
) -> dict[str, str]:
    return {
        "action": action,
        "reason": reason,
        **_profile_data(member, fields),
        "campaign_id": "",
    }


def cleaned_data(member: Member, *, reason: str) -> dict[str, str]:
    return {
        "list_id": member.list_id,
        "campaign_id": "",
        "reason": reason,
        "email": member.email_address,
    }


def upemail_data(member: Member, old_email: str) -> dict[str, str]:
    return {
        "list_id": member.list_id,
        "new_id": member.unique_email_id,
        "new_email": member.email_address,
        "old_email": old_email,
    }


def for_outcome(
    outcome: Outcome,
    *,
    account_id: str,
    fields: list[MergeField],
    source: str,
    reason: str = "",
) -> list[ListEvent]:
    """The events Mailchimp fires for one write, in firing order."""
    member = outcome.member
    if not outcome.changed:
        return []
    when = fired_at()
    found: list[tuple[str, dict[str, str]]] = []
    if outcome.created:
        if member.status == "subscribed":
            found.append(("subscribe", subscribe_data(member, fields)))
    else:
        if outcome.old_email is not None:
            found.append(("upemail", upemail_data(member, outcome.old_email)))
        if outcome.status_changed:
            if member.status == "subscribed":
                found.append(("subscribe", subscribe_data(member, fields)))
            elif member.status == "unsubscribed":
                found.append(
                    (
                        "unsubscribe",
                        unsubscribe_data(member, fields, action="unsub", reason=reason or "manual"),
                    )
                )
            elif member.status == "cleaned":
                found.append(("cleaned", cleaned_data(member, reason=reason or "hard")))
            elif member.status == "archived" and outcome.old_status == "subscribed":
                found.append(
                    (
                        "unsubscribe",
                        unsubscribe_data(
                            member, fields, action="delete", reason=reason or "manual"
                        ),
                    )
                )
        if outcome.old_email is not None or outcome.profile_changed:
            found.append(("profile", _profile_data(member, fields)))
    return [
        ListEvent(
            account_id=account_id,
            list_id=member.list_id,
            type=kind,
            source=source,
            data=data,
            fired_at=when,
        )
        for kind, data in found
    ]


def deleted(
    member: Member, *, account_id: str, fields: list[MergeField], source: str
) -> list[ListEvent]:
    """A subscribed contact permanently deleted: an unsubscribe with action=delete."""
    if member.status != "subscribed":
        return []
    return [
        ListEvent(
            account_id=account_id,
            list_id=member.list_id,
            type="unsubscribe",
            source=source,
            data=unsubscribe_data(member, fields, action="delete", reason="manual"),
            fired_at=fired_at(),
        )
    ]
