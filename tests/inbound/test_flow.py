"""End to end: a change in Mailchimp → the emulator's webhook → chimplink's receiver →
the inbox → the processor re-reads the member → the platform → and no echo back."""

from __future__ import annotations

from collections.abc import Callable

from chimplink.mailchimp import subscriber_hash
from chimplink.platforms import Consent, ConsentWithdrawn, EmailChanged, ProfileChanged
from chimplink.store.inbox import InboxStatus
from chimplink.store.sync_state import RecordOutcome
from tests.inbound.conftest import Scene, open_scene
from tests.inbound.connector import MemoryPlatform
from tests.web.harness import World


async def test_an_unsubscribe_in_mailchimp_withdraws_consent_once_and_nothing_echoes(
    world: World, make_platform: Callable[[], MemoryPlatform]
) -> None:
    scene = await open_scene(world, make_platform())
    before = await scene.writes()
    await scene.action("ann@example.org", action="unsubscribe", source="user")

    [item] = await scene.inbox()
    assert item.event_type == "unsubscribe"
    assert item.status is InboxStatus.PENDING
    assert item.body is not None and "ann%40example.org" in item.body

    report = await scene.process()
    assert report.deliveries == 1 and report.processed == 1 and report.members_read == 1
    assert scene.platform.effective == [ConsentWithdrawn(key="1", reason="unsubscribed")]
    assert scene.platform["1"].consent is Consent.WITHDRAWN

    [item] = await scene.inbox()
    assert item.status is InboxStatus.PROCESSED
    assert item.body is None  # personal data goes as soon as it is applied
    assert item.note == "applied: consent withdrawn"

    record = await scene.record("1")
    assert record.outcome is RecordOutcome.SYNCED
    assert record.subscriber_hash == subscriber_hash("ann@example.org")

    # The next outbound run finds nothing to send: no echo, no re-subscribe.
    sync = await scene.sync()
    assert sync.write_calls == 0, sync.counts()
    assert await scene.writes() == before
    assert (await scene.member("ann@example.org"))["status"] == "unsubscribed"
    # Processing again finds nothing new.
    assert (await scene.process()).deliveries == 0
    assert len(scene.platform.calls) == 1


async def test_a_profile_edit_in_mailchimp_changes_only_that_field(scene: Scene) -> None:
    before = await scene.writes()
    await scene.action(
        "bob@example.org", action="update_profile", source="user", merge_fields={"FNAME": "Robert"}
    )
    await scene.process()
    assert scene.platform.effective == [ProfileChanged(key="2", fields={"first_name": "Robert"})]
    assert scene.platform["2"].fields["last_name"] == "Ray"
    assert (await scene.sync()).write_calls == 0
    assert await scene.writes() == before


async def test_an_email_change_in_mailchimp_changes_the_platform_address_in_place(
    scene: Scene,
) -> None:
    members = await scene.member_count()
    before = await scene.writes()
    await scene.action(
        "cid@example.org", action="change_email", source="admin", new_email="cid.moe@example.org"
    )
    types = sorted(item.event_type for item in await scene.inbox())
    assert types == ["profile", "upemail"]  # Mailchimp sends both (REFERENCE.md §4.1)

    report = await scene.process()
    assert report.processed == 2
    assert report.members_read == 1  # both deliveries name the same member: one re-read
    assert scene.platform.effective == [EmailChanged(key="3", new_email="cid.moe@example.org")]
    assert scene.platform["3"].email == "cid.moe@example.org"
    record = await scene.record("3")
    assert record.email == "cid.moe@example.org"
    assert record.subscriber_hash == subscriber_hash("cid.moe@example.org")

    # No echo, and never a second member for the same contact.
    assert (await scene.sync()).write_calls == 0
    assert await scene.writes() == before
    assert await scene.member_count() == members


async def test_a_cleaned_address_withdraws_consent(scene: Scene) -> None:
    await scene.action("bob@example.org", action="clean", reason="hard")
    await scene.process()
    assert scene.platform.effective == [ConsentWithdrawn(key="2", reason="cleaned")]
    assert (await scene.sync()).write_calls == 0


async def test_one_platform_change_makes_one_write_and_no_echo(scene: Scene) -> None:
    before = await scene.writes()
    scene.platform.edit("1", fields={"city": "Bergen"})
    report = await scene.sync()
    assert report.write_calls <= 1
    assert await scene.writes() - before <= 1
    assert (await scene.member("ann@example.org"))["merge_fields"]["CITY"] == "Bergen"
    await scene.drain()
    # The webhook is registered without `api` as a source: chimplink's own write
    # produces no delivery, so nothing comes back to apply.
    assert await scene.inbox() == []
    assert (await scene.process()).deliveries == 0
    assert (await scene.sync()).write_calls == 0
    assert scene.platform.calls == []
