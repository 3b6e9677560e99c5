"""Helpers for testing against the emulator, shipped with it (as structlog ships `testing`).

    with serve(create_app()) as served:          # a real socket, uvicorn in a thread
        httpx.get(f"{served.url}/3.0/ping", ...)

`Control` wraps the control plane for either an in-process or a served emulator.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from chimplink.emulator.app import EmulatorApp


class _DropInjectedResets(logging.Filter):
    """uvicorn logs every exception an app raises; injected resets are expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, httpx.RemoteProtocolError)


def quiet_injected_resets() -> None:
    logging.getLogger("uvicorn.error").addFilter(_DropInjectedResets())


@dataclass
class ServedEmulator:
    app: EmulatorApp
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(
    app: EmulatorApp, *, host: str = "127.0.0.1", port: int | None = None
) -> Iterator[ServedEmulator]:
    """Serve `app` with uvicorn on a real socket in a background thread."""
    quiet_injected_resets()
    chosen = port or free_port(host)
    config = uvicorn.Config(
        app,
        host=host,
        port=chosen,
        log_level="warning",
        lifespan="on",
        backlog=2048,
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"emulator:{chosen}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the emulator did not start")
        time.sleep(0.01)
    try:
        yield ServedEmulator(app, host, chosen)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Control:
    """The control plane over HTTP (works the same in-process and served)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self.client.post(f"/_emulator{path}", json=body or {})
        response.raise_for_status()
        return response.json() if response.content else None

    async def create_account(
        self, account_name: str = "Emulated Co", **extra: Any
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._post(
            "/accounts", {"account_name": account_name, **extra}
        )
        return result

    async def create_oauth_client(
        self, client_id: str, client_secret: str, redirect_uris: list[str]
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._post(
            "/oauth-clients",
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": redirect_uris,
            },
        )
        return result

    async def revoke(self, access_token: str) -> None:
        await self._post("/tokens/revoke", {"access_token": access_token})

    async def stats(self) -> dict[str, Any]:
        response = await self.client.get("/_emulator/stats")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def reset(self) -> None:
        await self._post("/reset")

    async def action(self, list_id: str, subscriber_hash: str, **body: Any) -> Any:
        return await self._post(f"/lists/{list_id}/members/{subscriber_hash}/actions", body)
