"""OAuth protocol functions: URLs, code exchange, metadata, and api_endpoint pinning."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from chimplink.mailchimp import (
    APIConnectionError,
    AuthenticationError,
    OAuthError,
    ServerError,
    authorize_url,
    check_api_endpoint,
    exchange_code,
    fetch_metadata,
)
from tests.mailchimp.conftest import TOKEN, json_response

LOGIN = "https://login.mailchimp.com"
METADATA = {
    "dc": "us6",
    "role": "owner",
    "accountname": "Bakery",
    "user_id": "99999999",
    "login": {"email": "o@bakery.example", "login_id": "888", "login_name": "o"},
    "login_url": LOGIN,
    "api_endpoint": "https://us6.api.mailchimp.com",
}


def http_for(handler):  # type: ignore[no-untyped-def]
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def test_authorize_url_carries_the_documented_parameters() -> None:
    url = authorize_url(client_id="cid", redirect_uri="https://app.example/cb", state="s1")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{LOGIN}/oauth2/authorize"
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": ["cid"],
        "redirect_uri": ["https://app.example/cb"],
        "state": ["s1"],
    }


def test_authorize_url_with_pkce_and_another_login_host() -> None:
    url = authorize_url(
        client_id="cid",
        redirect_uri="http://localhost/cb",
        state="s",
        login_url="http://127.0.0.1:8900/",
        code_challenge="abc",
    )
    assert url.startswith("http://127.0.0.1:8900/oauth2/authorize?")
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge"] == ["abc"]
    assert query["code_challenge_method"] == ["S256"]


def test_authorize_url_requires_state() -> None:
    with pytest.raises(ValueError, match="state"):
        authorize_url(client_id="cid", redirect_uri="https://x/cb", state="")


async def test_exchange_code_posts_the_form_and_accepts_mailchimps_odd_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response({"access_token": TOKEN, "expires_in": 0, "scope": None})

    async with http_for(handler) as http:
        token = await exchange_code(
            http=http,
            client_id="cid",
            client_secret="csecret",
            redirect_uri="https://app.example/cb",
            code="c0de",
            code_verifier="v",
        )
    assert token.access_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(token)
    assert token.expires_in == 0 and token.scope is None
    request = seen[0]
    assert str(request.url) == f"{LOGIN}/oauth2/token"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in request.headers
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["authorization_code"],
        "client_id": ["cid"],
        "client_secret": ["csecret"],
        "redirect_uri": ["https://app.example/cb"],
        "code": ["c0de"],
        "code_verifier": ["v"],
    }


@pytest.mark.parametrize(
    ("response", "error", "match"),
    [
        (json_response({"error": "invalid_grant", "error_description": "bad code"}, 400),
         OAuthError, "bad code"),
        (json_response({"error": "invalid_client"}, 401), OAuthError, "invalid_client"),
        (json_response({"expires_in": 0}), OAuthError, "no access_token"),
        (httpx.Response(200, content=b"<html>"), OAuthError, "no access_token"),
        (json_response({"access_token": "x", "expires_in": "soon"}), OAuthError, "unexpected"),
        (httpx.Response(502, content=b"<html>"), ServerError, "502"),
    ],
)  # fmt: skip
async def test_exchange_code_failures(
    response: httpx.Response, error: type[Exception], match: str
) -> None:
    async with http_for(lambda request: response) as http:
        with pytest.raises(error, match=match) as caught:
            await exchange_code(
                http=http, client_id="c", client_secret="s", redirect_uri="r", code="x"
            )
    if isinstance(caught.value, OAuthError):
        assert isinstance(caught.value, AuthenticationError)  # → reconnect flow


async def test_exchange_code_transport_failure_is_translated() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down")

    async with http_for(handler) as http:
        with pytest.raises(APIConnectionError):
            await exchange_code(
                http=http, client_id="c", client_secret="s", redirect_uri="r", code="x"
            )


async def test_fetch_metadata_uses_the_oauth_scheme() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response(METADATA)

    async with http_for(handler) as http:
        metadata = await fetch_metadata(http=http, access_token=TOKEN)
    assert seen[0].headers["Authorization"] == f"OAuth {TOKEN}"
    assert str(seen[0].url) == f"{LOGIN}/oauth2/metadata"
    assert metadata.dc == "us6"
    assert metadata.api_endpoint == "https://us6.api.mailchimp.com"
    assert metadata.login is not None and metadata.login.email == "o@bakery.example"


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (json_response({"error": "invalid_token"}), "invalid_token"),
        (json_response({"dc": "us6", "login_url": LOGIN}), "no api_endpoint"),
        (json_response({"api_endpoint": "https://us6.api.mailchimp.com"}), "no api_endpoint"),
        (json_response(["not", "an", "object"]), "not a JSON object"),
        (httpx.Response(200, content=b"<html>"), "not a JSON object"),
        (json_response({"error": "invalid_token"}, 401), "invalid_token"),
        (json_response({**METADATA, "login": "nope"}), "unexpected metadata"),
    ],
)
async def test_fetch_metadata_failures_are_authentication_errors(
    response: httpx.Response, match: str
) -> None:
    async with http_for(lambda request: response) as http:
        with pytest.raises(AuthenticationError, match=match):
            await fetch_metadata(http=http, access_token=TOKEN)


async def test_fetch_metadata_plain_401_is_an_authentication_error() -> None:
    async with http_for(lambda request: httpx.Response(401)) as http:
        with pytest.raises(AuthenticationError):
            await fetch_metadata(http=http, access_token=TOKEN)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://evil.example.com",
        "http://us6.api.mailchimp.com",
        "https://us6.api.mailchimp.com.evil.com",
        "https://api.mailchimp.com",
        "https://us6.api.mailchimp.com:8443",
        "https://user@us6.api.mailchimp.com",
        "https://US6.api.mailchimp.com/../x",
        "https://127.0.0.1:8900/us6",
        "not a url at all",
        "http://127.0.0.1:abc/us6",
    ],
)
async def test_untrusted_api_endpoints_are_refused(endpoint: str) -> None:
    body = {**METADATA, "api_endpoint": endpoint}
    async with http_for(lambda request: json_response(body)) as http:
        with pytest.raises(OAuthError, match="not a Mailchimp API host") as caught:
            await fetch_metadata(
                http=http, access_token=TOKEN, allowed_api_bases=["http://127.0.0.1:8900"]
            )
    assert caught.value.error == "untrusted_api_endpoint"


@pytest.mark.parametrize(
    ("endpoint", "allowed", "ok"),
    [
        ("https://us19.api.mailchimp.com/", [], True),
        ("http://127.0.0.1:8900/us6", ["http://127.0.0.1:8900"], True),
        ("http://127.0.0.1:8900/us6", ["http://127.0.0.1:8900/"], True),
        ("http://127.0.0.1:8900", ["http://127.0.0.1:8900"], True),
        ("http://127.0.0.1:8901/us6", ["http://127.0.0.1:8900"], False),
        ("https://127.0.0.1:8900/us6", ["http://127.0.0.1:8900"], False),
        ("http://127.0.0.1:8900/other/us6", ["http://127.0.0.1:8900/emu"], False),
        ("http://127.0.0.1:8900/emulator/us6", ["http://127.0.0.1:8900/emu"], False),
        ("http://127.0.0.1:8900/emu/us6", ["http://127.0.0.1:8900/emu"], True),
        ("http://127.0.0.1:8900/us6?x=1", ["http://127.0.0.1:8900"], False),
    ],
)
def test_allowed_bases_pin_scheme_host_port_and_path(
    endpoint: str, allowed: list[str], ok: bool
) -> None:
    if ok:
        assert check_api_endpoint(endpoint, allowed_api_bases=allowed) == endpoint.rstrip("/")
    else:
        with pytest.raises(OAuthError):
            check_api_endpoint(endpoint, allowed_api_bases=allowed)
