"""HTML pages the emulator shows people (the OAuth consent page, /_emulator/ui).

One Jinja2 setup with autoescaping and strict undefined variables, and one set
of headers: nothing cached, no referrer leaked, no framing, no script.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2
from starlette.responses import HTMLResponse

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # No form-action: browsers apply it to the redirect after a form is sent.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"
    ),
}


@cache
def templates(package: str, path: str) -> jinja2.Environment:
    """The templates under `path` of `package`, loaded once per process (code, not state)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, path),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def html_page(
    env: jinja2.Environment, template: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    html = env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=dict(PAGE_HEADERS))
