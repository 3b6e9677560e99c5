"""The emulator's ASGI application: one app serving OAuth, the API and the control plane.

    /oauth2/...              login.mailchimp.com (consent page, token, metadata)
    /3.0/...                 the Marketing API, single-host form (2026 docs)
    /{dc}/3.0/...            the Marketing API, classic form; api_endpoint = {emulator}/{dc}
    /_emulator/...           the control plane (not part of Mailchimp)
    /files/..., /batch-results/...   public URLs: File Manager images, batch result archives

`create_app()` returns the same app for `uvicorn` and for `httpx.ASGITransport`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from chimplink.emulator import (
    batches,
    campaigns,
    control,
    ecommerce,
    file_manager,
    lists,
    members,
    merge_fields,
    oauth,
    problems,
    root,
    segments,
    spec,
    ui,
    webhooks,
)
from chimplink.emulator import (
    behaviour as behaviour_mod,
)
from chimplink.emulator.auth import authenticate, credential
from chimplink.emulator.backend import Account, Backend
from chimplink.emulator.behaviour import Behaviour
from chimplink.emulator.config import EmulatorConfig
from chimplink.emulator.context import ApiContext
from chimplink.emulator.params import filter_fields
from chimplink.emulator.responses import PROBLEM_TYPE, json_response
from chimplink.emulator.routing import Reply, Route, Router

log = logging.getLogger("chimplink.emulator")

# Every resource package contributes `routes` (API), and may contribute
# `control_routes` (/_emulator), `oauth_routes` (/oauth2) and `public_routes`.
RESOURCE_MODULES: tuple[Any, ...] = (
    root,
    lists,
    members,
    merge_fields,
    segments,
    webhooks,
    batches,
    file_manager,
    ecommerce,
    campaigns,
    oauth,
    control,
    ui,
)

_API_PREFIX = re.compile(r"^/(?:(?P<dc>[a-z]+[0-9]+)/)?3\.0(?P<rest>/.*)?$")


def _collect(attr: str) -> list[Route]:
    found: list[Route] = []
    for module in RESOURCE_MODULES:
        found.extend(getattr(module, attr, ()))
    return found


class EmulatorApp:
    """ASGI callable. `backend` holds state; `behaviour` holds latency, limits, faults, stats."""

    def __init__(
        self,
        config: EmulatorConfig,
        *,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.backend = Backend(config)
        self.behaviour = Behaviour(config)
        self.webhook_transport = webhook_transport
        self.api = Router(_collect("routes"))
        self.control = Router(_collect("control_routes"))
        self.oauth = Router(_collect("oauth_routes"))
        self.public = Router(_collect("public_routes"))
        self._tasks: set[asyncio.Task[Any]] = set()
        # Counters of an account's subscribed contacts (the root's total_subscribers).
        self.subscriber_counters: list[Callable[[Account], int]] = []
        self._http: httpx.AsyncClient | None = None
        for module in RESOURCE_MODULES:
            install = getattr(module, "install", None)
            if install is not None:
                install(self)
        if config.state_file is not None and config.state_file.exists():
            self._load_state(config.state_file)

    def _load_state(self, path: Path) -> None:
        try:
            self.backend.load(json.loads(path.read_text("utf-8")))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # pydantic's ValidationError and JSONDecodeError are ValueErrors.
            first_line = str(exc).splitlines()[0]
            raise ValueError(
                f"state file {path} is not a valid emulator state: {first_line}"
            ) from None

    # -- services shared by resource packages ------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run background work (webhook deliveries, batch processing) and keep a reference."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def http_client(self) -> httpx.AsyncClient:
        """The client for outgoing calls (webhook validation and deliveries)."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                transport=self.webhook_transport,
                timeout=self.config.webhook_timeout_s,
                follow_redirects=False,
            )
        return self._http

    async def drain(self) -> None:
        """Wait for background work to finish (tests; graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def reset(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self.backend.reset()
        self.behaviour.reset()

    def save_state(self, path: Path | None = None) -> None:
        target = path or self.config.state_file
        if target is not None:
            target.write_text(json.dumps(self.backend.snapshot()), "utf-8")

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- ASGI --------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":  # pragma: no cover - websockets are not served
            return
        request = Request(scope, receive)
        response = await self._dispatch(request)
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.save_state()
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def base_url(self, request: Request) -> str:
        if self.config.public_url:
            return self.config.public_url.rstrip("/")
        return f"{request.url.scheme}://{request.url.netloc}"

    async def _dispatch(self, request: Request) -> Response:
        path = request.url.path
        request_id = str(uuid.uuid4())
        api = _API_PREFIX.match(path)
        try:
            if api is not None:
                return await self._api(
                    request, api.group("dc"), api.group("rest") or "/", request_id
                )
            for prefix, router in (
                ("/_emulator", self.control),
                ("/oauth2", self.oauth),
                ("", self.public),
            ):
                if path.startswith(prefix):
                    sub = path[len(prefix) :] or "/"
                    found = router.match(request.method, sub)
                    if found.route is not None:
                        ctx = ApiContext(
                            request, self, found.params, None, self.base_url(request), found.route
                        )
                        return self._render(await found.route.handler(ctx), ctx, request_id)
                    if found.allowed:
                        raise problems.method_not_allowed(found.allowed)
            raise problems.not_found()
        except problems.ProblemError as exc:
            return self.problem(exc, request_id)

    def problem(self, exc: problems.ProblemError, request_id: str) -> Response:
        headers = {"X-Request-Id": request_id, **exc.headers}
        if exc.bare:
            return Response(b"", status_code=exc.status, headers=headers)
        body = json.dumps(exc.body(request_id), separators=(",", ":")).encode("utf-8")
        headers["Link"] = (
            '<https://api.mailchimp.com/schema/3.0/ProblemDetailDocument.json>; rel="describedBy"'
        )
        return Response(body, status_code=exc.status, media_type=PROBLEM_TYPE, headers=headers)

    def _render(self, reply: Reply, ctx: ApiContext, request_id: str) -> Response:
        if reply is None:
            return Response(b"", status_code=204, headers={"X-Request-Id": request_id})
        if isinstance(reply, Response):
            reply.headers["X-Request-Id"] = request_id
            return reply
        return json_response(filter_fields(ctx.query, reply), headers={"X-Request-Id": request_id})

    async def _api(self, request: Request, dc: str | None, path: str, request_id: str) -> Response:
        arrived = time.perf_counter()
        found = self.api.match(request.method, path)
        try:
            account = authenticate(self.backend, request, dc)
        except problems.ProblemError as refused:
            self._record_refused(request, path, found.route, refused.status)
            raise
        if found.route is None:
            operation = f"{request.method} {path}"
            exc = _unmatched(request.method, path, found.allowed)
            self.behaviour.record(account.account_id, operation, exc.status)
            return self.problem(exc, request_id)
        operation = found.route.operation
        if not self.behaviour.try_enter(account.account_id):
            self.behaviour.record(account.account_id, operation, 429)
            return self.problem(problems.too_many_connections(), request_id)
        status = 500
        try:
            response = await self._run(
                request, account, found.route, found.params, request_id, arrived
            )
            status = response.status_code
            return response
        finally:
            self.behaviour.leave(account.account_id)
            self.behaviour.record(account.account_id, operation, status)

    async def internal(
        self,
        account: Account,
        *,
        method: str,
        path: str,
        query: str = "",
        body: bytes = b"",
        base_url: str = "",
    ) -> tuple[int, bytes]:
        """Run one API operation for `account` without the network model.

        Used by /batches: Mailchimp runs batch operations on its side, so they
        neither take one of the account's 10 connections nor get latency or
        injected faults. Returns (status, body).
        """
        request_id = str(uuid.uuid4())
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        scope: Scope = {
            "type": "http",
            "method": method.upper(),
            "path": f"/3.0{path}",
            "raw_path": f"/3.0{path}".encode(),
            "query_string": query.encode(),
            "headers": [(b"content-type", b"application/json")],
            "scheme": "http",
            "server": ("emulator.internal", 80),
            "root_path": "",
        }
        request = Request(scope, receive)
        found = self.api.match(method.upper(), path)
        if found.route is None:
            response = self.problem(_unmatched(method.upper(), path, found.allowed), request_id)
        else:
            ctx = ApiContext(request, self, found.params, account, base_url, found.route)
            try:
                response = self._render(await found.route.handler(ctx), ctx, request_id)
            except problems.ProblemError as exc:
                response = self.problem(exc, request_id)
        return response.status_code, bytes(response.body)

    def _record_refused(
        self, request: Request, path: str, route: Route | None, status: int
    ) -> None:
        """Count a refused call in the stats of the account its credential belongs to.

        A revoked token still names its account: an integration's calls after
        the user removed the app must show up, so tests can prove there is no
        retry storm.
        """
        try:
            token = credential(request)
        except problems.ProblemError:
            return
        record = self.backend.tokens.get(token or "")
        if record is None:
            return
        operation = route.operation if route is not None else f"{request.method} {path}"
        self.behaviour.record(record.account_id, operation, status)

    async def _run(
        self,
        request: Request,
        account: Account,
        route: Route,
        params: dict[str, str],
        request_id: str,
        arrived: float,
    ) -> Response:
        ctx = ApiContext(request, self, params, account, self.base_url(request), route)
        behaviour = self.behaviour
        trigger = request.headers.get("x-trigger-error")
        if trigger:
            name = trigger.strip()
            if name in problems.TRIGGERABLE:
                return self.problem(problems.triggered(name), request_id)
        fault = behaviour.take_scripted_fault(account.account_id, route.operation)
        if fault is None:
            fault = behaviour.draw_fault()
        stats = behaviour.for_account(account.account_id)
        if fault is not None:
            stats.faults[fault] += 1
        if fault == "503":
            return self.problem(
                problems.ProblemError(
                    503, "Service Unavailable", "The service is temporarily unavailable."
                ),
                request_id,
            )
        if fault in ("429", "403"):
            # "At exceptionally high volumes, you may receive an HTTP 429 or 403
            # without a JSON body" (REFERENCE.md §5).
            return Response(b"", status_code=int(fault), headers={"X-Request-Id": request_id})
        items = 1
        if behaviour.latency_per_item_ms > 0 and request.method in ("POST", "PUT", "PATCH"):
            try:
                items = behaviour_mod.count_items(await ctx.json(allow_empty=True))
            except problems.ProblemError:
                items = 1
        # The latency is the request's whole time at Mailchimp, from its arrival:
        # the handler runs first and the sleep covers what remains, so the
        # emulator's own CPU time (on one event loop) does not queue up on top.
        try:
            response = self._render(await route.handler(ctx), ctx, request_id)
        except problems.ProblemError as exc:
            response = self.problem(exc, request_id)
        await behaviour.sleep_latency(items, elapsed_s=time.perf_counter() - arrived)
        if fault == "slow":
            await asyncio.sleep(self.config.slow_fault_ms / 1000)
        if fault == "500":
            return self.problem(problems.internal_error(), request_id)
        if fault == "reset":
            # The handler ran; the connection drops before the response. Served,
            # uvicorn closes the socket; in-process, httpx sees the same error.
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return response


def _unmatched(method: str, path: str, allowed: tuple[str, ...]) -> problems.ProblemError:
    """405 with Allow, 501 for a Mailchimp operation not emulated, else 404."""
    if allowed:
        return problems.method_not_allowed(allowed)
    known = spec.find(method, path)
    if known is not None:
        return problems.not_emulated(f"{method} {known.path}")
    return problems.not_found()


def create_app(
    config: EmulatorConfig | None = None,
    *,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    **overrides: Any,
) -> EmulatorApp:
    """Build an emulator. Keyword overrides are EmulatorConfig fields (`latency_ms=150`)."""
    if config is None:
        config = EmulatorConfig(**overrides)
    elif overrides:
        from dataclasses import replace

        config = replace(config, **overrides)
    return EmulatorApp(config, webhook_transport=webhook_transport)


def iter_api_routes(app: EmulatorApp) -> Iterable[Route]:
    return iter(app.api.routes)
