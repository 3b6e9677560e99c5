"""Contact sync as jobs: `sync_installation`, the periodic task, `spawn`, the shared locks.

The scene (tests/inbound/conftest.py): a connected installation whose
audience webhook delivers into chimplink's inbox, sync settings, and an
in-memory platform of three people, synced once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest

import chimplink.jobs as jobs_module
import chimplink.jobs.locks as locks_module
import chimplink.jobs.sync_tasks as sync_tasks_module
from chimplink.connect import InstallationMissing, NeedsReconnect
from chimplink.jobs import (
    SYNC_EVERY,
    EmbeddedRunner,
    InstallationLocks,
    NoPlatform,
    NoSyncSettings,
    builtin_tasks,
    ready_installations,
    shared_locks,
    start_sync,
    sync_installation,
    sync_installations,
    sync_job_name,
)
from chimplink.jobs.inbound_tasks import ConnectorFactory, process_webhook_inbox
from chimplink.platforms import Connector, ConnectorError, Consent, Contact, ProfileChanged
from chimplink.store import Installation, find_installation, mark_needs_reconnect
from chimplink.store.inbox import InboxStatus
from chimplink.store.sync_state import list_runs
from chimplink.sync import Progress, SyncReport
from tests.connect.helpers import connect_directly
from tests.inbound.conftest import FAST_SYNC, Scene, open_scene
from tests.inbound.connector import LookupPlatform
from tests.web.harness import World


class JournalPlatform(LookupPlatform):
    """Notes in `journal` when chimplink applies a change and when it reads contacts;
    `gate`, when set, holds every read of the contact stream until it opens."""

    def __init__(self) -> None:
        super().__init__()
        self.journal: list[str] = []
        self.gate: asyncio.Event | None = None

    async def apply(self, change: object) -> None:  # type: ignore[override]
        self.journal.append(f"apply {type(change).__name__} {change.key}")  # type: ignore[attr-defined]
        await super().apply(change)  # type: ignore[arg-type]

    async def contacts(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Contact]]:
        self.journal.append("read")
        if self.gate is not None:
            await self.gate.wait()
        async for page in super().contacts(after=after, page_size=page_size):
            yield page


@pytest.fixture
async def scene(world: World) -> Scene:
    return await open_scene(world, JournalPlatform())


def factory_of(scene: Scene) -> ConnectorFactory:
    async def connectors(installation: Installation) -> Connector | None:
        return scene.platform if installation.id == scene.installation.id else None

    return connectors


async def sync(scene: Scene, **kwargs: object) -> SyncReport:
    return await sync_installation(
        scene.world.services,
        scene.installation.id,
        connectors=factory_of(scene),
        options=FAST_SYNC,
        **kwargs,  # type: ignore[arg-type]
    )


async def _eventually(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110 - polling observable state
            await asyncio.sleep(0.01)


# -- sync_installation ----------------------------------------------------------------


async def test_mailchimps_changes_reach_the_platform_before_the_platform_is_pushed(
    scene: Scene,
) -> None:
    platform: JournalPlatform = scene.platform
    city = await scene.tag("city")
    score = await scene.tag("score")
    # In Mailchimp: Ann unsubscribes, Bob's first name is corrected. Both wait in the inbox.
    await scene.action("ann@example.org", action="unsubscribe")
    await scene.action("bob@example.org", action="update_profile", merge_fields={"FNAME": "Bo"})
    assert {item.status for item in await scene.inbox()} == {InboxStatus.PENDING}
    # On the platform, both are edited too (other fields), so the sync sends both again.
    platform.edit("1", fields={"score": 9})
    platform.edit("2", fields={"city": "Milan"})
    platform.journal.clear()

    report = await sync(scene)

    assert report.status.value == "completed", report.message
    assert report.updated == 2 and report.failed_total == 0
    first_read = platform.journal.index("read")
    applied = platform.journal[:first_read]
    assert sorted(applied) == ["apply ConsentWithdrawn 1", "apply ProfileChanged 2"]
    assert all(not entry.startswith("apply") for entry in platform.journal[first_read:])
    assert {item.status for item in await scene.inbox()} == {InboxStatus.PROCESSED}
    # The platform has Mailchimp's changes, and Mailchimp kept them: no stale overwrite.
    assert platform["1"].consent is Consent.WITHDRAWN
    assert platform["2"].fields["first_name"] == "Bo"
    bob = await scene.member("bob@example.org")
    assert bob["merge_fields"]["FNAME"] == "Bo"
    assert bob["merge_fields"][city] == "Milan"
    ann = await scene.member("ann@example.org")
    assert ann["status"] == "unsubscribed"  # the update did not re-subscribe her
    assert ann["merge_fields"][score] == 9
    # And the next run has nothing to do: no echo either way.
    before = await scene.writes()
    again = await sync(scene)
    assert again.sent == 0 and await scene.writes() == before
    assert len(platform.effective) == 2


async def test_a_dry_run_leaves_the_inbox_and_mailchimp_alone(scene: Scene) -> None:
    platform: JournalPlatform = scene.platform
    await scene.action("bob@example.org", action="update_profile", merge_fields={"FNAME": "Bo"})
    platform.put("4", "dan@example.org", fields={"first_name": "Dan"})
    platform.journal.clear()
    before = await scene.writes()

    report = await sync(scene, dry_run=True)

    assert report.dry_run and report.created == 1
    assert [change.platform_key for change in report.preview] == ["4"]
    assert platform.journal == ["read"]  # nothing applied to the platform
    assert [item.status for item in await scene.inbox()] == [InboxStatus.PENDING]
    assert await scene.writes() == before
    assert await scene.member_count() == 3


async def test_what_stops_a_sync_before_it_starts(scene: Scene, world: World) -> None:
    services = world.services
    platform: JournalPlatform = scene.platform
    platform.put("4", "dan@example.org", fields={"first_name": "Dan"})
    await world.mailchimp.account("Second", "second@bakery.example")
    other = (await connect_directly(world, services, email="second@bakery.example")).installation
    platform.journal.clear()
    mark = world.transport.mark()

    with pytest.raises(InstallationMissing):
        await sync_installation(services, "no-such-installation", connectors=factory_of(scene))

    with pytest.raises(NoPlatform) as no_platform:
        await sync_installation(services, scene.installation.id, connectors=None)
    assert "CHIMPLINK_CONNECTOR" in (no_platform.value.reason or "")

    async def refuses(installation: Installation) -> Connector | None:
        raise ConnectorError("the platform's database is down")

    async def nothing(installation: Installation) -> Connector | None:
        return None

    for factory in (refuses, nothing):
        with pytest.raises(NoPlatform):
            await sync_installation(services, scene.installation.id, connectors=factory)

    with pytest.raises(NoSyncSettings) as no_settings:
        await sync_installation(services, other.id, connectors=factory_of(scene))
    assert "choose an audience" in no_settings.value.user_message

    async with services.sessions.begin() as session:
        await mark_needs_reconnect(session=session, installation_id=scene.installation.id)
    with pytest.raises(NeedsReconnect):
        await sync(scene)

    # Nothing was read, sent or recorded by any of them.
    assert platform.journal == []
    assert world.transport.since(mark) == []
    async with services.sessions() as session:
        assert len(await list_runs(session=session, installation_id=scene.installation.id)) == 1


async def test_a_401_while_draining_the_inbox_pauses_the_installation(scene: Scene) -> None:
    from tests.web.harness import token_of

    await scene.action("ann@example.org", action="unsubscribe")
    token = await token_of(scene.world, scene.installation.id)
    await scene.world.mailchimp.control.revoke(token)
    with pytest.raises(NeedsReconnect):
        await sync(scene)
    async with scene.sessions() as session:
        found = await find_installation(session=session, installation_id=scene.installation.id)
    assert found is not None and found.status.value == "needs_reconnect"
    assert [item.status for item in await scene.inbox()] == [InboxStatus.PENDING]


# -- locks ----------------------------------------------------------------------------


async def test_the_inbox_task_passes_over_an_installation_being_synced(scene: Scene) -> None:
    platform: JournalPlatform = scene.platform
    services = scene.world.services
    platform.gate = asyncio.Event()
    platform.edit("3", fields={"city": "Lyon"})
    platform.journal.clear()
    running = asyncio.create_task(sync(scene))
    await _eventually(lambda: "read" in platform.journal)  # the sync holds the lock now
    assert shared_locks().busy(scene.installation.id)

    await scene.action("bob@example.org", action="update_profile", merge_fields={"FNAME": "Bo"})
    assert await process_webhook_inbox(services, connectors=factory_of(scene)) == {}
    assert [item.status for item in await scene.inbox()] == [InboxStatus.PENDING]

    # A second sync of the same installation waits for the first one.
    second = asyncio.create_task(sync(scene))
    await asyncio.sleep(0.05)
    assert not second.done()
    assert platform.journal.count("read") == 1

    platform.gate.set()
    assert (await running).updated == 1
    assert (await second).status.value == "completed"
    assert not shared_locks().busy(scene.installation.id)
    # The second sync drained the delivery that arrived meanwhile, before its own read.
    assert platform.effective[-1] == ProfileChanged(key="2", fields={"first_name": "Bo"})
    assert platform.journal[-2:] == ["apply ProfileChanged 2", "read"]


async def test_locks_are_per_installation_and_per_event_loop() -> None:
    locks = shared_locks()
    assert shared_locks() is locks
    async with locks.of("a"):
        assert locks.busy("a") and not locks.busy("b")
        async with asyncio.timeout(1), locks.of("b"):
            pass  # another installation is not held up
    assert not locks.busy("a")

    seen: list[InstallationLocks] = []

    def other_loop() -> None:
        async def grab() -> None:
            seen.append(shared_locks())

        asyncio.run(grab())

    await asyncio.to_thread(other_loop)
    assert seen[0] is not locks


# -- the periodic task ----------------------------------------------------------------


async def test_the_periodic_sync_task(scene: Scene, world: World) -> None:
    tasks = {t.name: t for t in builtin_tasks(connectors=factory_of(scene))}
    assert tasks["sync_installations"].every == SYNC_EVERY == timedelta(minutes=15)
    assert "sync_installations" not in {t.name for t in builtin_tasks()}

    # A second account without sync settings is not a candidate.
    await world.mailchimp.account("Second", "second@bakery.example")
    await connect_directly(world, world.services, email="second@bakery.example")
    assert [i.id for i in await ready_installations(world.services)] == [scene.installation.id]

    platform: JournalPlatform = scene.platform
    platform.edit("2", fields={"city": "Milan"})
    done = await tasks["sync_installations"].run(world.services)
    assert done == {scene.installation.id: {"status": "completed", "sent": 1, "failed": 0}}
    assert (await scene.member("bob@example.org"))["merge_fields"][await scene.tag("city")] == (
        "Milan"
    )

    # An installation whose platform cannot be reached is passed over, with the reason.
    async def refuses(installation: Installation) -> Connector | None:
        raise ConnectorError("down for maintenance")

    skipped = await sync_installations(world.services, connectors=refuses)
    assert "down for maintenance" in str(skipped[scene.installation.id])

    # A paused installation is not even tried.
    async with world.services.sessions.begin() as session:
        await mark_needs_reconnect(session=session, installation_id=scene.installation.id)
    mark = world.transport.mark()
    assert await sync_installations(world.services, connectors=factory_of(scene)) == {}
    assert world.transport.since(mark) == []


# -- spawn ----------------------------------------------------------------------------


async def test_spawn_runs_once_per_name_and_keeps_the_progress(world: World) -> None:
    runner = EmbeddedRunner(world.services, [])
    release = asyncio.Event()

    async def work(report: Callable[[object], None]) -> str:
        report("half way")
        await release.wait()
        report("done")
        return "finished"

    assert runner.activity("job") is None
    assert runner.spawn("job", work)
    assert not runner.spawn("job", work)  # already running
    activity = runner.activity("job")
    assert activity is not None
    await _eventually(lambda: activity.progress == "half way")
    assert activity.running
    release.set()
    await _eventually(lambda: not activity.running)
    assert activity.result == "finished" and activity.progress == "done" and activity.error is None
    assert activity.finished_at is not None and activity.finished_at >= activity.started_at

    assert runner.spawn("job", work)  # finished: the name is free again
    assert runner.activity("job") is not activity
    await runner.stop()
    assert runner.activity("job") is not None


async def test_stop_cancels_spawned_work_and_failures_are_kept(world: World) -> None:
    runner = EmbeddedRunner(world.services, [])
    cancelled = asyncio.Event()

    async def forever(report: Callable[[object], None]) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def broken(report: Callable[[object], None]) -> None:
        raise RuntimeError("boom")

    assert runner.spawn("forever", forever)
    assert runner.spawn("broken", broken)
    await _eventually(lambda: not runner.activity("broken").running)  # type: ignore[union-attr]
    assert isinstance(runner.activity("broken").error, RuntimeError)  # type: ignore[union-attr]
    await asyncio.sleep(0)
    await runner.stop()
    assert cancelled.is_set()
    forever_activity = runner.activity("forever")
    assert forever_activity is not None and not forever_activity.running
    assert isinstance(forever_activity.error, asyncio.CancelledError)
    assert runner.spawn("forever", forever)  # a stopped runner's names are free
    await runner.stop()


async def test_start_sync_runs_a_sync_in_the_background(scene: Scene) -> None:
    runner = EmbeddedRunner(scene.world.services, [])
    platform: JournalPlatform = scene.platform
    platform.gate = asyncio.Event()
    for n in range(4, 9):
        platform.put(str(n), f"person{n}@example.org", fields={"first_name": f"P{n}"})
    connectors = factory_of(scene)

    assert start_sync(runner, scene.installation.id, connectors=connectors)
    assert not start_sync(runner, scene.installation.id, connectors=connectors)
    name = sync_job_name(scene.installation.id)
    activity = runner.activity(name)
    assert activity is not None and activity.running
    platform.gate.set()
    await _eventually(lambda: not activity.running)

    assert isinstance(activity.result, SyncReport), activity.error
    assert activity.result.created == 5
    assert isinstance(activity.progress, Progress)
    assert activity.progress.done == activity.progress.total == 5
    assert await scene.member_count() == 8

    # A refusal is kept for the page to show, with its message for the user.
    assert start_sync(runner, scene.installation.id, connectors=None)
    await _eventually(lambda: not runner.activity(name).running)  # type: ignore[union-attr]
    assert isinstance(runner.activity(name).error, NoPlatform)  # type: ignore[union-attr]
    await runner.stop()


def test_exports() -> None:
    for module in (jobs_module, locks_module, sync_tasks_module):
        exported = module.__all__
        assert exported == sorted(exported, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
        for name in exported:
            assert hasattr(module, name), (module.__name__, name)
