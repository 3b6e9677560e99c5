"""The embedded runner and the built-in tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from chimplink.connect import choose_audience, uninstall
from chimplink.jobs import (
    API_CALL_RETENTION,
    EmbeddedRunner,
    Task,
    builtin_tasks,
    expire_oauth_states,
    prune_api_calls,
    remote_cleanup,
)
from chimplink.store import (
    ApiCallRecord,
    count_pending_cleanups,
    issue_oauth_state,
    record_api_calls,
)
from chimplink.store.tables import ApiCallRow, OAuthStateRow
from tests.connect.helpers import connect_directly, tenant_id
from tests.store.helpers import dump_tables
from tests.web.harness import World, open_world

DELETE_WEBHOOK = "DELETE /lists/{list_id}/webhooks/{webhook_id}"


async def _eventually(check: Callable[[], bool]) -> None:
    """Poll `check` (the runner's tasks run concurrently) for up to 5 seconds."""
    async with asyncio.timeout(5):
        while not check():  # noqa: ASYNC110 - polling observable state, not waiting on an event
            await asyncio.sleep(0.01)


async def test_the_runner_runs_each_task_at_start_and_survives_failures(world: World) -> None:
    seen: list[str] = []
    parked = asyncio.Event()

    async def fine(services: object) -> str:
        seen.append("fine")
        return "ok"

    async def broken(services: object) -> str:
        seen.append("broken")
        raise RuntimeError("task failed")

    async def sleep(seconds: float) -> None:
        await parked.wait()  # the next period never comes in this test

    runner = EmbeddedRunner(
        world.services,
        [Task("fine", timedelta(seconds=1), fine), Task("broken", timedelta(seconds=1), broken)],
        sleep=sleep,
    )
    await runner.start()
    assert runner.started
    await _eventually(lambda: len(seen) == 2)
    assert sorted(seen) == ["broken", "fine"]
    assert runner.runs == {"fine": 1, "broken": 0}
    assert runner.failures == {"fine": 0, "broken": 1}
    await runner.stop()
    assert not runner.started


async def test_a_task_runs_again_every_period(world: World) -> None:
    count = 0

    async def tick(services: object) -> None:
        nonlocal count
        count += 1

    async def sleep(seconds: float) -> None:
        assert seconds == 60
        await asyncio.sleep(0)

    runner = EmbeddedRunner(world.services, [Task("tick", timedelta(minutes=1), tick)], sleep=sleep)
    await runner.start()
    await _eventually(lambda: count >= 3)
    await runner.stop()


def test_the_builtin_tasks() -> None:
    assert {task.name for task in builtin_tasks()} == {
        "remote_cleanup",
        "expire_oauth_states",
        "prune_api_calls",
    }
    assert all(task.every > timedelta(0) for task in builtin_tasks())


async def test_expire_oauth_states_drops_stale_ones(world: World) -> None:
    tenant = await tenant_id(world.services)
    now = world.services.clock()
    async with world.services.sessions.begin() as session:
        for at in (now - timedelta(hours=3), now):
            await issue_oauth_state(
                session=session,
                cipher=world.services.cipher,
                tenant_id=tenant,
                session_binding="b",
                now=at,
            )
    assert await expire_oauth_states(world.services) == 1
    assert len((await dump_tables(world.services.engine))[OAuthStateRow.__tablename__]) == 1


async def test_prune_api_calls_keeps_the_retention_window(world: World) -> None:
    now = world.services.clock()
    async with world.services.sessions.begin() as session:
        await record_api_calls(
            session=session,
            calls=[
                ApiCallRecord(None, "POST /oauth2/token", 200, 5, now - API_CALL_RETENTION * 2),
                ApiCallRecord(None, "POST /oauth2/token", 200, 5, now - timedelta(days=1)),
            ],
        )
    assert await prune_api_calls(world.services) == 1
    assert len((await dump_tables(world.services.engine))[ApiCallRow.__tablename__]) == 1


async def test_remote_cleanup_finishes_an_uninstall(world: World) -> None:
    account = await world.mailchimp.account("Bakery", "owner@bakery.example")
    list_id = await world.mailchimp.create_list(account["access_token"], "Customers")
    installation = (
        await connect_directly(world, world.services, email="owner@bakery.example")
    ).installation
    await choose_audience(world.services, installation, list_id=list_id)
    await world.mailchimp.script_fault(DELETE_WEBHOOK, "503")
    await uninstall(world.services, installation_id=installation.id, tenant_id=None)
    report = await remote_cleanup(world.services)
    assert report.completed == 1  # type: ignore[attr-defined]
    assert await world.mailchimp.webhooks(account["access_token"], list_id) == []


async def test_the_web_app_runs_the_jobs_in_its_lifespan(database_url: str) -> None:
    async with open_world(database_url, run_jobs=True) as world:
        runner = world.app.state.chimplink.runner
        assert runner is not None and runner.started
        await _eventually(lambda: all(runner.runs[task.name] >= 1 for task in runner.tasks))
        async with world.services.sessions() as session:
            assert await count_pending_cleanups(session=session) == 0
    assert not runner.started
