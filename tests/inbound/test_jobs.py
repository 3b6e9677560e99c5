"""The inbound tasks: registered with a connector factory, run by the embedded runner."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import chimplink.jobs.inbound_tasks as inbound_tasks_module
import chimplink.store.inbox as inbox_module
import chimplink.sync.inbound as inbound_module
import chimplink.sync.reconcile as reconcile_module
from chimplink.jobs import EmbeddedRunner, builtin_tasks, run_task
from chimplink.jobs.inbound_tasks import (
    ConnectorFactory,
    process_webhook_inbox,
    prune_webhook_inbox,
    reconcile_audiences,
)
from chimplink.platforms import Connector, Consent, ConsentWithdrawn, ProfileChanged
from chimplink.store import Installation
from chimplink.store.inbox import InboxStatus, PruneResult
from tests.inbound.conftest import Scene


def _factory(scene: Scene) -> ConnectorFactory:
    async def connectors(installation: Installation) -> Connector | None:
        return scene.platform if installation.id == scene.installation.id else None

    return connectors


def test_the_inbound_tasks_come_with_a_connector_factory() -> None:
    async def none(installation: Installation) -> Connector | None:
        return None

    assert {t.name for t in builtin_tasks()} == {
        "remote_cleanup",
        "expire_oauth_states",
        "prune_api_calls",
    }
    tasks = {t.name: t for t in builtin_tasks(connectors=none)}
    assert {"process_webhook_inbox", "reconcile_audiences", "prune_webhook_inbox"} <= set(tasks)
    assert tasks["process_webhook_inbox"].every <= timedelta(seconds=10)
    assert tasks["reconcile_audiences"].every <= timedelta(hours=24)


async def test_the_embedded_runner_applies_deliveries(scene: Scene) -> None:
    await scene.action("ann@example.org", action="unsubscribe")
    runner = EmbeddedRunner(scene.world.services, builtin_tasks(connectors=_factory(scene)))
    await runner.start()
    try:
        async with asyncio.timeout(10):
            while scene.platform["1"].consent is not Consent.WITHDRAWN:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            while runner.runs.get("reconcile_audiences", 0) < 1:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        await runner.stop()
    assert runner.failures["process_webhook_inbox"] == 0
    assert runner.failures["reconcile_audiences"] == 0
    assert scene.platform.effective == [ConsentWithdrawn(key="1", reason="unsubscribed")]
    assert {i.status for i in await scene.inbox()} == {InboxStatus.PROCESSED}


async def test_the_tasks_skip_installations_without_a_connector_or_access(scene: Scene) -> None:
    from tests.web.harness import token_of

    async def nothing(installation: Installation) -> Connector | None:
        return None

    await scene.action("bob@example.org", action="update_profile", merge_fields={"FNAME": "Bo"})
    services = scene.world.services
    assert await process_webhook_inbox(services, connectors=nothing) == {}
    assert await reconcile_audiences(services, connectors=nothing) == {}
    [item] = await scene.inbox()
    assert item.status is InboxStatus.PENDING

    await scene.world.mailchimp.control.revoke(await token_of(scene.world, scene.installation.id))
    assert await process_webhook_inbox(services, connectors=_factory(scene)) == {}
    # The 401 paused the installation: later runs do not even try.
    mark = scene.world.transport.mark()
    assert await process_webhook_inbox(services, connectors=_factory(scene)) == {}
    assert await reconcile_audiences(services, connectors=_factory(scene)) == {}
    assert scene.world.transport.since(mark) == []
    assert scene.platform.calls == []


async def test_the_tasks_report_what_they_did(scene: Scene) -> None:
    await scene.action("bob@example.org", action="update_profile", merge_fields={"FNAME": "Bo"})
    services = scene.world.services
    done = await process_webhook_inbox(services, connectors=_factory(scene))
    assert done[scene.installation.id]["applied"] == {"ProfileChanged": 1}  # type: ignore[index]
    assert scene.platform.effective == [ProfileChanged(key="2", fields={"first_name": "Bo"})]
    reconciled = await reconcile_audiences(services, connectors=_factory(scene))
    assert reconciled[scene.installation.id]["complete"] is True  # type: ignore[index]
    [prune] = [
        t for t in builtin_tasks(connectors=_factory(scene)) if t.name == "prune_webhook_inbox"
    ]
    result = await run_task(prune, services)
    assert isinstance(result, PruneResult)
    assert await prune_webhook_inbox(services) == PruneResult(0, 0, 0)


def test_exports() -> None:
    for module in (inbound_tasks_module, inbox_module, inbound_module, reconcile_module):
        exported = module.__all__
        assert exported == sorted(exported, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
        for name in exported:
            assert hasattr(module, name), (module.__name__, name)
