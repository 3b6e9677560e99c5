"""Choosing an audience registers chimplink's webhook on it, as REFERENCE.md §4.1 asks."""

from __future__ import annotations

from chimplink.connect import webhook_url
from chimplink.store import get_signing_secret, list_remote_webhooks
from tests.store.helpers import dump_tables, leaks
from tests.web.harness import PUBLIC_URL, Browser, World, csrf_in, installations_of

EMAIL = "owner@bakery.example"


async def _connected(world: World) -> tuple[Browser, str, str, str]:
    account = await world.mailchimp.account("Bakery", EMAIL)
    list_id = await world.mailchimp.create_list(account["access_token"], "Customers")
    browser = world.browser()
    await browser.enter("user-1")
    assert (await browser.connect(EMAIL)).status_code == 303
    [installation] = await installations_of(world, "user-1")
    return browser, installation.id, list_id, account["access_token"]


async def test_the_audience_page_lists_the_accounts_audiences(world: World) -> None:
    browser, installation_id, list_id, token = await _connected(world)
    await world.mailchimp.create_list(token, "Newsletter")
    page = await browser.get(f"/installations/{installation_id}/audiences")
    assert page.status_code == 200
    assert "Customers" in page.text
    assert "Newsletter" in page.text
    assert f'id="audience-{list_id}"' in page.text
    assert 'name="csrf_token"' in page.text


async def test_choosing_an_audience_registers_the_webhook(world: World) -> None:
    browser, installation_id, list_id, token = await _connected(world)
    page = await browser.get(f"/installations/{installation_id}/audiences")
    chosen = await browser.post(
        f"/installations/{installation_id}/audiences",
        data={"csrf_token": csrf_in(page), "list_id": list_id},
    )
    assert chosen.status_code == 303, chosen.text
    assert chosen.headers["location"] == "/"

    [hook] = await world.mailchimp.webhooks(token, list_id)
    expected_url = webhook_url(world.services, installation_id)
    assert hook["url"] == expected_url
    assert expected_url.startswith(f"{PUBLIC_URL}/webhooks/mailchimp/{installation_id}/")
    assert hook["events"] == {
        "subscribe": True,
        "unsubscribe": True,
        "profile": True,
        "cleaned": True,
        "upemail": True,
        "campaign": False,
    }
    assert hook["sources"] == {"user": True, "admin": True, "api": False}

    async with world.services.sessions() as session:
        [recorded] = await list_remote_webhooks(session=session, installation_id=installation_id)
        secret = await get_signing_secret(
            session=session, cipher=world.services.cipher, installation_id=installation_id
        )
    assert (recorded.list_id, recorded.webhook_id) == (list_id, hook["id"])
    assert secret is not None
    dump = repr(await dump_tables(world.services.engine)).encode()
    assert leaks(dump, secret.get_secret_value()) == []  # stored encrypted only

    home = await browser.get("/")
    assert "chimplink now follows the audience Customers of Bakery." in home.text
    assert "Change audience" in home.text


async def test_choosing_the_same_audience_again_changes_nothing(world: World) -> None:
    browser, installation_id, list_id, token = await _connected(world)
    for _ in range(2):
        page = await browser.get(f"/installations/{installation_id}/audiences")
        response = await browser.post(
            f"/installations/{installation_id}/audiences",
            data={"csrf_token": csrf_in(page), "list_id": list_id},
        )
        assert response.status_code == 303
    assert len(await world.mailchimp.webhooks(token, list_id)) == 1
    page = await browser.get(f"/installations/{installation_id}/audiences")
    assert "— current" in page.text


async def test_choosing_another_audience_moves_the_webhook(world: World) -> None:
    browser, installation_id, first, token = await _connected(world)
    second = await world.mailchimp.create_list(token, "Newsletter")
    for list_id in (first, second):
        page = await browser.get(f"/installations/{installation_id}/audiences")
        response = await browser.post(
            f"/installations/{installation_id}/audiences",
            data={"csrf_token": csrf_in(page), "list_id": list_id},
        )
        assert response.status_code == 303
    assert await world.mailchimp.webhooks(token, first) == []
    assert len(await world.mailchimp.webhooks(token, second)) == 1
    async with world.services.sessions() as session:
        recorded = await list_remote_webhooks(session=session, installation_id=installation_id)
    assert [hook.list_id for hook in recorded] == [second]


async def test_an_existing_webhook_with_our_url_is_adopted(world: World) -> None:
    """A crash after Mailchimp created the webhook but before it was recorded."""
    browser, installation_id, list_id, token = await _connected(world)
    created = await world.mailchimp.client.post(
        f"/3.0/lists/{list_id}/webhooks",
        headers={"Authorization": f"Bearer {token}"},
        json={"url": webhook_url(world.services, installation_id)},
    )
    assert created.status_code == 200, created.text
    page = await browser.get(f"/installations/{installation_id}/audiences")
    response = await browser.post(
        f"/installations/{installation_id}/audiences",
        data={"csrf_token": csrf_in(page), "list_id": list_id},
    )
    assert response.status_code == 303
    [hook] = await world.mailchimp.webhooks(token, list_id)
    assert hook["id"] == created.json()["id"]
    async with world.services.sessions() as session:
        [recorded] = await list_remote_webhooks(session=session, installation_id=installation_id)
    assert recorded.webhook_id == hook["id"]


async def test_an_unknown_audience_is_a_plain_error(world: World) -> None:
    browser, installation_id, _, _ = await _connected(world)
    page = await browser.get(f"/installations/{installation_id}/audiences")
    response = await browser.post(
        f"/installations/{installation_id}/audiences",
        data={"csrf_token": csrf_in(page), "list_id": "nosuchlist"},
    )
    assert response.status_code == 502
    assert "no such audience" in response.text
    assert "Traceback" not in response.text


async def test_a_form_without_the_csrf_token_is_refused(world: World) -> None:
    browser, installation_id, list_id, token = await _connected(world)
    for data in ({"list_id": list_id}, {"list_id": list_id, "csrf_token": "guess"}):
        response = await browser.post(f"/installations/{installation_id}/audiences", data=data)
        assert response.status_code == 403
        assert "This form has expired" in response.text
    assert await world.mailchimp.webhooks(token, list_id) == []


async def test_an_account_without_audiences_says_so(world: World) -> None:
    await world.mailchimp.account("Empty Co", "empty@empty.example")
    browser = world.browser()
    await browser.enter("user-1")
    assert (await browser.connect("empty@empty.example")).status_code == 303
    [installation] = await installations_of(world, "user-1")
    page = await browser.get(f"/installations/{installation.id}/audiences")
    assert page.status_code == 200
    assert "has no audience yet" in page.text
