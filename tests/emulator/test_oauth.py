"""OAuth 2 as login.mailchimp.com: consent page, code exchange, metadata (REFERENCE.md §3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from chimplink.emulator import create_app
from tests.conftest import Emulator

REDIRECT = "https://app.example/oauth/callback"
SECRET = "s3cret-value"


# -- helpers -------------------------------------------------------------------


@dataclass
class ConsentForm:
    """The consent page's form, as a browser sees it."""

    action: str = ""
    method: str = ""
    hidden: dict[str, str] = field(default_factory=dict)
    radios: dict[str, bool] = field(default_factory=dict)  # account_id -> checked
    buttons: dict[str, str] = field(default_factory=dict)  # value -> label


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form = ConsentForm()
        self._button: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.form.action, self.form.method = found["action"], found["method"]
        elif tag == "input" and found.get("type") == "hidden":
            assert found["name"] not in self.form.hidden, "a hidden field is repeated"
            self.form.hidden[found["name"]] = found["value"]
        elif tag == "input" and found.get("type") == "radio":
            assert found["name"] == "account_id"
            self.form.radios[found["value"]] = "checked" in found
        elif tag == "button" and found.get("name") == "decision":
            self._button = found["value"]

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self.form.buttons[self._button] = data.strip()
            self._button = None


def consent_form(html: str) -> ConsentForm:
    parser = _FormParser()
    parser.feed(html)
    return parser.form


async def register_client(
    client: httpx.AsyncClient,
    *,
    client_id: str = "app-1",
    redirect_uris: list[str] | None = None,
    name: str = "Acme Sync",
) -> None:
    response = await client.post(
        "/_emulator/oauth-clients",
        json={
            "client_id": client_id,
            "client_secret": SECRET,
            "redirect_uris": redirect_uris or [REDIRECT],
            "name": name,
        },
    )
    assert response.status_code == 200


async def create_account(client: httpx.AsyncClient, name: str = "Bakery", **extra: Any) -> Any:
    response = await client.post("/_emulator/accounts", json={"account_name": name, **extra})
    assert response.status_code == 200
    return response.json()


def authorize_params(**overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": "app-1",
        "redirect_uri": REDIRECT,
        "state": "st-123",
        **overrides,
    }
    return {k: v for k, v in params.items() if v is not None}


async def submit(
    client: httpx.AsyncClient, form: ConsentForm, *, decision: str, account_id: str | None
) -> httpx.Response:
    """Send the consent form as a browser would (hidden fields + the choice + the button)."""
    data = dict(form.hidden)
    if account_id is not None:
        data["account_id"] = account_id
    data["decision"] = decision
    assert form.method == "post"
    return await client.post(form.action, data=data)


async def get_code(
    client: httpx.AsyncClient, account_id: str, **overrides: str | None
) -> tuple[str, dict[str, list[str]]]:
    """Walk the consent page and press Allow; return the code and the redirect's query."""
    page = await client.get("/oauth2/authorize", params=authorize_params(**overrides))
    assert page.status_code == 200, page.text
    response = await submit(
        client, consent_form(page.text), decision="allow", account_id=account_id
    )
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query, keep_blank_values=True)
    return query["code"][0], query


async def exchange(
    client: httpx.AsyncClient, code: str | None, **overrides: str | None
) -> httpx.Response:
    form: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "client_id": "app-1",
        "client_secret": SECRET,
        "redirect_uri": REDIRECT,
        "code": code,
        **overrides,
    }
    return await client.post("/oauth2/token", data={k: v for k, v in form.items() if v is not None})


async def oauth_stats(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/_emulator/oauth-stats")
    assert response.status_code == 200
    clients: dict[str, Any] = response.json()["clients"]
    return clients


def assert_error_page(response: httpx.Response, title: str) -> None:
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers
    assert title in response.text
    assert 'role="alert"' in response.text


def assert_token_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error
    assert set(body) == {"error", "error_description"}
    assert body["error_description"]


# -- the consent page ----------------------------------------------------------


async def test_consent_page_names_the_app_and_lists_accounts_escaped(emulator: Emulator) -> None:
    client = emulator.client
    await register_client(client, name='Acme <script>alert("x")</script> & Co')
    first = await create_account(client, "Bakery <b>bold</b>", email="owner@bakery.example")
    second = await create_account(client, "Florist")
    page = await client.get(
        "/oauth2/authorize",
        params=authorize_params(
            state='"><script>x</script>', code_challenge="abc", code_challenge_method="S256"
        ),
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    html = page.text
    assert "<script>" not in html
    assert "Acme &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in html
    assert "Bakery &lt;b&gt;bold&lt;/b&gt;" in html and "Florist" in html
    assert "owner@bakery.example" in html
    assert '<html lang="en">' in html and "<legend>" in html
    form = consent_form(html)
    assert form.action == f"{emulator.base_url}/oauth2/authorize"
    assert form.hidden == {
        "response_type": "code",
        "client_id": "app-1",
        "redirect_uri": REDIRECT,
        "state": '"><script>x</script>',
        "code_challenge": "abc",
        "code_challenge_method": "S256",
    }
    # Two accounts and no hint: the user must choose; nothing is preselected.
    assert form.radios == {first["account_id"]: False, second["account_id"]: False}
    assert form.buttons == {"allow": "Allow", "deny": "Deny"}


async def test_account_is_preselected_by_account_id_or_login_hint(emulator: Emulator) -> None:
    client = emulator.client
    await register_client(client)
    await create_account(client, "Bakery")
    florist = await create_account(client, "Florist", email="Owner@Florist.example")
    by_id = await client.get(
        "/oauth2/authorize", params=authorize_params(account_id=florist["account_id"])
    )
    assert consent_form(by_id.text).radios[florist["account_id"]] is True
    by_email = await client.get(
        "/oauth2/authorize", params=authorize_params(login_hint="owner@florist.example")
    )
    radios = consent_form(by_email.text).radios
    assert [account for account, checked in radios.items() if checked] == [florist["account_id"]]
    unknown = await client.get("/oauth2/authorize", params=authorize_params(login_hint="x@y.z"))
    assert unknown.status_code == 200
    assert "No emulator account matches" in unknown.text
    assert not any(consent_form(unknown.text).radios.values())


async def test_consent_page_without_accounts_explains_how_to_create_one(emulator: Emulator) -> None:
    await register_client(emulator.client)
    page = await emulator.client.get("/oauth2/authorize", params=authorize_params())
    assert page.status_code == 200
    assert "There are no emulator accounts yet" in page.text
    assert f"curl -X POST {emulator.base_url}/_emulator/accounts" in page.text
    assert f'href="{emulator.base_url}/oauth2/authorize?' in page.text
    form = consent_form(page.text)
    assert form.radios == {} and form.buttons == {"deny": "Deny"}


@pytest.mark.parametrize(
    ("overrides", "title"),
    [
        ({"client_id": "nobody"}, "Unknown application"),
        ({"client_id": None}, "Unknown application"),
        ({"redirect_uri": None}, "Invalid redirect URI"),
        ({"redirect_uri": REDIRECT + "/extra"}, "Invalid redirect URI"),
        ({"redirect_uri": REDIRECT + "?next=https://evil.example"}, "Invalid redirect URI"),
        ({"redirect_uri": "https://evil.example/oauth/callback"}, "Invalid redirect URI"),
        ({"redirect_uri": REDIRECT + "/"}, "Invalid redirect URI"),
        ({"redirect_uri": "http://app.example/oauth/callback"}, "Invalid redirect URI"),
        ({"redirect_uri": "https://APP.example/oauth/callback"}, "Invalid redirect URI"),
        (
            {"redirect_uri": "https://app.example.evil.example/oauth/callback"},
            "Invalid redirect URI",
        ),
        ({"redirect_uri": REDIRECT + "#frag"}, "Invalid redirect URI"),
        ({"response_type": "token"}, "Unsupported response type"),
        ({"response_type": None}, "Unsupported response type"),
    ],
)
async def test_bad_authorization_requests_get_an_error_page_never_a_redirect(
    emulator: Emulator, overrides: dict[str, str | None], title: str
) -> None:
    client = emulator.client
    await register_client(client)
    account = await create_account(client)
    params = authorize_params(**overrides)
    page = await client.get("/oauth2/authorize", params=params)
    assert_error_page(page, title)
    assert "evil.example" not in page.text
    # The form post is checked again: a tampered form cannot redirect either.
    posted = await client.post(
        "/oauth2/authorize",
        data={**params, "decision": "allow", "account_id": account["account_id"]},
    )
    assert_error_page(posted, title)
    denied = await client.post("/oauth2/authorize", data={**params, "decision": "deny"})
    assert_error_page(denied, title)
    assert (await oauth_stats(client))["app-1"]["codes_issued"] == 0


async def test_repeated_redirect_uri_is_refused(emulator: Emulator) -> None:
    client = emulator.client
    await register_client(client)
    query = (
        f"response_type=code&client_id=app-1&redirect_uri={REDIRECT}"
        "&redirect_uri=https://evil.example/cb&state=s"
    )
    page = await client.get(f"/oauth2/authorize?{query}")
    assert_error_page(page, "given more than once")


async def test_registered_query_is_kept_and_any_registered_uri_works(emulator: Emulator) -> None:
    client = emulator.client
    with_query = "https://app.example/cb?tenant=a%20b&x=1"
    await register_client(client, redirect_uris=[REDIRECT, with_query])
    account = await create_account(client)
    page = await client.get("/oauth2/authorize", params=authorize_params(redirect_uri=with_query))
    response = await submit(
        client, consent_form(page.text), decision="allow", account_id=account["account_id"]
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(with_query + "&code=")
    query = parse_qs(urlsplit(location).query)
    assert query["tenant"] == ["a b"] and query["x"] == ["1"] and query["state"] == ["st-123"]


# -- the user's decision -------------------------------------------------------


async def test_allow_redirects_with_a_code_and_the_same_state(emulator: Emulator) -> None:
    client = emulator.client
    await register_client(client)
    account = await create_account(client)
    state = "a b&c=d/é+%"
    page = await client.get("/oauth2/authorize", params=authorize_params(state=state))
    response = await submit(
        client, consent_form(page.text), decision="allow", account_id=account["account_id"]
    )
    assert response.status_code == 302
    assert response.headers["cache-control"] == "no-store"
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = parse_qs(urlsplit(location).query, keep_blank_values=True)
    assert set(query) == {"code", "state"}
    assert query["state"] == [state]
    code = query["code"][0]
    assert len(code) >= 32
    assert code.replace("-", "").replace("_", "").isalnum()  # URL-safe
    assert (await oauth_stats(client))["app-1"] == {
        "token_requests": 0,
        "codes_issued": 1,
        "tokens_issued": 0,
    }


async def test_allow_without_state_sends_no_state(emulator: Emulator) -> None:
    client = emulator.client
    await register_client(client)
    account = await create_account(client)
    _, query = await get_code(client, account["account_id"], state=None)
    assert set(query) == {"code"}


async def test_deny_redirects_with_access_denied(emulator: Emulator) -> None:
    client = emulator.client
    await register_client(client)
    await create_account(client)
    page = await client.get("/oauth2/authorize", params=authorize_params())
    response = await submit(client, consent_form(page.text), decision="deny", account_id=None)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    assert parse_qs(urlsplit(location).query) == {"error": ["access_denied"], "state": ["st-123"]}
    assert (await oauth_stats(client))["app-1"]["codes_issued"] == 0


async def test_allow_needs_a_known_account_and_a_decision(emulator: Emulator) -> None:
    client = emulator.client
    await register_client(client)
    account = await create_account(client)
    form = consent_form((await client.get("/oauth2/authorize", params=authorize_params())).text)
    assert_error_page(
        await submit(client, form, decision="allow", account_id="nope"), "Unknown account"
    )
    assert_error_page(await submit(client, form, decision="allow", account_id=None), "Unknown")
    assert_error_page(
        await submit(client, form, decision="maybe", account_id=account["account_id"]),
        "Choose Allow or Deny",
    )
    not_a_form = await client.post("/oauth2/authorize", json=form.hidden)
    assert_error_page(not_a_form, "x-www-form-urlencoded")


async def test_scripted_flow_posts_the_form_with_login_hint(emulator: Emulator) -> None:
    client = emulator.client
    await register_client(client)
    await create_account(client, email="script@example.org")
    response = await client.post(
        "/oauth2/authorize",
        data={**authorize_params(), "decision": "allow", "login_hint": "script@example.org"},
    )
    assert response.status_code == 302
    code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
    assert (await exchange(client, code)).status_code == 200


# -- the token endpoint --------------------------------------------------------


async def test_code_exchange_returns_mailchimps_token_shape(emulator: Emulator) -> None:
    client = emulator.client
    await register_client(client)
    account = await create_account(client)
    code, _ = await get_code(client, account["account_id"])
    response = await exchange(client, code)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "scope"}
    assert body["expires_in"] == 0 and body["scope"] is None
    assert isinstance(body["access_token"], str) and body["access_token"]
    assert body["access_token"] != account["access_token"]
    ping = await client.get("/3.0/", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert ping.status_code == 200
    assert ping.json()["account_id"] == account["account_id"]
    assert (await oauth_stats(client))["app-1"] == {
        "token_requests": 1,
        "codes_issued": 1,
        "tokens_issued": 1,
    }


async def test_code_is_single_use_and_a_replay_revokes_its_token(emulator: Emulator) -> None:
    client = emulator.client
    await register_client(client)
    account = await create_account(client)
    code, _ = await get_code(client, account["account_id"])
    token = (await exchange(client, code)).json()["access_token"]
    assert_token_error(await exchange(client, code), 400, "invalid_grant")
    # RFC 6749 §4.1.2: the token issued from a replayed code is revoked.
    ping = await client.get("/3.0/ping", headers={"Authorization": f"Bearer {token}"})
    assert ping.status_code == 401
    # The account's other credentials are untouched.
    own = await client.get(
        "/3.0/ping", headers={"Authorization": f"Bearer {account['access_token']}"}
    )
    assert own.status_code == 200
    assert (await oauth_stats(client))["app-1"]["token_requests"] == 2


async def test_token_request_client_errors(emulator: Emulator) -> None:
    client = emulator.client
    await register_client(client)
    account = await create_account(client)
    code, _ = await get_code(client, account["account_id"])
    assert_token_error(await exchange(client, code, client_secret="wrong"), 401, "invalid_client")
    assert_token_error(await exchange(client, code, client_secret=None), 401, "invalid_client")
    assert_token_error(await exchange(client, code, client_id="nobody"), 401, "invalid_client")
    assert_token_error(await exchange(client, code, client_id=None), 401, "invalid_client")
    assert_token_error(
        await exchange(client, code, grant_type="client_credentials"), 400, "unsupported_grant_type"
    )
    assert_token_error(await exchange(client, code, grant_type=None), 400, "invalid_request")
    # None of these consumed the code.
    assert (await exchange(client, code)).status_code == 200


async def test_token_request_grant_errors(emulator: Emulator) -> None:
    client = emulator.client
    other_uri = "https://app.example/other"
    await register_client(client, redirect_uris=[REDIRECT, other_uri])
    await register_client(client, client_id="app-2")
    account = await create_account(client)
    code, _ = await get_code(client, account["account_id"])
    for bad_uri in (other_uri, REDIRECT + "/", None):
        assert_token_error(await exchange(client, code, redirect_uri=bad_uri), 400, "invalid_grant")
    # A code belongs to the client it was issued to.
    assert_token_error(await exchange(client, code, client_id="app-2"), 400, "invalid_grant")
    assert_token_error(await exchange(client, "not-a-code"), 400, "invalid_grant")
    assert_token_error(await exchange(client, None), 400, "invalid_grant")
    assert (await exchange(client, code)).status_code == 200
    stats = await oauth_stats(client)
    assert stats["app-1"]["token_requests"] == 6
    assert stats["app-2"] == {"token_requests": 1, "codes_issued": 0, "tokens_issued": 0}


async def test_token_request_must_be_a_form(emulator: Emulator) -> None:
    client = emulator.client
    await register_client(client)
    account = await create_account(client)
    code, _ = await get_code(client, account["account_id"])
    fields = {
        "grant_type": "authorization_code",
        "client_id": "app-1",
        "client_secret": SECRET,
        "redirect_uri": REDIRECT,
        "code": code,
    }
    assert_token_error(await client.post("/oauth2/token", json=fields), 400, "invalid_request")
    assert_token_error(
        await client.post(
            "/oauth2/token",
            content=b"code=%FF%FE",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        400,
        "invalid_request",
    )
    repeated = await client.post(
        "/oauth2/token",
        content=f"code={code}&code=other&grant_type=authorization_code".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_token_error(repeated, 400, "invalid_request")
    wrong_method = await client.get("/oauth2/token")
    assert wrong_method.status_code == 405


# -- metadata ------------------------------------------------------------------


async def test_metadata_describes_the_account_and_its_api_endpoint(emulator: Emulator) -> None:
    client = emulator.client
    await register_client(client)
    account = await create_account(client, "Bakery Co", dc="us7", email="ann@bakery.example")
    code, _ = await get_code(client, account["account_id"])
    token = (await exchange(client, code)).json()["access_token"]
    response = await client.get("/oauth2/metadata", headers={"Authorization": f"OAuth {token}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body == {
        "dc": "us7",
        "role": "owner",
        "accountname": "Bakery Co",
        "user_id": account["account_id"],
        "login": {
            "email": "ann@bakery.example",
            "avatar": None,
            "login_id": account["login_id"],
            "login_name": "ann@bakery.example",
            "login_email": "ann@bakery.example",
        },
        "login_url": f"{emulator.base_url}/",
        "api_endpoint": f"{emulator.base_url}/us7",
    }
    # The endpoint works as clients use it: api_endpoint + "/3.0/".
    ping = await client.get(
        f"{body['api_endpoint']}/3.0/ping", headers={"Authorization": f"Bearer {token}"}
    )
    assert ping.status_code == 200
    assert ping.json() == {"health_status": "Everything's Chimpy!"}
    bearer = await client.get("/oauth2/metadata", headers={"Authorization": f"Bearer {token}"})
    assert bearer.json() == body


async def test_metadata_with_a_bad_token_is_200_invalid_token(emulator: Emulator) -> None:
    client = emulator.client
    account = await create_account(client)
    cases: list[dict[str, str]] = [
        {},
        {"Authorization": "OAuth nope"},
        {"Authorization": "OAuth"},
        {"Authorization": f"Basic {account['access_token']}"},
        # An API key is not an OAuth token.
        {"Authorization": f"OAuth {account['api_key']}"},
    ]
    for headers in cases:
        response = await client.get("/oauth2/metadata", headers=headers)
        assert response.status_code == 200, headers
        assert response.json() == {"error": "invalid_token"}, headers
    good = {"Authorization": f"OAuth {account['access_token']}"}
    assert "dc" in (await client.get("/oauth2/metadata", headers=good)).json()
    revoked = await client.post(
        "/_emulator/tokens/revoke", json={"access_token": account["access_token"]}
    )
    assert revoked.status_code == 200
    response = await client.get("/oauth2/metadata", headers=good)
    assert response.status_code == 200
    assert response.json() == {"error": "invalid_token"}


# -- stats -----------------------------------------------------------------------


async def test_oauth_stats_list_registered_clients_and_reset(emulator: Emulator) -> None:
    client = emulator.client
    await register_client(client)
    await register_client(client, client_id="app-2")
    assert await oauth_stats(client) == {
        "app-1": {"token_requests": 0, "codes_issued": 0, "tokens_issued": 0},
        "app-2": {"token_requests": 0, "codes_issued": 0, "tokens_issued": 0},
    }
    # A request naming an unregistered client is answered but counted nowhere.
    assert_token_error(await exchange(client, "x", client_id="ghost"), 401, "invalid_client")
    assert set(await oauth_stats(client)) == {"app-1", "app-2"}
    assert (await client.post("/_emulator/reset", json={})).status_code == 204
    assert await oauth_stats(client) == {}


# -- code expiry (in-process: the backend's clock is driven, nothing sleeps) -----


@dataclass
class Clocked:
    client: httpx.AsyncClient
    now: list[float]


@pytest.fixture
async def clocked() -> AsyncIterator[Clocked]:
    app = create_app(code_ttl_s=5)
    now = [1_000.0]
    app.backend.clock = lambda: now[0]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mailchimp.test"
    ) as client:
        yield Clocked(client, now)
    await app.aclose()


async def test_codes_expire_after_code_ttl_s(clocked: Clocked) -> None:
    client = clocked.client
    await register_client(client)
    account = await create_account(client)
    fresh, _ = await get_code(client, account["account_id"])
    stale, _ = await get_code(client, account["account_id"])
    clocked.now[0] += 4.9
    assert (await exchange(client, fresh)).status_code == 200
    clocked.now[0] += 0.1
    assert_token_error(await exchange(client, stale), 400, "invalid_grant")
    assert "expired" in (await exchange(client, stale)).json()["error_description"]


async def test_default_code_lifetime_is_30_seconds() -> None:
    app = create_app()
    now = [0.0]
    app.backend.clock = lambda: now[0]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mailchimp.test"
    ) as client:
        await register_client(client)
        account = await create_account(client)
        code, _ = await get_code(client, account["account_id"])
        now[0] = 30.0
        assert_token_error(await exchange(client, code), 400, "invalid_grant")
    await app.aclose()
