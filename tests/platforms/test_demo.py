"""The demo platform: generated contacts, streaming by change sequence, edits, write-back."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from chimplink.emulator.members.emails import looks_fake
from chimplink.platforms import (
    Connector,
    ConnectorError,
    Consent,
    ConsentWithdrawn,
    Contact,
    EmailChanged,
    FieldType,
    ProfileChanged,
)
from chimplink.platforms.demo import DEMO_FIELDS, LABELS, DemoPlatform, generate_contacts
from tests.platforms.helpers import drain, everything


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[DemoPlatform]:
    async with await DemoPlatform.create(tmp_path / "demo.db", contacts=300, seed=7) as created:
        yield created


async def test_generates_realistic_unique_contacts(tmp_path: Path) -> None:
    async with await DemoPlatform.create(tmp_path / "demo.db", contacts=2_000) as platform:
        assert await platform.count() == 2_000
        contacts = await everything(platform.connector().contacts(after=None, page_size=500))
    assert len(contacts) == 2_000
    assert len({c.key for c in contacts}) == len({c.email for c in contacts}) == 2_000
    # Realistic addresses at reserved domains, all accepted by the emulator's rule.
    assert not [c.email for c in contacts if looks_fake(c.email)]
    assert {c.email.rsplit("@", 1)[1] for c in contacts} == {
        "example.com",
        "example.org",
        "example.net",
    }
    consents = Counter(c.consent for c in contacts)
    assert 0.5 < consents[Consent.GRANTED] / 2_000 < 0.75
    assert 0.05 < consents[Consent.WITHDRAWN] / 2_000 < 0.25
    assert consents[Consent.UNKNOWN] > 0
    labels = Counter(label for c in contacts for label in c.labels)
    assert set(labels) == set(LABELS)
    assert labels["Newsletter"] > labels["Wholesale"] > labels["VIP"] > 0
    plans = Counter(c.fields["plan"] for c in contacts)
    assert set(plans) == {"free", "starter", "pro", "enterprise"}
    first = contacts[0]
    assert set(first.fields) == {spec.name for spec in DEMO_FIELDS}
    assert isinstance(first.fields["lifetime_value"], float)
    birthdays = [c.fields["birthday"] for c in contacts if c.fields["birthday"] is not None]
    assert birthdays and all(len(str(b)) == 5 and str(b)[2] == "/" for b in birthdays)
    assert all(len(str(c.fields["signup_date"])) == 10 for c in contacts)


async def test_same_seed_same_contacts(tmp_path: Path) -> None:
    async def generate(name: str, seed: int) -> list[Contact]:
        async with await DemoPlatform.create(tmp_path / name, contacts=500, seed=seed) as platform:
            return await everything(platform.connector().contacts(after=None, page_size=100))

    first = await generate("a.db", 7)
    assert await generate("b.db", 7) == first
    other = await generate("c.db", 8)
    assert [c.email for c in other] != [c.email for c in first]


def test_invalid_share_makes_exactly_that_many_fake_emails() -> None:
    plain = list(generate_contacts(count=1_000, seed=3))
    spoiled = list(generate_contacts(count=1_000, seed=3, invalid_share=0.05))
    assert sum(looks_fake(c.email) for c in spoiled) == 50
    assert sum(looks_fake(c.email) for c in plain) == 0
    # Only the emails differ: the share does not reshuffle everything else.
    changed = [(a, b) for a, b in zip(plain, spoiled, strict=True) if a != b]
    assert len(changed) == 50
    assert all(a.email != b.email and a.first_name == b.first_name for a, b in changed)
    assert len({c.email for c in spoiled}) == 1_000
    with pytest.raises(ValueError, match="invalid_share"):
        list(generate_contacts(count=1, invalid_share=1.5))


@pytest.mark.slow
async def test_hundred_thousand_contacts_generate_fast(tmp_path: Path) -> None:
    started = time.perf_counter()
    async with await DemoPlatform.create(
        tmp_path / "big.db", contacts=100_000, invalid_share=0.01
    ) as platform:
        elapsed = time.perf_counter() - started
        assert await platform.count() == 100_000
    # Typically a few seconds; the bound is loose for a busy machine.
    assert elapsed < 60, f"100,000 contacts took {elapsed:.1f} s"


@pytest.mark.parametrize("page_size", [1, 7, 100, 1_000])
async def test_streams_every_contact_once_in_cursor_order(
    platform: DemoPlatform, page_size: int
) -> None:
    connector = platform.connector()
    assert isinstance(connector, Connector)
    assert connector.name == "demo"
    pages = await drain(connector.contacts(after=None, page_size=page_size))
    assert all(0 < len(page) <= page_size for page in pages)
    contacts = [c for page in pages for c in page]
    assert [c.key for c in contacts] == [str(n) for n in range(1, 301)]
    cursors = [c.cursor for c in contacts]
    assert cursors == sorted(cursors) and len(set(cursors)) == 300
    assert cursors[0] == "000000000001"


async def test_resumes_from_a_cursor(platform: DemoPlatform) -> None:
    connector = platform.connector()
    every = await everything(connector.contacts(after=None, page_size=64))
    for index in (0, 1, 63, 64, 150, 298, 299):
        rest = await everything(connector.contacts(after=every[index].cursor, page_size=64))
        assert rest == every[index + 1 :]
        assert await connector.count_contacts(after=every[index].cursor) == len(rest)
    assert await connector.count_contacts(after=None) == 300
    with pytest.raises(ConnectorError, match="not made by the demo platform"):
        await drain(connector.contacts(after="2025-01-01|1", page_size=10))


async def test_describe_fields(platform: DemoPlatform) -> None:
    fields = await platform.connector().describe_fields()
    assert [(f.name, f.type) for f in fields] == [
        ("first_name", FieldType.TEXT),
        ("last_name", FieldType.TEXT),
        ("company", FieldType.TEXT),
        ("phone", FieldType.PHONE),
        ("birthday", FieldType.BIRTHDAY),
        ("signup_date", FieldType.DATE),
        ("plan", FieldType.TEXT),
        ("lifetime_value", FieldType.NUMBER),
    ]


async def test_every_edit_moves_the_contact_after_the_cursor(platform: DemoPlatform) -> None:
    connector = platform.connector()
    last = (await everything(connector.contacts(after=None, page_size=100)))[-1].cursor

    async def after(cursor: str) -> list[Contact]:
        return await everything(connector.contacts(after=cursor, page_size=100))

    edited = await platform.edit("5", first_name="Zoë", lifetime_value=12, birthday="12/24")
    assert edited.fields["first_name"] == "Zoë"
    assert edited.fields["lifetime_value"] == 12.0
    assert edited.fields["birthday"] == "12/24"
    assert [c.key for c in await after(last)] == ["5"]
    cursor = edited.cursor

    steps: list[Callable[[], Awaitable[Contact]]] = [
        lambda: platform.withdraw_consent("6"),
        lambda: platform.grant_consent("6"),
        lambda: platform.change_email("7", "renamed.person@example.com"),
        lambda: platform.add_label("8", "Spring sale"),
        lambda: platform.remove_label("8", "Spring sale"),
        lambda: platform.touch("9"),
    ]
    for step in steps:
        changed = await step()
        assert changed.cursor > cursor
        assert await after(cursor) == [changed]
        cursor = changed.cursor
    assert (await platform.get("6")).consent is Consent.GRANTED  # type: ignore[union-attr]
    assert (await platform.find_by_email("renamed.person@example.com")).key == "7"  # type: ignore[union-attr]

    # Changes that change nothing do not move anything.
    await platform.edit("5", first_name="Zoë")
    await platform.grant_consent("6")
    await platform.remove_label("8", "Spring sale")
    await platform.remove_label("8", "No such label")
    assert await after(cursor) == []


async def test_labels_and_new_contacts(platform: DemoPlatform) -> None:
    contact = await platform.add_contact(
        "new.customer@example.com",
        consent=Consent.GRANTED,
        labels=["VIP", "Brand new"],
        first_name="New",
        plan="pro",
    )
    assert contact.key == "301"
    assert contact.labels == {"VIP", "Brand new"}
    assert contact.fields["plan"] == "pro"
    assert contact.consent is Consent.GRANTED
    found = await platform.find(label="Brand new")
    assert [c.key for c in found] == ["301"]
    assert all(
        c.consent is Consent.WITHDRAWN for c in await platform.find(consent=Consent.WITHDRAWN)
    )
    with pytest.raises(ConnectorError, match="cannot add a contact with email"):
        await platform.add_contact("new.customer@example.com")
    with pytest.raises(ConnectorError, match="no field 'shoe_size'"):
        await platform.edit("1", shoe_size=42)
    with pytest.raises(ConnectorError, match="plan cannot be empty"):
        await platform.edit("1", plan=None)
    with pytest.raises(KeyError, match="no demo contact with key 999"):
        await platform.edit("999", first_name="Nobody")


async def test_erasures(platform: DemoPlatform) -> None:
    connector = platform.connector()
    assert await drain(connector.erasures(after=None, page_size=10)) == []
    email = (await platform.get("3")).email  # type: ignore[union-attr]
    first = await platform.erase("3")
    second = await platform.erase("10")
    assert (first.key, first.email) == ("3", email)
    assert await everything(connector.erasures(after=None, page_size=1)) == [first, second]
    assert await everything(connector.erasures(after=first.cursor, page_size=1)) == [second]
    keys = [c.key for c in await everything(connector.contacts(after=None, page_size=100))]
    assert "3" not in keys and "10" not in keys and len(keys) == 298
    assert await platform.get("3") is None
    with pytest.raises(KeyError):
        await platform.erase("3")


async def test_apply_is_idempotent(platform: DemoPlatform) -> None:
    connector = platform.connector()
    target = (await platform.find(consent=Consent.GRANTED, limit=1))[0]
    other = (await platform.find(limit=2))[1]

    await connector.apply(ConsentWithdrawn(key=target.key, reason="unsubscribed"))
    withdrawn = await platform.get(target.key)
    assert withdrawn is not None and withdrawn.consent is Consent.WITHDRAWN
    await connector.apply(ConsentWithdrawn(key=target.key, reason="cleaned"))
    assert await platform.get(target.key) == withdrawn  # same cursor: nothing written

    await connector.apply(
        ProfileChanged(key=target.key, fields={"first_name": "Ida", "birthday": "02/29"})
    )
    await connector.apply(EmailChanged(key=target.key, new_email="ida.new@example.com"))
    changed = await platform.get(target.key)
    assert changed is not None
    assert changed.fields["first_name"] == "Ida"
    assert changed.fields["birthday"] == "02/29"
    assert changed.email == "ida.new@example.com"
    assert changed.cursor > withdrawn.cursor
    for change in (
        ProfileChanged(key=target.key, fields={"first_name": "Ida", "birthday": "02/29"}),
        EmailChanged(key=target.key, new_email="ida.new@example.com"),
        ConsentWithdrawn(key=target.key, reason="unsubscribed"),
    ):
        await connector.apply(change)
    assert await platform.get(target.key) == changed

    # An erased contact stays erased: inbound changes for it are no-ops.
    await platform.erase(other.key)
    await connector.apply(ConsentWithdrawn(key=other.key, reason="unsubscribed"))
    await connector.apply(EmailChanged(key=other.key, new_email="back@example.com"))
    assert await platform.get(other.key) is None

    third = next(c for c in await platform.find(limit=5) if c.key not in (target.key, other.key))
    with pytest.raises(ConnectorError, match="another contact has"):
        await connector.apply(EmailChanged(key=third.key, new_email="ida.new@example.com"))
    with pytest.raises(ConnectorError, match="no field 'shoe_size'"):
        await connector.apply(ProfileChanged(key="1", fields={"shoe_size": 42}))
    with pytest.raises(ConnectorError, match="is not a demo contact key"):
        await connector.apply(ConsentWithdrawn(key="abc", reason="cleaned"))


async def test_open_an_existing_demo(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    async with await DemoPlatform.create(f"sqlite:///{path}", contacts=10):
        pass
    async with await DemoPlatform.open(path) as platform:
        assert await platform.count() == 10
    (tmp_path / "other.db").write_bytes(b"")
    with pytest.raises(ConnectorError, match="is not a demo platform database"):
        await DemoPlatform.open(tmp_path / "other.db")
