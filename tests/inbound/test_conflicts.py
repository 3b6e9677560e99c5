"""Both sides edit the same contact between syncs: Mailchimp's changes are applied field by
field, the platform's pending edits are never overwritten, and the next sync converges."""

from __future__ import annotations

from chimplink.mailchimp import subscriber_hash
from chimplink.platforms import Consent, ConsentWithdrawn, EmailChanged, ProfileChanged
from chimplink.store.inbox import InboxStatus
from chimplink.store.sync_state import RecordOutcome
from tests.inbound.conftest import Scene


async def test_different_fields_edited_on_each_side_both_survive(scene: Scene) -> None:
    scene.platform.edit("1", fields={"last_name": "Lie"})  # not synced yet
    await scene.action("ann@example.org", action="update_profile", merge_fields={"FNAME": "Anne"})
    await scene.process()
    assert scene.platform.effective == [ProfileChanged(key="1", fields={"first_name": "Anne"})]
    assert scene.platform["1"].fields["last_name"] == "Lie"  # the platform's edit is kept

    report = await scene.sync()  # sends the platform's LNAME (one write), not an echo
    assert report.write_calls == 1
    member = await scene.member("ann@example.org")
    assert member["merge_fields"]["FNAME"] == "Anne"
    assert member["merge_fields"]["LNAME"] == "Lie"
    assert (await scene.sync()).write_calls == 0


async def test_the_same_field_edited_on_both_sides_keeps_the_platform_value(scene: Scene) -> None:
    scene.platform.edit("2", fields={"city": "Milan"})
    await scene.action("bob@example.org", action="update_profile", merge_fields={"CITY": "Turin"})
    await scene.process()
    assert scene.platform.calls == []
    [item] = await scene.inbox()
    assert "fields changed on both sides" in (item.note or "")
    await scene.sync()
    assert (await scene.member("bob@example.org"))["merge_fields"]["CITY"] == "Milan"
    assert (await scene.sync()).write_calls == 0


async def test_an_unsubscribe_is_applied_even_while_the_platform_has_pending_edits(
    scene: Scene,
) -> None:
    scene.platform.edit("3", fields={"score": 9})
    await scene.action("cid@example.org", action="unsubscribe")
    await scene.process()
    assert scene.platform.effective == [ConsentWithdrawn(key="3", reason="unsubscribed")]
    record = await scene.record("3")
    # The record now describes what Mailchimp holds (the base of the next comparison),
    # which is not the platform's contact: its score still goes out.
    assert record.subscriber_hash == subscriber_hash("cid@example.org")
    assert record.outcome is RecordOutcome.SYNCED and record.content_hash is not None
    report = await scene.sync()
    assert report.write_calls == 1
    member = await scene.member("cid@example.org")
    assert member["merge_fields"][await scene.tag("score")] == 9
    assert member["status"] == "unsubscribed"  # never re-subscribed


async def test_an_address_changed_on_both_sides_keeps_the_platform_address(scene: Scene) -> None:
    members = await scene.member_count()
    scene.platform.edit("1", email="ann.platform@example.org")
    await scene.action("ann@example.org", action="change_email", new_email="ann.mc@example.org")
    await scene.process()
    assert not [c for c in scene.platform.calls if isinstance(c, EmailChanged)]
    record = await scene.record("1")
    # The record follows the member, so the outbound sync changes it in place.
    assert record.subscriber_hash == subscriber_hash("ann.mc@example.org")
    await scene.sync()
    assert (await scene.member("ann.platform@example.org"))["status"] == "subscribed"
    assert await scene.member_count() == members


async def test_skipped_contacts_keep_their_consent_state_and_record(scene: Scene) -> None:
    from chimplink.store.sync_config import save_sync_config
    from tests.inbound.connector import FIELD_MAP

    async with scene.sessions.begin() as session:
        await save_sync_config(
            session=session,
            installation_id=scene.installation.id,
            list_id=scene.list_id,
            field_map=FIELD_MAP,
            no_consent="skip",
        )
    await scene.action("bob@example.org", action="unsubscribe")
    await scene.process()
    assert scene.platform["2"].consent is Consent.WITHDRAWN
    record = await scene.record("2")
    assert record.outcome is RecordOutcome.SKIPPED
    assert (await scene.sync()).write_calls == 0


async def test_members_not_linked_or_gone_are_processed_with_a_note(scene: Scene) -> None:
    response = await scene.api(
        "POST",
        f"/lists/{scene.list_id}/members",
        json={"email_address": "stranger@example.org", "status": "subscribed"},
    )
    assert response.status_code == 200
    await scene.action("stranger@example.org", action="unsubscribe")
    await scene.action("ann@example.org", action="unsubscribe")
    deleted = await scene.api(
        "POST",
        f"/lists/{scene.list_id}/members/{subscriber_hash('ann@example.org')}"
        "/actions/delete-permanent",
    )
    assert deleted.status_code == 204
    mark = scene.world.transport.mark()
    await scene.process()
    notes = {i.note for i in await scene.inbox()}
    assert notes == {
        "not linked to a platform contact: nothing to apply",
        "not in the audience any more (deleted): nothing to apply",
    }
    assert {i.status for i in await scene.inbox()} == {InboxStatus.PROCESSED}
    assert scene.platform.calls == []
    # The unlinked member is not even read: one re-read (the deleted one, 404).
    member_reads = [
        s for s in scene.world.transport.since(mark) if "/members/" in s.path and s.method == "GET"
    ]
    assert len(member_reads) == 1


async def test_a_platform_refusal_is_retried_then_given_up(scene: Scene) -> None:
    from datetime import UTC, datetime, timedelta

    await scene.action("ann@example.org", action="unsubscribe")
    scene.platform.refuse = ConsentWithdrawn
    clock = [datetime.now(UTC)]
    for attempt in range(1, 4):
        report = await scene.process(max_attempts=3, clock=lambda: clock[0])
        [item] = await scene.inbox()
        assert item.attempts == attempt
        assert "the platform refused a change" in (item.last_error or "")
        if attempt < 3:
            assert report.retrying == 1 and item.status is InboxStatus.PENDING
            assert item.next_attempt_at > clock[0]
            assert (await scene.process(max_attempts=3, clock=lambda: clock[0])).deliveries == 0
            clock[0] = item.next_attempt_at + timedelta(seconds=1)
        else:
            assert report.failed == 1 and item.status is InboxStatus.FAILED
            assert item.body is not None  # kept for diagnosis (pruned later)
    # Reconciliation repairs it once the platform accepts again.
    scene.platform.refuse = None
    await scene.reconcile()
    assert scene.platform["1"].consent is Consent.WITHDRAWN


async def test_a_revoked_token_leaves_the_deliveries_pending(scene: Scene) -> None:
    import pytest

    from chimplink.connect import NeedsReconnect
    from tests.web.harness import token_of

    await scene.action("ann@example.org", action="unsubscribe")
    await scene.world.mailchimp.control.revoke(await token_of(scene.world, scene.installation.id))
    with pytest.raises(NeedsReconnect):
        await scene.process()
    [item] = await scene.inbox()
    assert item.status is InboxStatus.PENDING and item.attempts == 0
    assert scene.platform.calls == []


async def test_a_mailchimp_outage_stops_the_batch_and_retries_later(scene: Scene) -> None:
    from datetime import UTC, datetime, timedelta

    for email in ("ann@example.org", "bob@example.org", "cid@example.org"):
        await scene.action(email, action="unsubscribe")
    # Every attempt of the client's retries fails (the installation client retries 3 times).
    await scene.world.mailchimp.script_fault(
        "GET /lists/{list_id}/members/{subscriber_hash}", "503", count=3
    )
    now = datetime.now(UTC)
    report = await scene.process(clock=lambda: now)
    assert report.members_read == 1  # stopped at the first failure: no hammering
    assert report.retrying == 3 and report.processed == 0
    assert scene.platform.calls == []
    items = await scene.inbox()
    assert all(i.attempts == 1 and i.next_attempt_at > now for i in items)
    later = max(i.next_attempt_at for i in items) + timedelta(seconds=1)
    report = await scene.process(clock=lambda: later)
    assert report.processed == 3
    assert {c.key for c in scene.platform.effective} == {"1", "2", "3"}
