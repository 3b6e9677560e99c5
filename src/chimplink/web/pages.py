"""Rendering pages: Jinja2 templates (autoescaped), plain-words messages, fixed error pages.

The 404 page is rendered once, without any request data, so every "not
found" — an unknown route, an unknown installation id, another tenant's id, a
webhook URL with a wrong secret — answers the same bytes: none of them can
be told apart from outside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from chimplink.connect import ConnectError
from chimplink.web.sessions import NotSignedIn, csrf_token, pop_flash, signed_in

__all__ = ["Action", "Pages"]

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
_HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Action:
    label: str
    href: str  # a same-origin path
    id: str


BACK_HOME = Action("Back to your accounts", "/", "back-home")
RECONNECT = Action("Reconnect Mailchimp", "/connect", "reconnect")
CONNECT = Action("Connect Mailchimp", "/connect", "connect-again")


class Pages:
    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self._not_found = self._render("not_found.html", page_title="Page not found").encode()

    def _render(self, name: str, **context: Any) -> str:
        base: dict[str, Any] = {"signed_in": None, "flashes": []}
        return self.env.get_template(name).render({**base, **context})

    def render(
        self,
        request: Request,
        name: str,
        *,
        title: str,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """A page with the session's identity, CSRF token and pending messages."""
        try:
            who = signed_in(request)
        except NotSignedIn:
            who = None
        extra: dict[str, Any] = {}
        if who is not None:
            extra = {"csrf_token": csrf_token(request), "flashes": pop_flash(request)}
        body = self._render(name, page_title=title, signed_in=who, **extra, **context)
        return HTMLResponse(body, status_code=status, headers=dict(headers or {}))

    def message(
        self,
        request: Request,
        *,
        title: str,
        text: str,
        status: int,
        actions: Sequence[Action] = (BACK_HOME,),
        tone: str = "error",
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        return self.render(
            request,
            "message.html",
            title=title,
            text=text,
            status=status,
            actions=list(actions),
            tone=tone,
            headers=headers,
        )

    def connect_error(
        self,
        request: Request,
        error: ConnectError,
        *,
        actions: Sequence[Action] = (BACK_HOME,),
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        if error.status == 404:
            return self.not_found()
        return self.message(
            request,
            title=error.title,
            text=error.user_message,
            status=error.status,
            actions=actions,
            headers=headers,
        )

    def not_found(self) -> Response:
        return Response(self._not_found, status_code=404, media_type=_HTML)

    def server_error_body(self, error_id: str) -> bytes:
        return self._render(
            "server_error.html", page_title="Something went wrong", error_id=error_id
        ).encode()
