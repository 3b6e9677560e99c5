"""Credentials as httpx.Auth: the right header, and never the secret in a repr."""

from __future__ import annotations

import base64

import httpx
import pytest

from chimplink.mailchimp import ApiKeyAuth, OAuthTokenAuth, credential_fingerprint
from chimplink.mailchimp.auth import api_key_datacenter
from tests.mailchimp.conftest import API_KEY, TOKEN


def _authorize(auth: httpx.Auth) -> str:
    request = httpx.Request("GET", "https://api.mailchimp.com/3.0/ping")
    flow = auth.sync_auth_flow(request)
    sent = next(flow)
    return sent.headers["Authorization"]


def test_oauth_token_is_sent_as_bearer() -> None:
    assert _authorize(OAuthTokenAuth(TOKEN)) == f"Bearer {TOKEN}"


def test_api_key_is_sent_as_basic_with_any_user_name() -> None:
    header = _authorize(ApiKeyAuth(API_KEY))
    scheme, _, value = header.partition(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(value).decode().partition(":")
    assert user and password == API_KEY


def test_api_key_names_its_datacenter() -> None:
    assert ApiKeyAuth(API_KEY).datacenter == "us6"
    assert api_key_datacenter(" 0123456789abcdef0123456789abcdef-eu12 ") == "eu12"


@pytest.mark.parametrize("bad", ["", "nothex-us6", "0123456789abcdef0123456789abcdef", "x-1"])
def test_malformed_api_keys_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(ValueError, match="not a Mailchimp API key") as caught:
        ApiKeyAuth(bad)
    assert not bad or bad not in str(caught.value)


def test_empty_token_is_refused() -> None:
    with pytest.raises(ValueError, match="empty credential"):
        OAuthTokenAuth("  ")


def test_reprs_show_a_fingerprint_not_the_secret() -> None:
    for auth, secret in ((OAuthTokenAuth(TOKEN), TOKEN), (ApiKeyAuth(API_KEY), API_KEY)):
        assert secret not in repr(auth)
        assert secret not in str(auth)
        assert credential_fingerprint(secret) in repr(auth)
        assert secret not in repr(vars(auth))  # not even in the instance dict's repr


def test_fingerprint_is_stable_and_short() -> None:
    assert credential_fingerprint(TOKEN) == credential_fingerprint(TOKEN)
    assert credential_fingerprint(TOKEN) != credential_fingerprint(TOKEN + "x")
    assert len(credential_fingerprint(TOKEN)) == 16
