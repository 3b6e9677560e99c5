"""`create_app(settings)`: the web app, composed from small routers.

Everything shared is built in the lifespan and lives on `app.state.chimplink`
(`web/state.py`): the database engine and sessions, the token cipher, one
`httpx.AsyncClient` for all Mailchimp traffic, one `LocalLimiter` for the
process, the page renderer, and the embedded job runner. Nothing is
module-level, so several apps (tests) can live in one process.

`mailchimp_transport` sends every Mailchimp request — login and API — through
one transport; tests pass `httpx.ASGITransport(app=emulator)`. Without it,
requests go over the network (to the real Mailchimp, or to a served emulator
named by `CHIMPLINK_MAILCHIMP_LOGIN_URL` / `CHIMPLINK_MAILCHIMP_API_URL`).

The app refuses to start on a database whose schema is not the newest:
`chimplink serve` upgrades an embedded SQLite itself; otherwise run
`chimplink db upgrade`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from chimplink.config import ConfigError, JobsBackend, Secrets, Settings, load_secrets
from chimplink.connect import ConnectConfig, ConnectError, open_services
from chimplink.jobs import EmbeddedRunner, builtin_tasks
from chimplink.jobs.inbound_tasks import ConnectorFactory
from chimplink.platforms.registry import open_connectors
from chimplink.store import current_revision, head_revision
from chimplink.web.middleware import AccessLog, CatchAll, SecurityHeaders
from chimplink.web.pages import STATIC, Pages
from chimplink.web.routes import (
    api_v1,
    health,
    home,
    installations,
    oauth,
    photos,
    platform,
    sync,
    webhooks,
)
from chimplink.web.sessions import CsrfFailed, NotSignedIn
from chimplink.web.state import AppState

__all__ = ["SESSION_MAX_AGE", "create_app"]

_log = structlog.get_logger("chimplink.web")

SESSION_MAX_AGE = 8 * 60 * 60  # seconds; the platform link opens a new one


def _session_cookie(https: bool) -> str:
    # __Host-: only over https, only for this host, path / (RFC 6265bis).
    return "__Host-chimplink_session" if https else "chimplink_session"


def _install_error_pages(app: FastAPI, pages: Pages) -> None:
    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        return pages.message(
            request,
            title="Open chimplink from your platform",
            text=(
                "This page belongs to your Mailchimp connection. Open it from the platform "
                "you use (for example its settings or integrations page), which signs you in."
            ),
            status=401,
            actions=(),
        )

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return pages.message(
            request,
            title="This form has expired",
            text="Nothing was changed. Go back, reload the page and try again.",
            status=403,
        )

    @app.exception_handler(ConnectError)
    async def connect_error(request: Request, exc: ConnectError) -> Response:
        return pages.connect_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return pages.message(
            request,
            title="This request is incomplete",
            text="Something was missing from the form or the address. Go back and try again.",
            status=400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return pages.not_found()
        response = pages.message(
            request,
            title="This request cannot be answered",
            text="The address or method of this request is not one chimplink answers.",
            status=exc.status_code,
        )
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response


async def _check_schema(state: AppState) -> None:
    revision = await current_revision(state.services.engine)
    if revision != head_revision():
        raise ConfigError(
            f"the database is at schema revision {revision or 'none'}, not {head_revision()}: "
            "run `chimplink db upgrade`"
        )


def create_app(
    settings: Settings,
    *,
    mailchimp_transport: httpx.AsyncBaseTransport | None = None,
    run_jobs: bool | None = None,
    secrets: Secrets | None = None,
    connectors: ConnectorFactory | None = None,
) -> FastAPI:
    """Build the web app. `run_jobs` (default: embedded jobs configured) starts the job runner.

    `connectors` gives each installation its platform's connector; by default
    the one the settings name (`CHIMPLINK_CONNECTOR`, platforms/registry.py).
    """
    resolved = secrets if secrets is not None else load_secrets(settings)
    config = ConnectConfig.from_settings(settings)
    pages = Pages()
    https = settings.public_url.startswith("https://")
    start_runner = settings.jobs is JobsBackend.EMBEDDED if run_jobs is None else run_jobs

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            services = await stack.enter_async_context(
                open_services(
                    settings,
                    secrets=resolved,
                    mailchimp_transport=mailchimp_transport,
                    config=config,
                )
            )
            factory = connectors
            if factory is None:
                factory = await stack.enter_async_context(
                    open_connectors(settings, sessions=services.sessions)
                )
            runner = (
                EmbeddedRunner(services, builtin_tasks(connectors=factory))
                if start_runner
                else None
            )
            state = AppState(
                settings=settings,
                services=services,
                pages=pages,
                platform_secret=settings.platform_secret,
                runner=runner,
                connectors=factory,
            )
            await _check_schema(state)
            if config.oauth is None:
                _log.warning("web.oauth_not_configured")
            if settings.platform_secret is None:
                _log.warning("web.platform_secret_not_configured")
            if runner is None and settings.jobs is JobsBackend.PROCRASTINATE:
                # Remote clean-ups wait in pending_cleanups until a worker runs them.
                _log.warning("web.jobs_not_started", jobs=settings.jobs.value)
            app.state.chimplink = state
            if runner is not None:
                await runner.start()
            try:
                yield
            finally:
                if runner is not None:
                    await runner.stop()

    app = FastAPI(
        title="chimplink",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    for module in (health, platform, home, oauth, installations, sync, photos, webhooks):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.router.routes.append(api_v1.api_mount(app.state))  # JSON errors, its own OpenAPI
    _install_error_pages(app, pages)
    # Added innermost first: the last one added is the outermost.
    app.add_middleware(
        SessionMiddleware,
        secret_key=resolved.session_secret.get_secret_value(),
        session_cookie=_session_cookie(https),
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=https,
    )
    app.add_middleware(CatchAll, render=pages.server_error_body)
    app.add_middleware(AccessLog)
    app.add_middleware(SecurityHeaders, https=https)
    return app
