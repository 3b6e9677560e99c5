"""A revoked token: the next call marks the installation needs_reconnect, the page says so,
work pauses, and there is no retry storm — one failing call, then none."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from chimplink.store import InstallationStatus
from chimplink.store.tables import ApiCallRow
from tests.web.harness import Browser, World, csrf_in, installations_of, token_of

EMAIL = "owner@bakery.example"


async def _connected(world: World) -> tuple[Browser, str, str]:
    account = await world.mailchimp.account("Bakery", EMAIL)
    list_id = await world.mailchimp.create_list(account["access_token"], "Customers")
    browser = world.browser()
    await browser.enter("user-1")
    assert (await browser.connect(EMAIL)).status_code == 303
    [installation] = await installations_of(world, "user-1")
    return browser, installation.id, list_id


def _emulator_calls(stats: dict[str, Any], account_id: str) -> dict[str, dict[str, int]]:
    entry = stats["accounts"].get(account_id) or {}
    requests: dict[str, dict[str, int]] = entry.get("requests", {})
    return requests


async def test_revocation_marks_needs_reconnect_after_exactly_one_call(world: World) -> None:
    browser, installation_id, list_id = await _connected(world)
    [installation] = await installations_of(world, "user-1")
    await world.mailchimp.control.revoke(await token_of(world, installation_id))
    stats_before = await world.mailchimp.api_stats()
    mark = world.transport.mark()

    page = await browser.get(f"/installations/{installation_id}/audiences")
    assert page.status_code == 409
    assert "Mailchimp no longer accepts chimplink&#39;s access" in page.text
    assert "Reconnect" in page.text
    assert 'href="/connect"' in page.text

    sent = world.transport.since(mark)
    assert [(s.method, s.url.path) for s in sent] == [("GET", f"/{installation.dc}/3.0/lists")]
    async with world.services.sessions() as session:
        rows = (
            await session.execute(
                select(ApiCallRow.status).where(
                    ApiCallRow.installation_id == installation_id, ApiCallRow.status == 401
                )
            )
        ).all()
    assert len(rows) == 1
    # The emulator saw exactly one call for the account since the revocation: the 401.
    stats_after = await world.mailchimp.api_stats()
    account_id = installation.account_id
    before = _emulator_calls(stats_before, account_id).get("GET /lists", {})
    after = _emulator_calls(stats_after, account_id).get("GET /lists", {})
    assert after.get("401", 0) - before.get("401", 0) == 1
    assert sum(after.values()) - sum(before.values()) == 1

    [marked] = await installations_of(world, "user-1")
    assert marked.status is InstallationStatus.NEEDS_RECONNECT
    home = await browser.get("/")
    assert f'id="needs-reconnect-{installation_id}"' in home.text
    assert f'id="reconnect-{installation_id}"' in home.text
    assert f'id="choose-audience-{installation_id}"' not in home.text
    assert "Needs reconnect" in home.text

    # Paused: further visits and forms cost no call at all.
    mark = world.transport.mark()
    again = await browser.get(f"/installations/{installation_id}/audiences")
    assert again.status_code == 409
    confirm = await browser.get(f"/installations/{installation_id}/uninstall")
    chosen = await browser.post(
        f"/installations/{installation_id}/audiences",
        data={"csrf_token": csrf_in(confirm), "list_id": list_id},
    )
    assert chosen.status_code == 409
    assert world.transport.since(mark) == []


async def test_reconnecting_resumes_the_same_installation(world: World) -> None:
    browser, installation_id, _ = await _connected(world)
    await world.mailchimp.control.revoke(await token_of(world, installation_id))
    assert (await browser.get(f"/installations/{installation_id}/audiences")).status_code == 409

    assert (await browser.connect(EMAIL)).status_code == 303
    [installation] = await installations_of(world, "user-1")
    assert installation.id == installation_id
    assert installation.status is InstallationStatus.ACTIVE
    page = await browser.get(f"/installations/{installation_id}/audiences")
    assert page.status_code == 200
    assert "Customers" in page.text


async def test_uninstalling_a_revoked_installation_still_deletes_everything(
    world: World,
) -> None:
    browser, installation_id, list_id = await _connected(world)
    page = await browser.get(f"/installations/{installation_id}/audiences")
    chosen = await browser.post(
        f"/installations/{installation_id}/audiences",
        data={"csrf_token": csrf_in(page), "list_id": list_id},
    )
    assert chosen.status_code == 303
    await world.mailchimp.control.revoke(await token_of(world, installation_id))
    confirm = await browser.get(f"/installations/{installation_id}/uninstall")
    done = await browser.post(
        f"/installations/{installation_id}/uninstall", data={"csrf_token": csrf_in(confirm)}
    )
    assert done.status_code == 303
    assert await installations_of(world, "user-1") == []
