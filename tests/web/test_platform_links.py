"""Platform links: signed, expiring, tamper-evident; they open a fresh session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest

from chimplink.web.platform_links import (
    ENTER_PATH,
    InvalidLink,
    mint_link,
    sign,
    verify_link,
)
from tests.web.harness import PUBLIC_URL, World, open_world

SECRET = "s" * 40
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _params(link: str) -> dict[str, str]:
    return dict(httpx.URL(link).params)


def test_a_minted_link_verifies() -> None:
    link = mint_link(
        public_url=PUBLIC_URL, platform_secret=SECRET, tenant="u-42", name="Ann", now=NOW
    )
    assert link.startswith(f"{PUBLIC_URL}{ENTER_PATH}?")
    params = _params(link)
    identity = verify_link(platform_secret=SECRET, now=NOW, **params)
    assert (identity.tenant, identity.name) == ("u-42", "Ann")
    assert identity.expires_at == NOW + timedelta(minutes=5)


def test_the_signature_is_the_documented_hmac() -> None:
    import hashlib
    import hmac

    expected = hmac.new(
        SECRET.encode(), b"chimplink-link-v1\nu-42\nAnn\n1767272400", hashlib.sha256
    ).hexdigest()
    assert sign(platform_secret=SECRET, tenant="u-42", name="Ann", expires=1767272400) == expected


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"tenant": "u-43"}, "bad_signature"),
        ({"name": "Mallory"}, "bad_signature"),
        ({"expires": "1999999999"}, "bad_signature"),
        ({"sig": "0" * 64}, "bad_signature"),
        ({"sig": "zz"}, "malformed"),
        ({"expires": "soon"}, "malformed"),
        ({"tenant": "a\nb"}, "malformed"),
        ({"tenant": ""}, "malformed"),
        ({"tenant": None}, "malformed"),
        ({"sig": None}, "malformed"),
    ],
)
def test_tampered_links_are_rejected(change: dict[str, str | None], reason: str) -> None:
    params: dict[str, str | None] = {
        **_params(mint_link(public_url=PUBLIC_URL, platform_secret=SECRET, tenant="u-42", now=NOW))
    }
    params.update(change)
    with pytest.raises(InvalidLink) as caught:
        verify_link(platform_secret=SECRET, now=NOW, **params)  # type: ignore[arg-type]
    assert caught.value.reason == reason


def test_expired_and_too_long_lived_links_are_rejected() -> None:
    params = _params(mint_link(public_url=PUBLIC_URL, platform_secret=SECRET, tenant="u", now=NOW))
    with pytest.raises(InvalidLink) as caught:
        verify_link(platform_secret=SECRET, now=NOW + timedelta(minutes=6), **params)
    assert caught.value.reason == "expired"
    far = int((NOW + timedelta(days=30)).timestamp())
    forged_long = {
        "tenant": "u",
        "name": "",
        "expires": str(far),
        "sig": sign(platform_secret=SECRET, tenant="u", name="", expires=far),
    }
    with pytest.raises(InvalidLink) as caught:
        verify_link(platform_secret=SECRET, now=NOW, **forged_long)
    assert caught.value.reason == "too_far_ahead"
    with pytest.raises(InvalidLink):
        verify_link(platform_secret="another-secret-" * 3, now=NOW, **params)


def test_mint_refuses_bad_values() -> None:
    for tenant, name in (("", "x"), ("a\nb", "x"), ("t", "line\nbreak"), ("x" * 256, "")):
        with pytest.raises(ValueError, match=r"tenant|name"):
            mint_link(public_url=PUBLIC_URL, platform_secret=SECRET, tenant=tenant, name=name)
    with pytest.raises(ValueError, match="ttl"):
        mint_link(public_url=PUBLIC_URL, platform_secret=SECRET, tenant="t", ttl=timedelta(days=2))


async def test_a_good_link_opens_a_session(world: World) -> None:
    browser = world.browser()
    response = await browser.enter("u-42", "Ann Example")
    assert response.headers["location"] == "/"
    assert response.headers["referrer-policy"] == "no-referrer"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("chimplink_session=")
    lowered = cookie.lower()
    assert "httponly" in lowered
    assert "samesite=lax" in lowered
    assert "path=/" in lowered
    assert "secure" not in lowered  # http public URL (tests)
    home = await browser.get("/")
    assert home.status_code == 200
    assert "Signed in as Ann Example" in home.text


@pytest.mark.parametrize("problem", ["tampered", "expired", "missing", "repeated"])
async def test_a_bad_link_is_a_clear_403(world: World, problem: str) -> None:
    link = mint_link(public_url=PUBLIC_URL, platform_secret=world.platform_secret, tenant="u-42")
    params = _params(link)
    if problem == "tampered":
        params["tenant"] = "u-43"
    elif problem == "expired":
        past = int((datetime.now(UTC) - timedelta(minutes=1)).timestamp())
        params["expires"] = str(past)
        params["sig"] = sign(
            platform_secret=world.platform_secret, tenant="u-42", name="", expires=past
        )
    elif problem == "missing":
        del params["sig"]
    query = urlencode(params)
    if problem == "repeated":
        query += "&tenant=u-43"
    browser = world.browser()
    response = await browser.get(f"{ENTER_PATH}?{query}")
    assert response.status_code == 403
    assert "This link does not work" in response.text
    assert "set-cookie" not in response.headers or "chimplink_session=null" in response.headers.get(
        "set-cookie", ""
    )
    assert (await browser.get("/")).status_code == 401


async def test_a_new_link_replaces_the_previous_session(world: World) -> None:
    browser = world.browser()
    await browser.enter("u-1", "First")
    await browser.enter("u-2", "Second")
    home = await browser.get("/")
    assert "Signed in as Second" in home.text


async def test_https_deployments_get_secure_host_only_cookies(database_url: str) -> None:
    async with open_world(database_url, public_url="https://chimplink.test") as world:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=world.app), base_url="https://chimplink.test"
        )
        async with client:
            link = mint_link(
                public_url="https://chimplink.test",
                platform_secret=world.platform_secret,
                tenant="u-42",
            )
            response = await client.get(link)
            cookie = response.headers["set-cookie"]
            assert cookie.startswith("__Host-chimplink_session=")
            assert "; secure" in cookie.lower()
            assert "domain=" not in cookie.lower()
            assert response.headers["strict-transport-security"].startswith("max-age=")
            assert (await client.get("/")).status_code == 200
