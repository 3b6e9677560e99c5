"""The HTML pages of login.mailchimp.com: the consent page and the error page.

Templates live in `templates/` and are rendered with autoescaping on, since
client names, account names and `state` all come from callers. The pages load
nothing from elsewhere and send `Referrer-Policy: no-referrer` (RFC 9700
§4.2.4), and refuse framing, as a consent page must (RFC 6819 §4.4.1.9).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import HTMLResponse

from chimplink.emulator.pages import html_page, templates


def render(template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    env = templates("chimplink.emulator.oauth", "templates")
    return html_page(env, template, status=status, **context)


def error_page(*, title: str, detail: str, status: int = 400) -> HTMLResponse:
    """An error the user sees at Mailchimp; the client is never redirected to."""
    return render("error.html", status=status, title=title, detail=detail)
