"""Fixtures shared by every test: the emulator, in-process and served.

`emulator` is parametrised: each test that uses it runs twice, once through
`httpx.ASGITransport` (in-process) and once over a real socket served by
uvicorn. Tests speak HTTP only (API + control plane), so both modes are equal.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import settings

from chimplink.emulator import EmulatorApp, create_app
from chimplink.emulator.testing import Control, ServedEmulator, serve

# CI runs the property tests with a fixed seed sequence: a failure there is
# reproducible from the log, and a green run means the same thing every time.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@dataclass
class Emulator:
    """One emulator under test: its app, an HTTP client on it, and its control plane."""

    app: EmulatorApp
    client: httpx.AsyncClient
    base_url: str
    mode: str

    @property
    def control(self) -> Control:
        return Control(self.client)

    async def account(self, name: str = "Emulated Co", **extra: Any) -> Account:
        created = await self.control.create_account(name, **extra)
        return Account(self, created)


@dataclass
class Account:
    """A control-plane account with an API client authenticated as it."""

    emulator: Emulator
    info: dict[str, Any]

    @property
    def token(self) -> str:
        return str(self.info["access_token"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.emulator.client.request(method, f"/3.0{path}", headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)


@pytest.fixture(scope="session")
def served_app() -> Iterator[ServedEmulator]:
    with serve(create_app()) as served:
        yield served


@pytest.fixture(params=["inprocess", "served"])
async def emulator(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    if request.param == "inprocess":
        app = create_app()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://mailchimp.test"
        ) as client:
            yield Emulator(app, client, "http://mailchimp.test", "inprocess")
        await app.aclose()
    else:
        served: ServedEmulator = request.getfixturevalue("served_app")
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
            await Control(client).reset()
            yield Emulator(served.app, client, served.url, "served")


@pytest.fixture
async def account(emulator: Emulator) -> Account:
    return await emulator.account()
