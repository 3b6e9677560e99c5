"""Connecting a Mailchimp account through the web app: the good flow, reconnect, denial."""

from __future__ import annotations

import base64
import hashlib

import httpx

from chimplink.store import InstallationStatus, list_audit
from tests.web.harness import (
    MAILCHIMP_URL,
    REDIRECT_URI,
    World,
    installations_of,
    row_counts,
    token_of,
)

EMAIL = "owner@bakery.example"


async def test_the_good_flow_connects_and_shows_the_account(world: World) -> None:
    account = await world.mailchimp.account("Bakery", EMAIL)
    browser = world.browser()
    await browser.enter("user-1", "Ann")

    started = await browser.get("/connect")
    assert started.status_code == 303
    authorize = httpx.URL(started.headers["location"])
    assert str(authorize.copy_with(query=None)) == f"{MAILCHIMP_URL}/oauth2/authorize"
    params = authorize.params
    assert params["response_type"] == "code"
    assert params["redirect_uri"] == REDIRECT_URI
    assert len(params["state"]) >= 43  # ≥ 256 bits, url-safe
    assert params["code_challenge_method"] == "S256"

    callback_url = await world.consent(str(authorize), EMAIL)
    callback = await browser.get(callback_url)
    assert callback.status_code == 303
    assert callback.headers["location"] == "/"
    assert callback.headers["cache-control"] == "no-store"
    assert callback.headers["referrer-policy"] == "no-referrer"

    [installation] = await installations_of(world, "user-1")
    assert installation.account_id == account["account_id"]
    assert installation.login_email == EMAIL
    assert installation.account_name == "Bakery"
    assert installation.status is InstallationStatus.ACTIVE
    # Classic form: the metadata's api_endpoint, pinned below the configured base.
    assert installation.api_base == f"{MAILCHIMP_URL}/{account['dc']}"
    assert installation.dc == account["dc"]

    home = await browser.get("/")
    assert home.status_code == 200
    assert "Bakery is connected." in home.text
    assert f'id="installation-{installation.id}"' in home.text
    assert EMAIL in home.text
    assert 'data-status="active"' in home.text
    assert f'id="disconnect-{installation.id}"' in home.text


async def test_pkce_and_redirect_uri_are_sent_as_configured(world: World) -> None:
    await world.mailchimp.account("Bakery", EMAIL)
    browser = world.browser()
    await browser.enter("user-1")
    started = await browser.get("/connect")
    challenge = httpx.URL(started.headers["location"]).params["code_challenge"]
    callback = await browser.get(await world.consent(started.headers["location"], EMAIL))
    assert callback.status_code == 303

    [token_request] = world.transport.token_requests()
    assert token_request.method == "POST"
    assert token_request.url.query == b""  # the code and secret travel in the body only
    form = token_request.form()
    assert form["redirect_uri"] == REDIRECT_URI  # byte-identical to the authorize request
    assert form["grant_type"] == "authorization_code"
    verifier = form["code_verifier"]
    assert 43 <= len(verifier) <= 128
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert digest.decode() == challenge
    for sent in world.transport.sent:
        assert "code=" not in str(sent.url)
        assert "client_secret" not in str(sent.url)


async def test_return_to_is_followed_after_connect(world: World) -> None:
    await world.mailchimp.account("Bakery", EMAIL)
    browser = world.browser()
    await browser.enter("user-1")
    callback = await browser.connect(EMAIL, return_to="/?from=settings")
    assert callback.status_code == 303
    assert callback.headers["location"] == "/?from=settings"
    assert "code" not in callback.headers["location"]
    assert "state" not in callback.headers["location"]


async def test_reconnecting_updates_the_installation_never_duplicates_it(world: World) -> None:
    await world.mailchimp.account("Bakery", EMAIL)
    browser = world.browser()
    await browser.enter("user-1")
    assert (await browser.connect(EMAIL)).status_code == 303
    [first] = await installations_of(world, "user-1")
    first_token = await token_of(world, first.id)

    again = await browser.connect(EMAIL)
    assert again.status_code == 303
    [second] = await installations_of(world, "user-1")
    assert second.id == first.id
    assert await token_of(world, second.id) != first_token  # the new token replaced the old
    home = await browser.get("/")
    assert "Bakery is reconnected." in home.text
    async with world.services.sessions() as session:
        events = [e.event for e in await list_audit(session=session, installation_id=first.id)]
    assert sorted(events) == ["connected", "reconnected"]


async def test_two_tenants_may_connect_the_same_account(world: World) -> None:
    await world.mailchimp.account("Bakery", EMAIL)
    for tenant in ("user-1", "user-2"):
        browser = world.browser()
        await browser.enter(tenant)
        assert (await browser.connect(EMAIL)).status_code == 303
    [one] = await installations_of(world, "user-1")
    [two] = await installations_of(world, "user-2")
    assert one.id != two.id


async def test_denying_access_shows_a_clear_page_and_stores_nothing(world: World) -> None:
    await world.mailchimp.account("Bakery", EMAIL)
    browser = world.browser()
    await browser.enter("user-1")
    before = await row_counts(world)
    denied = await browser.connect(EMAIL, decision="deny")
    assert denied.status_code == 400
    assert "You did not allow access" in denied.text
    assert denied.headers["cache-control"] == "no-store"
    assert denied.headers["referrer-policy"] == "no-referrer"
    assert world.transport.token_requests() == []
    assert await installations_of(world, "user-1") == []
    after = await row_counts(world)
    assert after["installations"] == before["installations"] == 0
    assert after["installation_secrets"] == 0
