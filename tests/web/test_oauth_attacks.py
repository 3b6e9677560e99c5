"""The OAuth attack corpus (reliability.md T1, T3, T4, T6): every variant is a 4xx page,
bad state never reaches the token endpoint, and nothing is stored."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import update

from chimplink.store.tables import OAuthStateRow
from tests.web.harness import (
    REDIRECT_URI,
    Browser,
    World,
    installations_of,
    open_world,
    row_counts,
)

EMAIL = "owner@bakery.example"
ATTACKER_EMAIL = "mallory@attacker.example"


async def _started(world: World, browser: Browser) -> tuple[str, str]:
    """Start a flow and give consent; return (state, code) from Mailchimp's redirect."""
    started = await browser.get("/connect")
    assert started.status_code == 303
    location = httpx.URL(await world.consent(started.headers["location"], EMAIL))
    return location.params["state"], location.params["code"]


def _callback(state: str | None, code: str | None) -> str:
    query = []
    if state is not None:
        query.append(f"state={quote(state, safe='')}")
    if code is not None:
        query.append(f"code={quote(code, safe='')}")
    return "/oauth/callback?" + "&".join(query)


def _flip_one_bit(text: str) -> str:
    first = text[0]
    return chr(ord(first) ^ 0x01) + text[1:]


async def _assert_rejected(
    world: World, response: httpx.Response, *, token_requests: int, stored_before: dict[str, int]
) -> None:
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "location" not in response.headers
    assert "Traceback" not in response.text
    stats = await world.mailchimp.oauth_stats()
    assert stats["token_requests"] == token_requests
    assert len(world.transport.token_requests()) == token_requests
    after = await row_counts(world)
    for table in ("installations", "installation_secrets", "remote_webhooks"):
        assert after[table] == stored_before[table], table


@pytest.fixture
async def victim(world: World) -> Browser:
    await world.mailchimp.account("Bakery", EMAIL)
    await world.mailchimp.account("Mallory Inc", ATTACKER_EMAIL)
    browser = world.browser()
    await browser.enter("victim")
    return browser


@pytest.mark.parametrize(
    "variant", ["missing", "empty", "bit-flipped", "unknown", "repeated", "no-session"]
)
async def test_a_bad_state_is_rejected_without_a_token_request(
    world: World, victim: Browser, variant: str
) -> None:
    state, code = await _started(world, victim)
    before = await row_counts(world)
    if variant == "missing":
        url = _callback(None, code)
    elif variant == "empty":
        url = _callback("", code)
    elif variant == "bit-flipped":
        url = _callback(_flip_one_bit(state), code)
    elif variant == "unknown":
        url = _callback("A" * 43, code)
    elif variant == "repeated":
        url = _callback(state, code) + f"&state={quote(state, safe='')}"
    else:
        url = _callback(state, code)
    browser = world.browser() if variant == "no-session" else victim
    response = await browser.get(url)
    await _assert_rejected(world, response, token_requests=0, stored_before=before)
    assert "no longer valid" in response.text


async def test_a_state_from_another_browser_session_is_rejected(
    world: World, victim: Browser
) -> None:
    state, code = await _started(world, victim)
    attacker = world.browser()
    await attacker.enter("victim")  # even the same tenant, in another browser
    before = await row_counts(world)
    response = await attacker.get(_callback(state, code))
    await _assert_rejected(world, response, token_requests=0, stored_before=before)
    # Not burnt by the stranger: the rightful browser can still finish.
    finished = await victim.get(_callback(state, code))
    assert finished.status_code == 303
    assert len(await installations_of(world, "victim")) == 1


async def test_a_reused_state_is_rejected_and_a_refresh_makes_no_second_exchange(
    world: World, victim: Browser
) -> None:
    state, code = await _started(world, victim)
    assert (await victim.get(_callback(state, code))).status_code == 303
    before = await row_counts(world)
    refreshed = await victim.get(_callback(state, code))
    await _assert_rejected(world, refreshed, token_requests=1, stored_before=before)


async def test_an_expired_state_is_rejected(world: World, victim: Browser) -> None:
    state, code = await _started(world, victim)
    async with world.services.sessions.begin() as session:
        await session.execute(
            update(OAuthStateRow).values(expires_at=world.services.clock().replace(year=2020))
        )
    before = await row_counts(world)
    response = await victim.get(_callback(state, code))
    await _assert_rejected(world, response, token_requests=0, stored_before=before)


async def test_a_valid_state_with_a_forged_code_is_rejected(world: World, victim: Browser) -> None:
    state, _ = await _started(world, victim)
    before = await row_counts(world)
    response = await victim.get(_callback(state, "forged-code-by-an-attacker"))
    await _assert_rejected(world, response, token_requests=1, stored_before=before)
    assert "did not confirm" in response.text


async def test_a_valid_state_with_another_apps_code_is_rejected(
    world: World, victim: Browser
) -> None:
    """A code Mailchimp issued to the attacker's own app cannot be spent by chimplink."""
    await world.mailchimp.control.create_oauth_client(
        "attacker-app", "attacker-secret", [REDIRECT_URI]
    )
    authorize = (
        f"{world.settings.mailchimp_login_url}/oauth2/authorize?response_type=code"
        f"&client_id=attacker-app&redirect_uri={quote(REDIRECT_URI, safe='')}&state=x"
    )
    attackers_code = httpx.URL(await world.consent(authorize, ATTACKER_EMAIL)).params["code"]
    state, _ = await _started(world, victim)
    before = await row_counts(world)
    response = await victim.get(_callback(state, attackers_code))
    await _assert_rejected(world, response, token_requests=1, stored_before=before)
    assert await installations_of(world, "victim") == []


async def test_a_replayed_code_is_rejected(world: World, victim: Browser) -> None:
    state, code = await _started(world, victim)
    assert (await victim.get(_callback(state, code))).status_code == 303
    [installation] = await installations_of(world, "victim")
    # A fresh, valid state with the already spent code.
    fresh_state, _ = await _started(world, victim)
    before = await row_counts(world)
    response = await victim.get(_callback(fresh_state, code))
    await _assert_rejected(world, response, token_requests=2, stored_before=before)
    [still] = await installations_of(world, "victim")
    assert still.id == installation.id
    assert still.updated_at == installation.updated_at


async def test_the_token_endpoint_down_is_a_clear_page_and_stores_nothing(
    world: World, victim: Browser
) -> None:
    state, code = await _started(world, victim)
    world.transport.unreachable.add("/oauth2/token")
    before = await row_counts(world)
    response = await victim.get(_callback(state, code))
    assert 400 <= response.status_code < 500
    assert "did not confirm" in response.text
    after = await row_counts(world)
    assert after["installations"] == before["installations"] == 0
    assert after["installation_secrets"] == 0


async def test_the_metadata_endpoint_down_stores_nothing(world: World, victim: Browser) -> None:
    state, code = await _started(world, victim)
    world.transport.unreachable.add("/oauth2/metadata")
    response = await victim.get(_callback(state, code))
    assert 400 <= response.status_code < 500
    assert (await row_counts(world))["installations"] == 0


async def test_metadata_naming_a_foreign_api_host_stores_nothing(database_url: str) -> None:
    # The emulator advertises a public URL on another host: its metadata's
    # api_endpoint is https://evil.example/<dc>, not below the configured base.
    async with open_world(database_url, emulator={"public_url": "https://evil.example"}) as world:
        await world.mailchimp.account("Bakery", EMAIL)
        browser = world.browser()
        await browser.enter("victim")
        before = await row_counts(world)
        response = await browser.connect(EMAIL)
        assert 400 <= response.status_code < 500
        assert "did not confirm" in response.text
        after = await row_counts(world)
        assert after["installations"] == before["installations"] == 0
        assert after["installation_secrets"] == 0
        hosts = {sent.url.host for sent in world.transport.sent}
        assert "evil.example" not in hosts  # the token never left for the foreign host


OPEN_REDIRECTS = [
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https:evil.example",
    "https://evil.example",
    "http:/evil.example",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%2f%2fevil.example",
    "/%5Cevil.example",
    "/%252F%252Fevil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " /evil",
    "/\tevil",
    "/\nevil",
    "/\r\nLocation: https://evil.example",
    "/\x00evil",
    "/ＥＶＩＬ",
    "/／evil.example",
    "evil.example",
    "./evil",
    "../evil",
    "//user@evil.example",
    "///evil.example",
    "/#//evil.example",
    "data:text/html,hi",
    "/" + "a" * 600,
]


@pytest.mark.parametrize("payload", OPEN_REDIRECTS)
async def test_open_redirect_payloads_are_refused(
    world: World, victim: Browser, payload: str
) -> None:
    before = await row_counts(world)
    response = await victim.get("/connect", params={"return_to": payload})
    assert response.status_code == 400
    assert "location" not in response.headers
    assert (await row_counts(world))["oauth_states"] == before["oauth_states"]


async def test_a_repeated_return_to_is_refused(world: World, victim: Browser) -> None:
    response = await victim.get("/connect?return_to=/&return_to=//evil.example")
    assert response.status_code == 400
