"""Planning a chunk against stored records: content hashes decide what is sent."""

from __future__ import annotations

from datetime import UTC, datetime

from chimplink.mailchimp import subscriber_hash
from chimplink.platforms import Consent, Contact
from chimplink.store.sync_config import NoConsentPolicy
from chimplink.store.sync_state import RecordOutcome, SyncRecord
from chimplink.sync import Kind, MemberPolicy, ResolvedField, content_hash, plan_chunk
from chimplink.sync.streams import latest_per_key

POLICY = MemberPolicy(list_id="L1", fields=(ResolvedField("city", "CITY", "text"),))
T = datetime(2025, 1, 1, tzinfo=UTC)


def contact(key: str, email: str, city: str = "Atlanta", **extra: object) -> Contact:
    values: dict[str, object] = {
        "key": key,
        "email": email,
        "consent": Consent.GRANTED,
        "cursor": "1",
        "fields": {"city": city},
        "labels": frozenset(),
    }
    values.update(extra)
    return Contact(**values)  # type: ignore[arg-type]


def record(key: str, email: str, digest: str | None, **extra: object) -> SyncRecord:
    values: dict[str, object] = {
        "platform_key": key,
        "email": email,
        "subscriber_hash": subscriber_hash(email),
        "content_hash": digest,
        "outcome": RecordOutcome.SYNCED,
        "reason": None,
        "attempts": 0,
        "tags": frozenset(),
        "updated_at": T,
    }
    values.update(extra)
    return SyncRecord(**values)  # type: ignore[arg-type]


def plan(contacts: list[Contact], records: dict[str, SyncRecord], **kwargs: object):  # type: ignore[no-untyped-def]
    linked: dict[str, set[str]] = {}
    for r in records.values():
        if r.subscriber_hash:
            linked.setdefault(r.subscriber_hash, set()).add(r.platform_key)
    settings: dict[str, object] = {
        "policy": POLICY,
        "records": records,
        "linked": linked,
        "suppressed": set(),
        "managed_tags": set(),
    }
    settings.update(kwargs)
    return plan_chunk(contacts, **settings)  # type: ignore[arg-type]


def test_content_hash_is_stable_and_order_free() -> None:
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})
    assert len(content_hash({})) == 32


def test_new_changed_unchanged() -> None:
    first = plan([contact("k1", "ann@shop.com")], {})[0]
    assert first.kind is Kind.CREATE
    same = plan(
        [contact("k1", "ann@shop.com")], {"k1": record("k1", "ann@shop.com", first.content_hash)}
    )
    assert same[0].kind is Kind.UNCHANGED
    changed = plan(
        [contact("k1", "ann@shop.com", city="Rome")],
        {"k1": record("k1", "ann@shop.com", first.content_hash)},
    )
    assert changed[0].kind is Kind.UPDATE
    full = plan(
        [contact("k1", "ann@shop.com")],
        {"k1": record("k1", "ann@shop.com", first.content_hash)},
        full=True,
    )
    assert full[0].kind is Kind.UPDATE


def test_the_hash_covers_what_is_sent() -> None:
    base = plan([contact("k1", "ann@shop.com")], {})[0].content_hash
    tagged = plan([contact("k1", "ann@shop.com", labels=frozenset({"vip"}))], {})[0].content_hash
    other_list = plan(
        [contact("k1", "ann@shop.com")], {}, policy=MemberPolicy(list_id="L2", fields=POLICY.fields)
    )[0].content_hash
    withdrawn = plan([contact("k1", "ann@shop.com", consent=Consent.WITHDRAWN)], {})[0].content_hash
    unmapped = plan([contact("k1", "ann@shop.com", fields={"city": "Atlanta", "x": 1})], {})[
        0
    ].content_hash
    assert len({base, tagged, other_list, withdrawn}) == 4
    assert unmapped == base  # a field that is not mapped is not sent, so not hashed


def test_parked_until_the_content_changes() -> None:
    digest = plan([contact("k1", "ann@shop.com")], {})[0].content_hash
    parked = record(
        "k1", "ann@shop.com", digest, outcome=RecordOutcome.PARKED, subscriber_hash=None
    )
    assert plan([contact("k1", "ann@shop.com")], {"k1": parked})[0].kind is Kind.PARKED
    assert plan([contact("k1", "ann@shop.com", city="X")], {"k1": parked})[0].kind is Kind.CREATE


def test_failed_records_are_sent_again() -> None:
    failed = record("k1", "ann@shop.com", None, outcome=RecordOutcome.FAILED)
    assert plan([contact("k1", "ann@shop.com")], {"k1": failed})[0].kind is Kind.UPDATE


def test_email_change_targets_the_old_member() -> None:
    old = record("k1", "ann@shop.com", "h", tags=frozenset({"vip", "x"}))
    item = plan(
        [contact("k1", "ann.b@shop.com", labels=frozenset({"x"}))],
        {"k1": old},
        managed_tags={"vip", "x"},
    )[0]
    assert item.kind is Kind.EMAIL_CHANGE
    assert item.old_hash == subscriber_hash("ann@shop.com")
    assert item.subscriber_hash == subscriber_hash("ann.b@shop.com")
    assert item.remove_tags == {"vip"}


def test_only_managed_tags_are_removed() -> None:
    old = record("k1", "ann@shop.com", "h", tags=frozenset({"vip", "legacy"}))
    item = plan([contact("k1", "ann@shop.com")], {"k1": old}, managed_tags={"vip"})[0]
    assert item.remove_tags == {"vip"}


def test_suppressed_addresses_are_skipped() -> None:
    item = plan([contact("k1", "Ann@Shop.com")], {}, suppressed={subscriber_hash("ann@shop.com")})[
        0
    ]
    assert item.kind is Kind.SKIP
    assert item.payload is None


def test_skip_policy() -> None:
    skip = MemberPolicy(list_id="L1", no_consent=NoConsentPolicy.SKIP)
    item = plan([contact("k1", "ann@shop.com", consent=Consent.UNKNOWN)], {}, policy=skip)[0]
    assert item.kind is Kind.SKIP and item.writes_record
    again = plan(
        [contact("k1", "ann@shop.com", consent=Consent.UNKNOWN)],
        {"k1": record("k1", "ann@shop.com", item.content_hash, outcome=RecordOutcome.SKIPPED)},
        policy=skip,
    )[0]
    assert again.kind is Kind.SKIP and not again.writes_record


def test_one_address_two_contacts_is_a_conflict() -> None:
    items = plan([contact("k1", "ann@shop.com"), contact("k2", "ANN@shop.com")], {})
    assert [i.kind for i in items] == [Kind.CREATE, Kind.CONFLICT]
    linked_elsewhere = plan(
        [contact("k2", "ann@shop.com")], {"k1": record("k1", "ann@shop.com", "h")}
    )
    assert linked_elsewhere[0].kind is Kind.CONFLICT


def test_invalid_records() -> None:
    items = plan(
        [contact("k1", "nope"), contact("k2", "b@shop.com", fields={"city": None})],
        {},
        policy=MemberPolicy(list_id="L1", fields=(ResolvedField("city", "CITY", "number"),)),
    )
    assert items[0].kind is Kind.INVALID
    assert items[1].kind is Kind.CREATE  # None clears the field: a valid value


def test_latest_version_of_a_contact_wins_within_a_chunk() -> None:
    older = contact("k1", "ann@shop.com", cursor="1")
    other = contact("k2", "bob@shop.com", cursor="2")
    newer = contact("k1", "ann@shop.com", city="Rome", cursor="3")
    assert latest_per_key([older, other, newer]) == [other, newer]
