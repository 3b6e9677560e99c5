"""Plain pages and plain errors: health, 404s that all look alike, a 500 that shows no
traceback and is logged redacted, security headers on every response."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from chimplink.logging import configure_logging
from tests.web.harness import World

CANARY_TOKEN = "0123456789abcdef0123456789abcdef"
CANARY_EMAIL = "canary.person@example.org"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    configure_logging(level="DEBUG", json_output=True, stream=stream, cache_loggers=False)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            if handler.get_name() == "chimplink":
                root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()


async def test_healthz(world: World) -> None:
    response = await world.browser().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_every_not_found_is_the_same_page(world: World) -> None:
    browser = world.browser()
    await browser.enter("user-1")
    signed_in = await browser.get("/no/such/page")
    anonymous = await world.browser().get("/another/missing/thing?x=1")
    assert signed_in.status_code == anonymous.status_code == 404
    assert signed_in.content == anonymous.content
    assert "Page not found" in signed_in.text
    assert signed_in.headers["content-type"].startswith("text/html")


async def test_no_api_docs_are_exposed(world: World) -> None:
    client = world.browser()
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await client.get(path)).status_code == 404


async def test_security_headers_on_pages(world: World) -> None:
    browser = world.browser()
    await browser.enter("user-1")
    home = await browser.get("/")
    assert home.headers["x-content-type-options"] == "nosniff"
    assert home.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
    assert "script-src" not in home.headers["content-security-policy"]  # default-src 'none'
    assert home.headers["cache-control"] == "no-store"
    assert home.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in home.headers  # plain http in tests
    css = await browser.get("/static/style.css")
    assert css.status_code == 200
    assert "no-store" not in css.headers.get("cache-control", "")


async def test_an_unexpected_error_is_a_plain_500_and_logged_redacted(
    world: World, log_stream: io.StringIO
) -> None:
    async def explode() -> None:
        raise RuntimeError(f"boom with Bearer {CANARY_TOKEN} for {CANARY_EMAIL}")

    world.app.add_api_route("/_explode", explode)
    response = await world.browser().get("/_explode")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.text
    for leak in ("Traceback", "RuntimeError", "boom", CANARY_TOKEN, CANARY_EMAIL):
        assert leak not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"

    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    [error] = [line for line in lines if line["event"] == "web.unhandled_error"]
    assert error["route"] == "/_explode"
    assert "RuntimeError" in error["exception"]
    output = log_stream.getvalue()
    assert CANARY_TOKEN not in output
    assert CANARY_EMAIL not in output
    assert error["error_id"] in response.text


async def test_the_access_log_names_route_templates_never_paths(
    world: World, log_stream: io.StringIO
) -> None:
    browser = world.browser()
    await browser.enter("user-1", name=CANARY_EMAIL)
    await browser.get("/oauth/callback?code=secret-code-1&state=secret-state-1")
    output = log_stream.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    requests = [line for line in lines if line["event"] == "web.request"]
    assert [line["route"] for line in requests] == ["/platform/enter", "/oauth/callback"]
    ours = json.dumps([line for line in lines if line.get("logger", "").startswith("chimplink")])
    for leak in ("secret-code-1", "secret-state-1", CANARY_EMAIL, "sig=", "tenant="):
        assert leak not in ours
    # Whatever else logs (here: the test's own HTTP client), the redactor still applies.
    for leak in ("secret-code-1", "secret-state-1", CANARY_EMAIL):
        assert leak not in output
