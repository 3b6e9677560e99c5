"""The remote clean-up worker: done on 2xx/404, dropped on 401 or an untrusted host,
retried with backoff otherwise, given up at the deadline."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from chimplink.connect import choose_audience, run_due_cleanups, uninstall
from chimplink.store import count_pending_cleanups, list_audit
from chimplink.store.tables import PendingCleanupRow
from tests.connect.helpers import connect_directly
from tests.web.harness import World, token_of

EMAIL = "owner@bakery.example"
DELETE_WEBHOOK = "DELETE /lists/{list_id}/webhooks/{webhook_id}"


async def _uninstalled_with_pending_cleanup(world: World) -> tuple[str, str, str]:
    """Uninstall while Mailchimp answers 503: one pending clean-up. (list, mc token, token)."""
    account = await world.mailchimp.account("Bakery", EMAIL)
    list_id = await world.mailchimp.create_list(account["access_token"], "Customers")
    installation = (await connect_directly(world, world.services, email=EMAIL)).installation
    await choose_audience(world.services, installation, list_id=list_id)
    token = await token_of(world, installation.id)
    await world.mailchimp.script_fault(DELETE_WEBHOOK, "503")
    result = await uninstall(world.services, installation_id=installation.id, tenant_id=None)
    assert (result.purged, result.webhooks_deleted, result.webhooks_pending) == (True, 0, 1)
    return list_id, account["access_token"], token


async def _pending(world: World) -> int:
    async with world.services.sessions() as session:
        return await count_pending_cleanups(session=session)


async def test_a_webhook_already_gone_counts_as_done(world: World) -> None:
    list_id, mc_token, _ = await _uninstalled_with_pending_cleanup(world)
    [hook] = await world.mailchimp.webhooks(mc_token, list_id)
    deleted = await world.mailchimp.client.delete(
        f"/3.0/lists/{list_id}/webhooks/{hook['id']}",
        headers={"Authorization": f"Bearer {mc_token}"},
    )
    assert deleted.status_code == 204
    report = await run_due_cleanups(world.services)
    assert (report.completed, report.failed, report.abandoned) == (1, 0, 0)
    assert await _pending(world) == 0


async def test_a_revoked_token_is_dropped_not_retried_for_days(world: World) -> None:
    list_id, mc_token, token = await _uninstalled_with_pending_cleanup(world)
    await world.mailchimp.control.revoke(token)
    mark = world.transport.mark()
    report = await run_due_cleanups(world.services)
    assert (report.completed, report.failed, report.abandoned) == (0, 0, 1)
    assert len(world.transport.since(mark)) == 1
    assert await _pending(world) == 0
    async with world.services.sessions() as session:
        events = [entry.event for entry in await list_audit(session=session)]
    assert "cleanup_abandoned" in events
    # Nothing chimplink can still do: the webhook stays until the user removes the app.
    assert len(await world.mailchimp.webhooks(mc_token, list_id)) == 1


async def test_an_untrusted_api_base_is_never_contacted(world: World) -> None:
    await _uninstalled_with_pending_cleanup(world)
    async with world.services.sessions.begin() as session:
        await session.execute(update(PendingCleanupRow).values(api_base="https://evil.example/us1"))
    mark = world.transport.mark()
    report = await run_due_cleanups(world.services)
    assert report.abandoned == 1
    assert world.transport.since(mark) == []
    assert await _pending(world) == 0


async def test_failures_back_off_and_the_deadline_gives_up(world: World) -> None:
    await _uninstalled_with_pending_cleanup(world)
    world.transport.unreachable.add("/")
    now = world.services.clock()
    failed = await run_due_cleanups(world.services, now=now)
    assert (failed.completed, failed.failed) == (0, 1)
    again = await run_due_cleanups(world.services, now=now + timedelta(seconds=1))
    assert (again.completed, again.failed) == (0, 0)  # backing off
    assert await _pending(world) == 1
    given_up = await run_due_cleanups(world.services, now=now + timedelta(days=4))
    assert given_up.abandoned == 1
    assert await _pending(world) == 0
