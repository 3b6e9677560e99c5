"""Helpers for the client's unit tests: a fake clock, canned responses, clients on MockTransport."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from chimplink.mailchimp import CallRecorder, LocalLimiter, MailchimpClient, RetryPolicy

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]

TOKEN = "tok-3f1c9a0d5e7b-SECRET"
API_KEY = "0123456789abcdef0123456789abcdef-us6"
BASE = "https://api.mailchimp.com/3.0"


@dataclass
class FakeTime:
    """A clock that only moves when something sleeps: retries and polls never really wait."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def problem(
    status: int,
    title: str,
    detail: str = "",
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "inst-1",
    }
    if errors is not None:
        body["errors"] = errors
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/problem+json", **(headers or {})},
    )


def policy(time: FakeTime, **overrides: Any) -> RetryPolicy:
    """A policy on fake time whose jitter always picks the cap (easy to assert)."""
    settings: dict[str, Any] = {
        "sleep": time.sleep,
        "clock": time.clock,
        "jitter": lambda cap: cap,
    }
    settings.update(overrides)
    return RetryPolicy(**settings)


@dataclass
class Harness:
    time: FakeTime
    recorder: CallRecorder
    requests: list[httpx.Request]

    def client(self, handler: Handler, **overrides: Any) -> MailchimpClient:
        requests = self.requests

        async def recording(request: httpx.Request) -> httpx.Response:
            requests.append(request)
            result = handler(request)
            if not isinstance(result, httpx.Response):
                result = await result
            return result

        settings: dict[str, Any] = {
            "access_token": TOKEN,
            "transport": httpx.MockTransport(recording),
            "retry": policy(self.time),
            "observer": self.recorder,
            "limiter": LocalLimiter(),
        }
        settings.update(overrides)
        return MailchimpClient(**settings)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def harness(fake_time: FakeTime) -> Harness:
    return Harness(time=fake_time, recorder=CallRecorder(), requests=[])


def json_response(body: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)
