"""The one place requests are sent: auth, limiter slot, retries, errors, accounting.

Services describe calls (method, path template, parameters); the requestor
runs them. Transport exceptions become `APIConnectionError` in `_transport.send`
(the one boundary); error responses become the error tree through
`error_from_response()`.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from chimplink.mailchimp._transport import send
from chimplink.mailchimp.accounting import ApiCall, CallObserver
from chimplink.mailchimp.errors import (
    InvalidRequestError,
    ServerError,
    error_from_response,
)
from chimplink.mailchimp.limiter import ConcurrencyLimiter
from chimplink.mailchimp.retry import IDEMPOTENT_METHODS, RetryPolicy

__all__ = ["DEFAULT_TIMEOUT", "Requestor", "StreamedBody", "expand_path"]

_log = structlog.get_logger("chimplink.mailchimp")

QueryValue = str | int | float | bool | Sequence[str] | None
Query = Mapping[str, QueryValue]

# Mailchimp stops a call at 120 s (REFERENCE.md §6); wait a little longer so
# its own timeout, not ours, decides.
DEFAULT_TIMEOUT = httpx.Timeout(125.0, connect=10.0)

DOWNLOAD_OPERATION = "GET {response_body_url}"


@dataclass(frozen=True)
class StreamedBody:
    """A JSON body sent in pieces, produced afresh for every attempt.

    For large bodies (a file upload is base64 inside JSON): the whole body is
    never held in memory, only the caller's source and one piece. `length` is
    exact, so the request carries a Content-Length, not chunked encoding.
    """

    length: int
    pieces: Callable[[], AsyncIterator[bytes]]


def _query(params: Query | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            out[name] = str(value)
        else:
            # Mailchimp takes lists as comma-separated values (fields, exclude_fields).
            out[name] = ",".join(value)
    return out


def expand_path(template: str, values: Mapping[str, str]) -> str:
    """Fill a path template; every value is percent-encoded and must be non-empty.

    An empty id would silently address another resource (`/lists//members`),
    so it is refused here rather than sent.
    """
    encoded: dict[str, str] = {}
    for name, value in values.items():
        if not isinstance(value, str) or not value:
            raise ValueError(f"path parameter {name!r} must be a non-empty string")
        encoded[name] = quote(value, safe="")
    try:
        return template.format_map(encoded)
    except KeyError as exc:
        raise ValueError(f"missing path parameter {exc.args[0]!r} for {template}") from None


def _timeout_for(base: httpx.Timeout, remaining: float | None) -> httpx.Timeout:
    if remaining is None:
        return base
    bound = max(remaining, 0.001)

    def cap(value: float | None) -> float:
        return bound if value is None else min(value, bound)

    return httpx.Timeout(
        connect=cap(base.connect), read=cap(base.read), write=cap(base.write), pool=cap(base.pool)
    )


class Requestor:
    """Sends calls for one account. Cheap; shares the http client, limiter and policy."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        auth: httpx.Auth,
        account_key: str,
        limiter: ConcurrencyLimiter,
        retry: RetryPolicy,
        observer: CallObserver | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        user_agent: str = "chimplink",
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.account_key = account_key
        self.limiter = limiter
        self.retry = retry
        self._auth = auth
        self._observer = observer
        self._timeout = timeout
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}

    def __repr__(self) -> str:
        return f"Requestor(base_url={self.base_url!r}, account_key={self.account_key!r})"

    # -- API calls -----------------------------------------------------------------

    async def request(
        self,
        method: str,
        template: str,
        *,
        path: Mapping[str, str] | None = None,
        params: Query | None = None,
        json_body: Any = None,
        body: StreamedBody | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Run one API call; return its parsed JSON (None for 204/empty bodies).

        The JSON body is `json_body`, or `body` already encoded in pieces.
        `idempotent` defaults from the method; services pass True for POSTs
        that are idempotent in effect (see retry.py).
        """
        method = method.upper()
        operation = f"{method} {template}"
        url = self.base_url + expand_path(template, path or {})
        query = _query(params)
        content = None if json_body is None else json.dumps(json_body).encode("utf-8")
        headers = dict(self._headers)
        if content is not None or body is not None:
            headers["Content-Type"] = "application/json"
        if body is not None:
            headers["Content-Length"] = str(body.length)
        is_idempotent = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        attempts = 0

        async def attempt(remaining: Callable[[], float | None]) -> httpx.Response:
            nonlocal attempts
            attempts += 1
            async with self.limiter.slot(self.account_key):
                # Built once the slot is held: time spent queueing for a slot
                # counts against the deadline, so the timeout is computed now.
                request = self.http.build_request(
                    method,
                    url,
                    params=query,
                    content=body.pieces() if body is not None else content,
                    headers=headers,
                    timeout=_timeout_for(self._timeout, remaining()),
                )
                response = await self._send(
                    request, operation=operation, auth=self._auth, attempt=attempts
                )
            if response.status_code >= 400:
                raise error_from_response(response, operation=operation)
            return response

        response = await self.retry.run(attempt, idempotent=is_idempotent, operation=operation)
        return _parse_success(response, operation=operation)

    async def _send(
        self, request: httpx.Request, *, operation: str, auth: httpx.Auth | None, attempt: int
    ) -> httpx.Response:
        started = time.perf_counter()
        status: int | None = None
        try:
            response = await send(self.http, request, operation=operation, auth=auth)
            status = response.status_code
            return response
        finally:
            self._observe(
                ApiCall(
                    account_key=self.account_key,
                    operation=operation,
                    status=status,
                    duration=time.perf_counter() - started,
                    attempt=attempt,
                )
            )

    def _observe(self, call: ApiCall) -> None:
        if self._observer is None:
            return
        try:
            self._observer(call)
        except Exception:
            # Accounting must never fail a sync; a broken observer is a bug to
            # see in the logs, not a reason to lose a write.
            _log.exception("mailchimp.observer_failed", operation=call.operation)

    # -- downloads -----------------------------------------------------------------

    async def download(self, url: str, *, operation: str = DOWNLOAD_OPERATION) -> bytes:
        """GET an absolute URL Mailchimp handed us (batch results) WITHOUT our credentials.

        `response_body_url` is a signed URL on another host (REFERENCE.md §7.2):
        sending the API token there would leak it. Not limited by the account's
        slots (it is not an API connection). 4xx means expired or gone.
        `operation` names the call in accounting (files pass their own).
        """
        parsed = httpx.URL(url)
        if parsed.scheme not in ("https", "http") or not parsed.host:
            raise ValueError("batch results URL must be an absolute http(s) URL")
        attempts = 0

        async def attempt(remaining: Callable[[], float | None]) -> httpx.Response:
            nonlocal attempts
            attempts += 1
            request = self.http.build_request(
                "GET",
                parsed,
                headers={"User-Agent": self._headers["User-Agent"]},
                timeout=_timeout_for(self._timeout, remaining()),
            )
            request.headers.pop("Authorization", None)
            response = await self._send(request, operation=operation, auth=None, attempt=attempts)
            if response.status_code >= 500:
                raise error_from_response(response, operation=operation)
            if response.status_code >= 400:
                # A signed URL lives 10 minutes (§7.2); a 4xx here (often a bare
                # 403 from the storage host) means "ask for a fresh URL", not
                # throttling, so it is not the API's error mapping.
                raise InvalidRequestError(
                    f"{response.status_code}: the batch results URL was refused "
                    "(expired or removed)",
                    status=response.status_code,
                    title="Batch Results Unavailable",
                    operation=operation,
                )
            return response

        response = await self.retry.run(attempt, idempotent=True, operation=operation)
        return response.content


def _parse_success(response: httpx.Response, *, operation: str) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ServerError(
            f"{response.status_code}: Mailchimp answered with a non-JSON body",
            status=response.status_code,
            title="Unexpected Response",
            detail=f"content type {response.headers.get('content-type', 'unknown')}",
            request_id=response.headers.get("x-request-id"),
            operation=operation,
        ) from None
