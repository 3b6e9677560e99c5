"""The HTML pages of login.mailchimp.com: the consent page and the error page.

Templates live in `templates/` and are rendered with autoescaping on, since
client names, account names and `state` all come from callers. The pages load
nothing from elsewhere and send `Referrer-Policy: no-referrer` (RFC 9700
§4.2.4), and refuse framing, as a consent page must (RFC 6819 §4.4.1.9).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2
from starlette.responses import HTMLResponse

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # No form-action: browsers apply it to the redirect after the form is sent.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"
    ),
}


@cache
def _templates() -> jinja2.Environment:
    """The package's templates, loaded once per process (code, not state)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("chimplink.emulator.oauth", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    html = _templates().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=dict(_HEADERS))


def error_page(*, title: str, detail: str, status: int = 400) -> HTMLResponse:
    """An error the user sees at Mailchimp; the client is never redirected to."""
    return render("error.html", status=status, title=title, detail=detail)
