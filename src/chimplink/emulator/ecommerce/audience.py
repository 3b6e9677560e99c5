"""How an e-commerce customer reaches the store's audience (REFERENCE.md §10).

- A customer whose address is not yet in the audience adds it: `subscribed`
  when `opt_in_status` is true, otherwise `transactional`.
- The customer never overwrites the status of a member that already exists;
  the one exception is the customer's own opt-in turning false → true, which
  upgrades a `transactional` member to `subscribed`. true → false changes
  nothing. So an unsubscribed or cleaned contact is never re-subscribed here.
- A permanently deleted address is never re-added (it must re-subscribe itself).

Only a change that makes someone `subscribed` fires a webhook (`subscribe`,
source `api`); adding a transactional contact is not a subscription.
"""

from __future__ import annotations

from datetime import UTC, datetime

from chimplink.emulator.backend import Account, Backend, ListEvent, now_iso
from chimplink.emulator.ecommerce.models import Customer
from chimplink.emulator.members.models import Member, find_member, members_of, subscriber_hash


def sync_member(
    *,
    account: Account,
    backend: Backend,
    list_id: str,
    customer: Customer,
    previous_opt_in: bool | None,
) -> None:
    """Apply the customer → member rules after a customer was created (`previous_opt_in`
    None) or updated (its opt-in before the update)."""
    member = find_member(account, list_id, customer.email_address)
    if member is None:
        store = members_of(account)
        digest = subscriber_hash(customer.email_address)
        if digest in store.forgotten.get(list_id, []):
            return
        status = "subscribed" if customer.opt_in_status else "transactional"
        member = _new_member(backend, list_id=list_id, customer=customer, status=status)
        store.change_counter += 1
        member.change_seq = store.change_counter
        store.members.setdefault(list_id, {})[digest] = member
    elif previous_opt_in is False and customer.opt_in_status and member.status == "transactional":
        store = members_of(account)
        member.status = "subscribed"
        member.timestamp_opt = now_iso()
        member.last_changed = member.timestamp_opt
        store.change_counter += 1
        member.change_seq = store.change_counter
    else:
        return
    if member.status == "subscribed":
        backend.emit(
            ListEvent(
                account_id=account.account_id,
                list_id=list_id,
                type="subscribe",
                source="api",
                data=_subscribe_data(member),
                fired_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            )
        )


def _new_member(backend: Backend, *, list_id: str, customer: Customer, status: str) -> Member:
    now = now_iso()
    merge_fields: dict[str, str] = {}
    if customer.first_name:
        merge_fields["FNAME"] = customer.first_name
    if customer.last_name:
        merge_fields["LNAME"] = customer.last_name
    return Member(
        id=subscriber_hash(customer.email_address),
        email_address=customer.email_address.strip(),
        unique_email_id=backend.new_id(10),
        contact_id=backend.new_id(32),
        web_id=backend.new_int_id(),
        status=status,
        merge_fields=merge_fields,
        timestamp_opt=now if status == "subscribed" else "",
        last_changed=now,
        list_id=list_id,
    )


def _subscribe_data(member: Member) -> dict[str, str]:
    """The `data[...]` of a subscribe delivery (REFERENCE.md §4.1)."""
    data = {
        "id": member.unique_email_id,
        "list_id": member.list_id,
        "email": member.email_address,
        "email_type": member.email_type,
        "web_id": str(member.web_id),
        "ip_opt": member.ip_opt,
        "ip_signup": member.ip_signup,
        "merges][EMAIL": member.email_address,
    }
    for tag, value in member.merge_fields.items():
        if isinstance(value, str):
            data[f"merges][{tag}"] = value
    return data
