"""Reconciliation (`since_last_changed`) repairs what lost webhooks missed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chimplink.platforms import Consent, ConsentWithdrawn, EmailChanged, ProfileChanged
from chimplink.store.sync_state import get_checkpoint
from chimplink.sync.reconcile import RECONCILE_OVERLAP, RECONCILE_STREAM
from tests.inbound.conftest import Scene, open_scene
from tests.inbound.connector import MemoryPlatform
from tests.web.harness import World


async def test_a_first_pass_over_an_audience_in_step_applies_nothing(scene: Scene) -> None:
    mark = scene.world.transport.mark()
    report = await scene.reconcile()
    assert report.complete and report.since is None
    assert report.listed == 3 and report.linked == 3
    assert scene.platform.calls == []
    # Two setup reads (audience, merge fields) and one page of members: nothing per member.
    reads = [s for s in scene.world.transport.since(mark) if "/3.0" in s.path]
    assert len(reads) == 3, [s.path for s in reads]
    async with scene.sessions() as session:
        stored = await get_checkpoint(
            session=session, installation_id=scene.installation.id, stream=RECONCILE_STREAM
        )
    assert stored is not None and report.watermark is not None
    assert datetime.fromisoformat(stored) == report.watermark


async def test_lost_webhooks_are_repaired_by_the_next_pass(
    world: World, make_platform: Callable[[], MemoryPlatform]
) -> None:
    scene = await open_scene(world, make_platform())
    await scene.reconcile()  # the baseline: every linked member seen once
    sink = scene.sink()  # from now on, every delivery is lost
    await scene.action("ann@example.org", action="unsubscribe", source="user")
    await scene.action("bob@example.org", action="update_profile", merge_fields={"LNAME": "Roy"})
    await scene.action("cid@example.org", action="change_email", new_email="c.moe@example.org")
    assert len(sink.received) == 4 and await scene.inbox() == []

    report = await scene.reconcile()
    assert report.complete and report.since is not None
    assert sorted(map(repr, scene.platform.effective)) == sorted(
        map(
            repr,
            [
                ConsentWithdrawn(key="1", reason="unsubscribed"),
                ProfileChanged(key="2", fields={"last_name": "Roy"}),
                EmailChanged(key="3", new_email="c.moe@example.org"),
            ],
        )
    )
    assert scene.platform["1"].consent is Consent.WITHDRAWN
    # Nothing echoes, and a second pass finds nothing new.
    assert (await scene.sync()).write_calls == 0
    again = await scene.reconcile()
    assert again.complete
    assert len(scene.platform.calls) == 3


async def test_the_watermark_overlaps_and_moves_only_forwards(scene: Scene) -> None:
    first = await scene.reconcile()
    second = await scene.reconcile()
    assert first.watermark is not None and second.watermark is not None
    assert second.since == first.watermark
    assert second.watermark >= first.watermark
    assert RECONCILE_OVERLAP.total_seconds() > 0


async def test_a_pass_with_a_platform_failure_keeps_its_watermark(scene: Scene) -> None:
    await scene.reconcile()
    scene.sink()
    await scene.action("ann@example.org", action="unsubscribe")
    scene.platform.refuse = ConsentWithdrawn
    failed = await scene.reconcile()
    assert not failed.complete and failed.errors == 1
    async with scene.sessions() as session:
        stored = await get_checkpoint(
            session=session, installation_id=scene.installation.id, stream=RECONCILE_STREAM
        )
    assert stored is not None and failed.since is not None
    assert datetime.fromisoformat(stored) == failed.since  # not moved
    scene.platform.refuse = None
    repaired = await scene.reconcile()
    assert repaired.complete
    assert scene.platform["1"].consent is Consent.WITHDRAWN


async def test_without_sync_settings_there_is_nothing_to_reconcile(scene: Scene) -> None:
    from sqlalchemy import delete

    from chimplink.store.tables import SyncConfigRow

    async with scene.sessions.begin() as session:
        await session.execute(delete(SyncConfigRow))
    report = await scene.reconcile()
    assert report.complete and report.listed == 0
    assert report.note == "no sync settings: nothing to reconcile"
