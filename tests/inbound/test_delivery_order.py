"""Duplicates are applied once; any delivery order ends in Mailchimp's state (T14, T15)."""

from __future__ import annotations

import asyncio
import itertools

from chimplink.platforms import Consent, ConsentWithdrawn, EmailChanged, ProfileChanged
from chimplink.store.inbox import InboxStatus
from tests.inbound.conftest import Scene


async def test_the_same_delivery_five_times_is_stored_and_applied_once(scene: Scene) -> None:
    sink = scene.sink()
    await scene.action("ann@example.org", action="unsubscribe", source="user")
    [body] = sink.bodies()
    scene.unsink()

    sequential = [await scene.post(body) for _ in range(3)]
    concurrent = await asyncio.gather(*(scene.post(body) for _ in range(2)))
    assert [r.status_code for r in [*sequential, *concurrent]] == [200] * 5
    [item] = await scene.inbox()

    await scene.process()
    assert scene.platform.calls == [ConsentWithdrawn(key="1", reason="unsubscribed")]
    # Mailchimp retries it later still: recognised, nothing stored, nothing applied.
    assert (await scene.post(body)).status_code == 200
    assert [i.id for i in await scene.inbox()] == [item.id]
    await scene.process()
    assert len(scene.platform.calls) == 1


async def test_distinct_changes_in_the_same_second_are_not_taken_for_duplicates(
    scene: Scene,
) -> None:
    sink = scene.sink()
    for name in ("Annie", "Anna"):
        await scene.action("ann@example.org", action="update_profile", merge_fields={"FNAME": name})
    first, second = sink.bodies()
    scene.unsink()
    for body in (first, second):
        # Same type, member and (maybe) second: still two deliveries.
        assert (await scene.post(body)).status_code == 200
    assert len(await scene.inbox()) == 2


async def test_every_order_of_deliveries_ends_in_mailchimps_state(scene: Scene) -> None:
    """Each of three contacts gets the same four changes in Mailchimp; their deliveries are
    then posted in different orders, the inbox processed after each one."""
    sink = scene.sink()
    emails = {"1": "ann@example.org", "2": "bob@example.org", "3": "cid@example.org"}
    bodies: dict[str, list[bytes]] = {}
    for key, email in emails.items():
        seen = len(sink.received)
        await scene.action(email, action="update_profile", merge_fields={"FNAME": f"A{key}"})
        await scene.action(email, action="update_profile", merge_fields={"FNAME": f"B{key}"})
        await scene.action(email, action="unsubscribe", source="user")
        await scene.action(email, action="change_email", new_email=f"new{key}@example.org")
        bodies[key] = sink.bodies()[seen:]
    scene.unsink()
    assert all(len(b) == 5 for b in bodies.values())  # 2 profile, unsubscribe, upemail+profile

    orders = list(itertools.permutations(range(5)))
    for index, key in enumerate(sorted(bodies)):
        for position in orders[index * 37]:  # three different orders
            assert (await scene.post(bodies[key][position])).status_code == 200
            await scene.process()

    for key in emails:
        contact = scene.platform[key]
        member = await scene.member(f"new{key}@example.org")
        assert contact.email == member["email_address"] == f"new{key}@example.org"
        assert contact.fields["first_name"] == member["merge_fields"]["FNAME"] == f"B{key}"
        assert contact.consent is Consent.WITHDRAWN and member["status"] == "unsubscribed"
    # Every delivery was processed; each contact changed once per kind, never back.
    assert {i.status for i in await scene.inbox()} == {InboxStatus.PROCESSED}
    for key in emails:
        kinds = [type(c) for c in scene.platform.effective if c.key == key]
        assert sorted(k.__name__ for k in kinds) == sorted(
            k.__name__ for k in (ConsentWithdrawn, EmailChanged, ProfileChanged)
        )
    assert (await scene.sync()).write_calls == 0
