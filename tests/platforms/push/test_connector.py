"""`PushConnector` on SQLite and PostgreSQL: paging by cursor, the erasure feed, and `apply`
writing Mailchimp's changes back once (a repeat moves no cursor and sends no webhook)."""

from __future__ import annotations

import json

import pytest

from chimplink.platforms import (
    Connector,
    ConnectorError,
    Consent,
    ConsentWithdrawn,
    EmailChanged,
    FieldSpec,
    FieldType,
    ProfileChanged,
)
from chimplink.platforms.push import PushConnector, encode_cursor
from chimplink.store.push import (
    delete_push_contacts,
    get_push_contacts,
    set_push_fields,
    set_push_webhook,
)
from chimplink.store.push_outbox import DeliveryStatus, PushDelivery, list_push_deliveries
from chimplink.sync.inbound import ContactLookup
from chimplink.sync.streams import CountingConnector
from tests.platforms.push.conftest import FIELDS, Platform, person


async def _pages(connector: PushConnector, after: str | None, size: int) -> list[list[str]]:
    return [[c.key for c in page] async for page in connector.contacts(after=after, page_size=size)]


async def _webhook(platform: Platform) -> None:
    async with platform.db.sessions.begin() as session:
        await set_push_webhook(
            session=session,
            cipher=platform.cipher,
            tenant_id=platform.tenant_id,
            url="https://shop.example/hooks",
        )


async def _outbox(platform: Platform) -> list[PushDelivery]:
    async with platform.db.sessions() as session:
        return await list_push_deliveries(session=session, tenant_id=platform.tenant_id)


async def _stored(platform: Platform, key: str) -> dict[str, object]:
    async with platform.db.sessions() as session:
        found = await get_push_contacts(session=session, tenant_id=platform.tenant_id, keys=[key])
    contact = found[key]
    return {
        "email": contact.email,
        "consent": contact.consent,
        "fields": dict(contact.fields),
        "seq": contact.seq,
    }


def test_it_is_a_connector_with_lookup_and_counting(platform: Platform) -> None:
    connector = platform.connector
    assert isinstance(connector, Connector)
    assert isinstance(connector, ContactLookup)
    assert isinstance(connector, CountingConnector)
    assert connector.name == "push"


async def test_fields_are_the_declared_ones(platform: Platform) -> None:
    assert await platform.connector.describe_fields() == [
        FieldSpec("first_name", FieldType.TEXT, "First name"),
        FieldSpec("score", FieldType.NUMBER, "Score"),
        FieldSpec("birthday", FieldType.BIRTHDAY, "Birthday"),
    ]


async def test_contacts_come_in_change_order_and_resume_after_a_cursor(
    platform: Platform,
) -> None:
    await platform.push(*(person(str(n), first_name=f"P{n}") for n in range(7)))
    await platform.push(person("2", first_name="changed"))  # moves to the end
    connector = platform.connector
    assert await _pages(connector, None, 3) == [["0", "1", "3"], ["4", "5", "6"], ["2"]]
    contacts = [c async for page in connector.contacts(after=None, page_size=100) for c in page]
    cursors = [c.cursor for c in contacts]
    assert cursors == sorted(cursors) and len(set(cursors)) == 7
    assert await _pages(connector, cursors[4], 10) == [["6", "2"]]
    assert await connector.count_contacts(after=cursors[4]) == 2
    assert await _pages(connector, cursors[-1], 10) == []

    last = contacts[-1]
    assert last.key == "2" and last.fields == {"first_name": "changed"}
    assert last.consent is Consent.GRANTED and last.email == "person.2@example.org"


async def test_values_of_fields_no_longer_declared_are_not_synced(platform: Platform) -> None:
    await platform.push(person("a", first_name="Ann", score=4))
    async with platform.db.sessions.begin() as session:
        await set_push_fields(session=session, tenant_id=platform.tenant_id, fields=FIELDS[:1])
    found = await platform.connector.get_contacts(["a", "missing"])
    assert set(found) == {"a"} and found["a"].fields == {"first_name": "Ann"}


async def test_a_cursor_it_never_gave_is_refused(platform: Platform) -> None:
    for bad in ("12", "abc", "-0000000000000000001", "0" * 21):
        with pytest.raises(ConnectorError, match="cannot resume"):
            await _pages(platform.connector, bad, 10)
    with pytest.raises(ValueError, match="page_size"):
        await _pages(platform.connector, None, 0)


async def test_erasures_are_a_feed_of_their_own(platform: Platform) -> None:
    await platform.push(person("a"), person("b"), person("c"))
    async with platform.db.sessions.begin() as session:
        await delete_push_contacts(
            session=session, tenant_id=platform.tenant_id, keys=["c", "a"], erase=True
        )
        await delete_push_contacts(session=session, tenant_id=platform.tenant_id, keys=["b"])
    pages = [p async for p in platform.connector.erasures(after=None, page_size=1)]
    assert [[(e.key, e.email) for e in p] for p in pages] == [
        [("c", "person.c@example.org")],
        [("a", "person.a@example.org")],
    ]
    after = pages[0][0].cursor
    assert [
        e.key async for p in platform.connector.erasures(after=after, page_size=5) for e in p
    ] == ["a"]
    assert await _pages(platform.connector, None, 10) == []


async def test_consent_withdrawn_is_stored_moved_and_announced_once(platform: Platform) -> None:
    await _webhook(platform)
    await platform.push(person("a", first_name="Ann"), person("b"))
    before = await _stored(platform, "a")
    change = ConsentWithdrawn(key="a", reason="unsubscribed")

    await platform.connector.apply(change)
    after = await _stored(platform, "a")
    assert after["consent"] == "withdrawn" and after["seq"] == 3 and before["seq"] == 1
    [delivery] = await _outbox(platform)
    assert delivery.event_type == "contact.consent_withdrawn"
    assert delivery.status is DeliveryStatus.PENDING and delivery.message_id.startswith("msg_")
    body = json.loads(delivery.payload)
    assert body["type"] == "contact.consent_withdrawn"
    assert body["timestamp"] == "2025-01-15T12:00:00Z"
    assert body["data"]["key"] == "a" and body["data"]["reason"] == "unsubscribed"
    assert body["data"]["contact"]["consent"] == "withdrawn"
    assert body["data"]["contact"]["cursor"] == encode_cursor(3)

    # Applied again (a duplicate delivery, a reconciliation): nothing moves, nothing is sent.
    await platform.connector.apply(change)
    assert await _stored(platform, "a") == after
    assert len(await _outbox(platform)) == 1
    assert await _pages(platform.connector, encode_cursor(3), 10) == []


async def test_profile_and_email_changes(platform: Platform) -> None:
    await _webhook(platform)
    await platform.push(person("a", first_name="Ann", score=4))
    connector = platform.connector
    await connector.apply(ProfileChanged(key="a", fields={"first_name": "Anna", "score": 4}))
    await connector.apply(EmailChanged(key="a", new_email="anna@example.org"))
    stored = await _stored(platform, "a")
    assert stored["fields"] == {"first_name": "Anna", "score": 4}
    assert stored["email"] == "anna@example.org"
    profile, email = await _outbox(platform)
    assert json.loads(profile.payload)["data"]["fields"] == {"first_name": "Anna"}
    assert json.loads(email.payload)["data"]["email"] == "anna@example.org"
    assert json.loads(email.payload)["data"]["contact"]["fields"]["first_name"] == "Anna"

    await connector.apply(ProfileChanged(key="a", fields={"first_name": "Anna"}))
    await connector.apply(EmailChanged(key="a", new_email="anna@example.org"))
    assert len(await _outbox(platform)) == 2


async def test_a_change_that_does_not_fit_changes_nothing(platform: Platform) -> None:
    await _webhook(platform)
    await platform.push(person("a", first_name="Ann"))
    before = await _stored(platform, "a")
    connector = platform.connector
    with pytest.raises(ConnectorError, match="'city' are not declared"):
        await connector.apply(ProfileChanged(key="a", fields={"first_name": "X", "city": "Oslo"}))
    with pytest.raises(ConnectorError, match=r"'score'.*JSON number"):
        await connector.apply(ProfileChanged(key="a", fields={"score": "many"}))
    with pytest.raises(ConnectorError, match="not an email address"):
        await connector.apply(EmailChanged(key="a", new_email="not an address"))
    assert await _stored(platform, "a") == before
    assert await _outbox(platform) == []


async def test_a_change_for_a_deleted_contact_recreates_nothing(platform: Platform) -> None:
    await _webhook(platform)
    await platform.connector.apply(ConsentWithdrawn(key="gone", reason="cleaned"))
    assert await _pages(platform.connector, None, 10) == []
    assert await _outbox(platform) == []


async def test_without_an_endpoint_the_change_is_stored_but_not_queued(
    platform: Platform,
) -> None:
    await platform.push(person("a"))
    await platform.connector.apply(ConsentWithdrawn(key="a", reason="cleaned"))
    assert (await _stored(platform, "a"))["consent"] == "withdrawn"
    assert await _outbox(platform) == []
