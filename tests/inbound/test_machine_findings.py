"""What the state machine (test_stateful.py) found, one focused case each.

Each test is the shortest story that went wrong before its fix (sync/runner.py,
sync/inbound.py, sync/engine.py), told from the outside: both sides and Mailchimp's
request log.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chimplink.mailchimp import subscriber_hash
from chimplink.platforms import Consent, EmailChanged
from chimplink.store.sync_config import save_sync_config
from chimplink.store.sync_state import RecordOutcome
from tests.inbound.conftest import Scene
from tests.inbound.connector import FIELD_MAP


def _statuses_sent(scene: Scene, mark: int) -> list[tuple[str, str]]:
    """(address, status) of every member chimplink asked Mailchimp to create since `mark`."""
    sent = []
    for request in scene.world.transport.since(mark):
        if request.method == "POST" and request.path.endswith(f"/lists/{scene.list_id}"):
            for entry in json.loads(request.body)["members"]:
                if "status" in entry:
                    sent.append((entry["email_address"], entry["status"]))
    return sent


async def test_a_lost_address_change_never_brings_the_old_address_back(scene: Scene) -> None:
    """Mailchimp moved Bob to a new address (the webhook was lost) and he unsubscribed
    there; then the platform edits Bob. The sync used to find no member at the old
    address and create one, `subscribed`: a second member for an unsubscribed person."""
    sink = scene.sink()
    await scene.action("bob@example.org", action="change_email", new_email="robert@example.org")
    await scene.action("robert@example.org", action="unsubscribe")
    assert len(sink.received) == 3  # upemail, profile, unsubscribe: all lost
    scene.platform.edit("2", fields={"last_name": "Roy"})
    mark = scene.world.transport.mark()

    report = await scene.sync()
    assert report.created == 0 and report.retrying == {"member missing": 1}
    assert _statuses_sent(scene, mark) == []
    assert await scene.member_count() == 3
    record = await scene.record("2")
    assert record.outcome is RecordOutcome.FAILED
    assert record.subscriber_hash == subscriber_hash("bob@example.org")

    # The next reconciliation pass follows the member by the contact id the first sync
    # learned (no inbound pass had seen it before), and the edit then lands there.
    await scene.reconcile()
    assert scene.platform["2"].email == "robert@example.org"
    assert scene.platform["2"].consent is Consent.WITHDRAWN
    assert (await scene.sync()).write_calls == 1
    member = await scene.member("robert@example.org")
    assert member["merge_fields"]["LNAME"] == "Roy" and member["status"] == "unsubscribed"
    assert await scene.member_count() == 3
    assert (await scene.sync()).write_calls == 0


async def test_an_address_change_mailchimp_refused_is_not_undone_by_the_inbound_side(
    scene: Scene,
) -> None:
    """Mailchimp refuses to change an unsubscribed member's address, so the record is
    parked. It used to store the platform's new address next to the old member's hash,
    so the next inbound pass took the platform's address for the one last synced, and
    "applied" Mailchimp's old address over the platform's change."""
    await scene.action("ann@example.org", action="unsubscribe")
    await scene.process()
    scene.platform.edit("1", email="ann.new@example.org")
    report = await scene.sync()
    assert report.failed == {"email change refused": 1}
    record = await scene.record("1")
    assert record.outcome is RecordOutcome.PARKED
    assert record.email == "ann@example.org"  # the address of the member it is linked to
    assert record.subscriber_hash == subscriber_hash("ann@example.org")

    await scene.action("ann@example.org", action="update_profile", merge_fields={"LNAME": "Li"})
    await scene.process()
    await scene.reconcile()
    assert scene.platform["1"].email == "ann.new@example.org"
    assert not [c for c in scene.platform.calls if isinstance(c, EmailChanged)]


async def test_mailchimp_edits_after_a_partial_apply_are_still_recognised(scene: Scene) -> None:
    """The platform has an edit not sent yet; Mailchimp changes one field, then another.
    Applying the first used to clear the stored hash (the base of the three-way
    comparison), so the second was taken for a conflict, kept off the platform, and the
    next sync overwrote it with the platform's old value."""
    city = await scene.tag("city")
    scene.platform.edit("3", fields={"last_name": "Moen"})
    await scene.action("cid@example.org", action="update_profile", merge_fields={"FNAME": "Cyd"})
    await scene.process()
    await scene.action("cid@example.org", action="update_profile", merge_fields={city: "Lyon"})
    await scene.process()
    assert scene.platform["3"].fields["first_name"] == "Cyd"
    assert scene.platform["3"].fields["city"] == "Lyon"

    assert (await scene.sync()).write_calls == 1  # the platform's last name, nothing else
    member = await scene.member("cid@example.org")
    assert member["merge_fields"]["FNAME"] == "Cyd"
    assert member["merge_fields"][city] == "Lyon"
    assert member["merge_fields"]["LNAME"] == "Moen"
    assert (await scene.sync()).write_calls == 0


async def test_a_sync_takes_in_a_mailchimp_edit_whose_webhook_was_lost(scene: Scene) -> None:
    """A changed contact is sent whole; an edit made in Mailchimp that chimplink had not
    heard of (lost webhook) used to be overwritten by the next sync. Once reconciliation
    has run, each sync first takes in what changed since."""
    await scene.reconcile()  # the reconciliation job's first pass
    scene.sink()  # every delivery from now on is lost
    await scene.action("ann@example.org", action="update_profile", merge_fields={"FNAME": "Anna"})
    scene.platform.edit("1", fields={"last_name": "Lie"})

    report = await scene.sync()
    assert report.write_calls == 1
    member = await scene.member("ann@example.org")
    assert member["merge_fields"]["FNAME"] == "Anna"
    assert member["merge_fields"]["LNAME"] == "Lie"
    assert scene.platform["1"].fields["first_name"] == "Anna"
    assert (await scene.sync()).write_calls == 0


async def test_erasing_a_contact_deletes_its_member_where_it_is_now(scene: Scene) -> None:
    """The platform erases Ann after Mailchimp moved her to a new address (webhook lost,
    no inbound pass since). The erasure used to delete only the old address and the
    platform's: the member, with her personal data, stayed in Mailchimp. It is now found
    by the contact id the first sync learned."""
    async with scene.sessions.begin() as session:
        await save_sync_config(
            session=session,
            installation_id=scene.installation.id,
            list_id=scene.list_id,
            field_map=FIELD_MAP,
            erase_permanently=True,
        )
    scene.sink()
    await scene.action("ann@example.org", action="change_email", new_email="ann.b@example.org")
    scene.platform.erase("1")

    report = await scene.sync()
    assert report.erased == 1
    gone = await scene.api(
        "GET", f"/lists/{scene.list_id}/members/{subscriber_hash('ann.b@example.org')}"
    )
    assert gone.status_code == 404
    assert await scene.member_count() == 2


async def test_a_label_change_for_a_member_that_moved_waits_for_it(scene: Scene) -> None:
    """Only a label changed, so only the tags are written; the member's address changed
    in Mailchimp meanwhile (webhook lost): the tags call finds no member. The record
    waits for the inbound side to follow the member, as an update would."""
    scene.sink()
    await scene.action("cid@example.org", action="change_email", new_email="cid.m@example.org")
    scene.platform.edit("3", labels={"customer", "vip"})
    report = await scene.sync()
    assert report.retrying == {"member missing": 1} and report.failed == {}
    assert await scene.member_count() == 3

    await scene.reconcile()
    assert scene.platform["3"].email == "cid.m@example.org"
    assert (await scene.sync()).write_calls == 1
    member = await scene.member("cid.m@example.org")
    assert {t["name"] for t in member["tags"]} == {"customer", "vip"}
    assert await scene.member_count() == 3


CHANGES: dict[str, tuple[dict[str, Any], int]] = {
    # platform change → (what the platform edits, Mailchimp writes it takes)
    "a field": ({"fields": {"city": "Bergen"}}, 1),
    "a label added": ({"labels": {"customer", "vip"}}, 1),
    "a label removed": ({"labels": set()}, 1),
    "the address": ({"email": "ann.lee@example.org"}, 1),
    # `status_if_new` is never sent to an existing member: nothing to write.
    "consent withdrawn": ({"consent": Consent.WITHDRAWN}, 0),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
async def test_one_platform_change_is_one_write_at_most_and_never_echoes(
    scene: Scene, change: str
) -> None:
    """A label removed used to cost two writes (the whole member again, then the tags
    call), so did an address change (a PATCH, then every tag again), and a change of
    consent one write that changed nothing in Mailchimp."""
    edit, writes = CHANGES[change]
    before = await scene.writes()
    contact = scene.platform.edit("1", **edit)
    report = await scene.sync()
    assert report.status.value == "completed"
    assert report.write_calls == writes
    assert await scene.writes() - before == writes  # as Mailchimp (the emulator) counts them

    member = await scene.member(contact.email)
    assert member["merge_fields"][await scene.tag("city")] == contact.fields["city"]
    assert {t["name"] for t in member["tags"]} == set(contact.labels)
    assert member["status"] == "subscribed"  # consent is only ever `status_if_new`
    # chimplink's own write comes back as no delivery (the webhook omits API changes),
    # and nothing is left to send.
    await scene.drain()
    assert await scene.inbox() == []
    assert (await scene.sync()).write_calls == 0
    assert await scene.writes() - before == writes
