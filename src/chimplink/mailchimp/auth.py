"""Credentials as `httpx.Auth`: an OAuth access token or an API key (REFERENCE.md §2).

Mailchimp accepts both the same way; we send OAuth tokens as `Bearer` (what
the current docs and both official SDKs send) and API keys as HTTP Basic
with any user name (the classic form, `anystring:KEY`). The secret lives in a
private attribute and never appears in `repr()`/`str()`, so logging a client
or an auth object cannot leak it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Generator

import httpx
from pydantic import SecretStr

__all__ = ["ApiKeyAuth", "OAuthTokenAuth", "api_key_datacenter", "credential_fingerprint"]

# An API key is `<32 hex>-<dc>`; the suffix names the data center (§2).
_API_KEY = re.compile(r"^[0-9a-f]{32}-(?P<dc>[a-z]+[0-9]+)$")


def credential_fingerprint(secret: str) -> str:
    """A short, stable, non-reversible name for a credential (logs, limiter keys).

    The Partner Program counts *unique OAuth tokens* making calls (§1); this
    lets call accounting count them without ever storing a token.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def api_key_datacenter(api_key: str) -> str:
    """The data center of an API key (`…-us6` → `us6`); ValueError if it is not a key."""
    match = _API_KEY.match(api_key.strip())
    if match is None:
        raise ValueError("not a Mailchimp API key (expected '<32 hex digits>-<dc>')")
    return match.group("dc")


class _SecretAuth(httpx.Auth, ABC):
    def __init__(self, secret: str) -> None:
        if not secret or not secret.strip():
            raise ValueError("an empty credential cannot authenticate")
        # SecretStr, so that even `vars(auth)` or a traceback showing locals
        # prints '**********' (reliability.md §1.4: no secrets in logs).
        self._secret = SecretStr(secret.strip())
        self.fingerprint = credential_fingerprint(self._secret.get_secret_value())

    @abstractmethod
    def _header(self) -> str: ...

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header()
        yield request

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fingerprint={self.fingerprint!r})"

    __str__ = __repr__


class OAuthTokenAuth(_SecretAuth):
    """`Authorization: Bearer <token>`: an OAuth 2 access token (never expires, §3)."""

    def _header(self) -> str:
        return f"Bearer {self._secret.get_secret_value()}"


class ApiKeyAuth(_SecretAuth):
    """HTTP Basic `anystring:<api key>` (§2). `datacenter` comes from the key's suffix."""

    def __init__(self, api_key: str) -> None:
        self.datacenter = api_key_datacenter(api_key)
        super().__init__(api_key)

    def _header(self) -> str:
        pair = f"chimplink:{self._secret.get_secret_value()}".encode()
        return f"Basic {base64.b64encode(pair).decode('ascii')}"
