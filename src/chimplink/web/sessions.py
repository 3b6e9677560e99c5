"""The browser session: a signed cookie (Starlette's SessionMiddleware, SESSION_SECRET).

It holds the tenant the platform link named, a random *binding* id that OAuth
states are tied to (store/oauth_states.py), a CSRF token for forms, and
one-shot messages. Opening a platform link starts a fresh session (new
binding, new CSRF token), so nothing carries over from a previous user of
the browser. The cookie is signed, not encrypted: it holds no secret of
anyone but its holder, and no personal data besides the display name.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

__all__ = [
    "CsrfFailed",
    "NotSignedIn",
    "SignedIn",
    "check_csrf",
    "csrf_token",
    "pop_flash",
    "push_flash",
    "session_binding",
    "sign_in",
    "signed_in",
]

_TENANT = "tenant_id"
_NAME = "tenant_name"
_BINDING = "binding"
_CSRF = "csrf"
_FLASH = "flash"


class NotSignedIn(Exception):
    """No tenant in this browser session: the user must come through the platform."""


class CsrfFailed(Exception):
    """A form came without this session's CSRF token."""


@dataclass(frozen=True)
class SignedIn:
    tenant_id: str  # chimplink's tenant id (not the platform's)
    name: str
    binding: str


def sign_in(request: Request, *, tenant_id: str, name: str) -> None:
    session = request.session
    session.clear()
    session[_TENANT] = tenant_id
    session[_NAME] = name
    session[_BINDING] = secrets.token_urlsafe(32)
    session[_CSRF] = secrets.token_urlsafe(32)


def signed_in(request: Request) -> SignedIn:
    session = request.session
    tenant_id, binding = session.get(_TENANT), session.get(_BINDING)
    if not isinstance(tenant_id, str) or not isinstance(binding, str):
        raise NotSignedIn
    name = session.get(_NAME)
    return SignedIn(
        tenant_id=tenant_id, name=name if isinstance(name, str) else "", binding=binding
    )


def session_binding(request: Request) -> str | None:
    binding = request.session.get(_BINDING)
    return binding if isinstance(binding, str) else None


def csrf_token(request: Request) -> str:
    token = request.session.get(_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[_CSRF] = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get(_CSRF)
    if not isinstance(expected, str) or not submitted:
        raise CsrfFailed
    if not hmac.compare_digest(expected.encode("utf-8"), submitted.encode("utf-8", "replace")):
        raise CsrfFailed


def push_flash(request: Request, kind: str, text: str, **extra: Any) -> None:
    messages = list(request.session.get(_FLASH) or [])
    messages.append({"kind": kind, "text": text, **extra})
    request.session[_FLASH] = messages[-5:]


def pop_flash(request: Request) -> list[dict[str, Any]]:
    messages = request.session.pop(_FLASH, None)
    return [m for m in messages or [] if isinstance(m, dict)]
