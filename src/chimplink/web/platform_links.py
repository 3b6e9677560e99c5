"""Signed, expiring links from the platform that open a chimplink session for one tenant.

The platform (the product chimplink runs beside) already knows who its user
is. To send that user to chimplink it builds a link, signed with the secret
it shares with chimplink (`CHIMPLINK_PLATFORM_SECRET`, ≥32 random characters):

    {PUBLIC_URL}/platform/enter?tenant=<id>&name=<display name>&expires=<unix time>&sig=<hex>

    message = "chimplink-link-v1" "\\n" tenant "\\n" name "\\n" expires
    sig     = lowercase hex of HMAC-SHA256(key = UTF-8 bytes of the secret,
                                           msg = UTF-8 bytes of message)

- `tenant`: the platform's own, stable id of the user (1-255 characters);
  chimplink keys everything it stores for that user on it.
- `name`: what chimplink shows as "signed in as" (0-255 characters).
- `expires`: seconds since the Unix epoch, in the future and at most 24 hours
  ahead; a few minutes is plenty, since the link is followed at once.
- Neither `tenant` nor `name` may contain control characters (newlines
  included), so the message is unambiguous. Query values are URL-encoded as
  usual; the signature is over the decoded values.

In Python: `mint_link(public_url=..., platform_secret=..., tenant="u-42", name="Ann")`,
or `chimplink platform-link --tenant u-42 --name Ann` from a shell. In any
other language, the two lines above are all there is. A link is a bearer
credential until it expires: send it only to the user it names, over HTTPS.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlencode

from pydantic import SecretStr

__all__ = [
    "DEFAULT_LINK_TTL",
    "ENTER_PATH",
    "MAX_LINK_TTL",
    "InvalidLink",
    "PlatformIdentity",
    "mint_link",
    "sign",
    "verify_link",
]

ENTER_PATH = "/platform/enter"
DEFAULT_LINK_TTL = timedelta(minutes=5)
MAX_LINK_TTL = timedelta(hours=24)
_VERSION = "chimplink-link-v1"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HEX_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")

Reason = Literal["malformed", "bad_signature", "expired", "too_far_ahead"]


class InvalidLink(Exception):
    """The link cannot open a session. `reason` is for logs; users see one plain page."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(f"platform link rejected: {reason}")
        self.reason: Reason = reason


@dataclass(frozen=True)
class PlatformIdentity:
    tenant: str  # the platform's user id
    name: str
    expires_at: datetime


def _secret_bytes(secret: str | SecretStr) -> bytes:
    text = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return text.encode("utf-8")


def _check_values(tenant: str, name: str) -> None:
    if not 1 <= len(tenant) <= 255 or len(name) > 255:
        raise ValueError("tenant must be 1-255 characters and name at most 255")
    if _CONTROL.search(tenant) or _CONTROL.search(name):
        raise ValueError("tenant and name must not contain control characters")


def sign(*, platform_secret: str | SecretStr, tenant: str, name: str, expires: int) -> str:
    """The `sig` of a link (see the module docstring)."""
    message = "\n".join((_VERSION, tenant, name, str(expires))).encode("utf-8")
    return hmac.new(_secret_bytes(platform_secret), message, hashlib.sha256).hexdigest()


def mint_link(
    *,
    public_url: str,
    platform_secret: str | SecretStr,
    tenant: str,
    name: str = "",
    ttl: timedelta = DEFAULT_LINK_TTL,
    now: datetime | None = None,
) -> str:
    """A signed link that opens a chimplink session for `tenant`, valid for `ttl`."""
    _check_values(tenant, name)
    if not timedelta(0) < ttl <= MAX_LINK_TTL:
        raise ValueError("ttl must be positive and at most 24 hours")
    at = now or datetime.now(UTC)
    expires = int((at + ttl).timestamp())
    query = urlencode(
        {
            "tenant": tenant,
            "name": name,
            "expires": str(expires),
            "sig": sign(platform_secret=platform_secret, tenant=tenant, name=name, expires=expires),
        }
    )
    return f"{public_url.rstrip('/')}{ENTER_PATH}?{query}"


def verify_link(
    *,
    platform_secret: str | SecretStr,
    tenant: str | None,
    name: str | None,
    expires: str | None,
    sig: str | None,
    now: datetime | None = None,
) -> PlatformIdentity:
    """Check a link's parameters; `InvalidLink` unless signed by the secret and not expired.

    The signature is checked before the expiry, so an unsigned link learns nothing.
    """
    if tenant is None or expires is None or sig is None:
        raise InvalidLink("malformed")
    name = name or ""
    try:
        _check_values(tenant, name)
    except ValueError:
        raise InvalidLink("malformed") from None
    if not expires.isdigit() or len(expires) > 12 or not _HEX_SIGNATURE.match(sig):
        raise InvalidLink("malformed")
    expected = sign(platform_secret=platform_secret, tenant=tenant, name=name, expires=int(expires))
    if not hmac.compare_digest(expected.encode("ascii"), sig.encode("ascii")):
        raise InvalidLink("bad_signature")
    expires_at = datetime.fromtimestamp(int(expires), UTC)
    at = now or datetime.now(UTC)
    if expires_at <= at:
        raise InvalidLink("expired")
    if expires_at - at > MAX_LINK_TTL:
        raise InvalidLink("too_far_ahead")
    return PlatformIdentity(tenant=tenant, name=name, expires_at=expires_at)
