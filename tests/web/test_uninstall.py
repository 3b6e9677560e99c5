"""Uninstall from the web: remote webhooks first, then every local trace but one PII-free
audit row; durable remote clean-up when Mailchimp fails; harmless when repeated."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chimplink.connect import run_due_cleanups, webhook_url
from chimplink.store import count_pending_cleanups
from tests.store.helpers import dump_tables, leaks, tables_mentioning
from tests.web.harness import Browser, World, csrf_in, installations_of, token_of

EMAIL = "Canary.Owner@Bakery.example"
DELETE_WEBHOOK = "DELETE /lists/{list_id}/webhooks/{webhook_id}"


async def _installed(world: World) -> tuple[Browser, str, str, str, str]:
    """A connected account with a chosen audience.

    Returns (browser, installation id, list id, chimplink's token, the test's API token).
    """
    account = await world.mailchimp.account("Bakery", EMAIL)
    list_id = await world.mailchimp.create_list(account["access_token"], "Customers")
    browser = world.browser()
    await browser.enter("user-1")
    assert (await browser.connect(EMAIL)).status_code == 303
    [installation] = await installations_of(world, "user-1")
    page = await browser.get(f"/installations/{installation.id}/audiences")
    chosen = await browser.post(
        f"/installations/{installation.id}/audiences",
        data={"csrf_token": csrf_in(page), "list_id": list_id},
    )
    assert chosen.status_code == 303
    assert len(await world.mailchimp.webhooks(account["access_token"], list_id)) == 1
    token = await token_of(world, installation.id)
    return browser, installation.id, list_id, token, account["access_token"]


async def _uninstall(browser: Browser, installation_id: str) -> str:
    confirm = await browser.get(f"/installations/{installation_id}/uninstall")
    assert confirm.status_code == 200
    assert 'id="confirm-disconnect"' in confirm.text
    assert "Your Mailchimp data stays" in confirm.text
    done = await browser.post(
        f"/installations/{installation_id}/uninstall", data={"csrf_token": csrf_in(confirm)}
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/disconnected"
    page = await browser.get("/disconnected")
    assert page.status_code == 200
    return page.text


async def _only_the_audit_row_remains(world: World, installation_id: str, token: str) -> None:
    dump = await dump_tables(world.services.engine)
    assert tables_mentioning(dump, installation_id) == {"audit_log": 1}
    assert tables_mentioning(dump, EMAIL) == {}
    assert leaks(repr(dump).encode(), token) == []
    [audit] = [row for row in dump["audit_log"] if row["installation_id"] == installation_id]
    assert audit["event"] == "uninstalled"


async def test_uninstall_removes_the_webhook_and_every_trace(world: World) -> None:
    browser, installation_id, list_id, token, mc_token = await _installed(world)
    page = await _uninstall(browser, installation_id)

    assert "Mailchimp account disconnected" in page
    assert "Bakery is no longer connected" in page
    assert (
        "In Mailchimp, open your profile → Account → Integrations/Connected apps "
        "and remove chimplink."
    ) in page
    assert "Your Mailchimp data stays" in page
    assert 'id="cleanup-done"' in page

    assert await world.mailchimp.webhooks(mc_token, list_id) == []
    await _only_the_audit_row_remains(world, installation_id, token)
    async with world.services.sessions() as session:
        assert await count_pending_cleanups(session=session) == 0

    home = await browser.get("/")
    assert installation_id not in home.text
    assert "No Mailchimp account is connected yet" in home.text


async def test_uninstalling_twice_is_harmless(world: World) -> None:
    browser, installation_id, _, token, _ = await _installed(world)
    confirm = await browser.get(f"/installations/{installation_id}/uninstall")
    csrf = csrf_in(confirm)
    first = await browser.post(
        f"/installations/{installation_id}/uninstall", data={"csrf_token": csrf}
    )
    assert first.status_code == 303
    before = await dump_tables(world.services.engine)
    mark = world.transport.mark()
    again = await browser.post(
        f"/installations/{installation_id}/uninstall", data={"csrf_token": csrf}
    )
    assert again.status_code == 404
    assert (await browser.get(f"/installations/{installation_id}/uninstall")).status_code == 404
    assert await dump_tables(world.services.engine) == before
    assert world.transport.since(mark) == []
    await _only_the_audit_row_remains(world, installation_id, token)


async def test_the_webhook_url_is_dead_after_uninstall(world: World) -> None:
    browser, installation_id, _, _, _ = await _installed(world)
    url = webhook_url(world.services, installation_id)
    assert (await browser.get(url)).status_code == 200
    await _uninstall(browser, installation_id)
    gone = await browser.get(url)
    assert gone.status_code == 404
    assert gone.content == (await browser.get("/no/such/page")).content


@pytest.mark.parametrize("failures", [1, 2])
async def test_when_mailchimp_fails_the_clean_up_completes_later(
    world: World, failures: int
) -> None:
    browser, installation_id, list_id, token, mc_token = await _installed(world)
    await world.mailchimp.script_fault(DELETE_WEBHOOK, "503", count=failures)

    page = await _uninstall(browser, installation_id)
    assert 'id="cleanup-pending"' in page
    assert "will keep trying automatically" in page
    # Local secrets are gone at once; the webhook is still at Mailchimp.
    assert len(await world.mailchimp.webhooks(mc_token, list_id)) == 1
    dump = await dump_tables(world.services.engine)
    assert tables_mentioning(dump, installation_id) == {"audit_log": 1}
    assert tables_mentioning(dump, EMAIL) == {}
    assert dump["installation_secrets"] == []
    assert len(dump["pending_cleanups"]) == 1

    now = world.services.clock()
    first_run = await run_due_cleanups(world.services, now=now)
    if failures == 1:
        assert first_run.completed == 1
    else:
        assert (first_run.completed, first_run.failed) == (0, 1)
        # Backed off: nothing is due right away, then it is.
        nothing = await run_due_cleanups(world.services, now=now + timedelta(seconds=5))
        assert (nothing.completed, nothing.failed) == (0, 0)
        later = await run_due_cleanups(world.services, now=now + timedelta(minutes=2))
        assert later.completed == 1

    assert await world.mailchimp.webhooks(mc_token, list_id) == []
    await _only_the_audit_row_remains(world, installation_id, token)
    async with world.services.sessions() as session:
        assert await count_pending_cleanups(session=session) == 0


async def test_uninstall_with_mailchimp_unreachable_still_deletes_local_secrets(
    world: World,
) -> None:
    browser, installation_id, list_id, token, mc_token = await _installed(world)
    world.transport.unreachable.add("/")  # the whole of Mailchimp is down
    page = await _uninstall(browser, installation_id)
    assert 'id="cleanup-pending"' in page
    dump = await dump_tables(world.services.engine)
    assert dump["installation_secrets"] == []
    assert tables_mentioning(dump, installation_id) == {"audit_log": 1}

    world.transport.unreachable.clear()
    report = await run_due_cleanups(world.services)
    assert report.completed == 1
    assert await world.mailchimp.webhooks(mc_token, list_id) == []
    await _only_the_audit_row_remains(world, installation_id, token)
