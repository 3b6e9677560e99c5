"""Pure ASGI middleware: security headers, a redacted access log, and the last-resort 500.

Order (outermost first): SecurityHeaders → AccessLog → CatchAll → sessions →
routes. So the 500 page gets the security headers too, and is logged.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AccessLog", "CatchAll", "SecurityHeaders", "content_security_policy"]

_access_log = structlog.get_logger("chimplink.web.access")
_error_log = structlog.get_logger("chimplink.web")


def content_security_policy() -> str:
    # No script at all, styles and images from here only; forms post here only.
    return (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


class SecurityHeaders:
    """Headers every response gets unless the route set its own value."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.defaults: dict[str, str] = {
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": content_security_policy(),
            "Referrer-Policy": "same-origin",
            "Cross-Origin-Opener-Policy": "same-origin",
        }
        if https:
            self.defaults["Strict-Transport-Security"] = "max-age=31536000"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.defaults.items():
                    if name not in headers:
                        headers[name] = value
                if not static and "cache-control" not in headers:
                    # Pages show account details: never keep them in a shared cache.
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _route_template(scope: Mapping[str, object]) -> str:
    """The matched route's path template: never the concrete path (it may hold a secret)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "(no route)"


class AccessLog:
    """One line per request: method, route template, status, duration. No query, no path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            _access_log.info(
                "web.request",
                method=scope.get("method"),
                route=_route_template(scope),
                status=status[0] if status else None,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )


class CatchAll:
    """Any exception a route lets escape becomes a plain 500 page; the error is logged redacted.

    No traceback ever reaches the user. The exception is not re-raised, so the
    server does not log it a second time.
    """

    def __init__(self, app: ASGIApp, *, render: Callable[[str], bytes]) -> None:
        self.app = app
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def track(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, track)
        except Exception:
            error_id = secrets.token_hex(6)
            _error_log.exception(
                "web.unhandled_error", error_id=error_id, route=_route_template(scope)
            )
            if response_started:
                return
            body = self.render(error_id)
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"text/html; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
