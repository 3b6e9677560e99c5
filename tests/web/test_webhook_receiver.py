"""The audience webhook receiver: validation GET and empty POST get 200; deliveries get 200
(deliveries are stored in the inbox); a wrong secret is the same 404 as any unknown address."""

from __future__ import annotations

import asyncio
import uuid

from chimplink.connect import WEBHOOK_PATH_PREFIX, webhook_secret, webhook_url
from chimplink.mailchimp import subscriber_hash
from tests.web.harness import Browser, World, csrf_in, installations_of

EMAIL = "owner@bakery.example"


async def _installed(world: World) -> tuple[Browser, str, str, str]:
    account = await world.mailchimp.account("Bakery", EMAIL)
    list_id = await world.mailchimp.create_list(account["access_token"], "Customers")
    browser = world.browser()
    await browser.enter("user-1")
    assert (await browser.connect(EMAIL)).status_code == 303
    [installation] = await installations_of(world, "user-1")
    return browser, installation.id, list_id, account["access_token"]


async def test_validation_get_and_empty_post_get_200(world: World) -> None:
    _, installation_id, _, _ = await _installed(world)
    mailchimp = world.browser().client  # no session: Mailchimp has no cookie
    url = webhook_url(world.services, installation_id)
    validator = await mailchimp.get(url, headers={"User-Agent": "MailChimp.com WebHook Validator"})
    assert validator.status_code == 200
    assert validator.content == b""
    empty = await mailchimp.post(url, content=b"")
    assert empty.status_code == 200
    delivery = await mailchimp.post(
        url,
        data={
            "type": "subscribe",
            "fired_at": "2009-03-26 21:35:57",
            "data[list_id]": "x",
            "data[email]": "reader@example.org",
        },
    )
    assert delivery.status_code == 200
    assert "set-cookie" not in delivery.headers


async def test_wrong_secrets_get_the_same_404_as_any_unknown_address(world: World) -> None:
    _, installation_id, _, _ = await _installed(world)
    client = world.browser().client
    reference = await client.get("/no/such/address")
    assert reference.status_code == 404
    secret = webhook_secret(world.services.webhook_key, installation_id)
    other = str(uuid.uuid4())
    wrong = [
        f"{WEBHOOK_PATH_PREFIX}/{installation_id}/{'0' * 32}",
        f"{WEBHOOK_PATH_PREFIX}/{installation_id}/{secret.upper()}",
        f"{WEBHOOK_PATH_PREFIX}/{installation_id}/{secret[:-1]}",
        f"{WEBHOOK_PATH_PREFIX}/{installation_id}/{secret}x",
        f"{WEBHOOK_PATH_PREFIX}/{other}/{secret}",
        f"{WEBHOOK_PATH_PREFIX}/{other}/{webhook_secret(world.services.webhook_key, other)}",
        f"{WEBHOOK_PATH_PREFIX}/not-an-id/{secret}",
        f"{WEBHOOK_PATH_PREFIX}/{installation_id}",
        f"{WEBHOOK_PATH_PREFIX}/{installation_id}/{secret}/extra",
    ]
    for path in wrong:
        for method in ("GET", "POST"):
            response = await client.request(method, path)
            assert response.status_code == 404, (method, path)
            assert response.content == reference.content, (method, path)


async def test_a_real_delivery_from_mailchimp_is_acknowledged(world: World) -> None:
    browser, installation_id, list_id, token = await _installed(world)
    page = await browser.get(f"/installations/{installation_id}/audiences")
    chosen = await browser.post(
        f"/installations/{installation_id}/audiences",
        data={"csrf_token": csrf_in(page), "list_id": list_id},
    )
    assert chosen.status_code == 303
    added = await world.mailchimp.client.post(
        f"/3.0/lists/{list_id}/members",
        headers={"Authorization": f"Bearer {token}"},
        json={"email_address": "reader@example.org", "status": "subscribed"},
    )
    assert added.status_code == 200, added.text
    await world.mailchimp.control.action(
        list_id, subscriber_hash("reader@example.org"), action="unsubscribe"
    )
    await asyncio.wait_for(world.mailchimp.app.drain(), timeout=10)
    deliveries = (await world.mailchimp.client.get("/_emulator/deliveries")).json()
    records = deliveries["deliveries"]
    unsubscribes = [d for d in records if d["type"] == "unsubscribe"]
    assert unsubscribes, records
    assert all(d["outcome"] == "delivered" and d["last_status"] == 200 for d in unsubscribes)
    # sources.api is false: the API write above produced no delivery.
    assert not [d for d in records if d["type"] == "subscribe"]
    assert {d["url"] for d in unsubscribes} == {webhook_url(world.services, installation_id)}
