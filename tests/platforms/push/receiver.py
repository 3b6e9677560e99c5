"""A platform's webhook endpoint for the tests: a real HTTP server on 127.0.0.1.

It answers `fail_with` to the first `failures` requests, then `status`, and
keeps every request it got, so tests see exactly what chimplink sent, over a
real socket, through the same client code as in production.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    host: str
    port: int
    failures: int = 0
    fail_with: int = 500
    status: int = 204
    delay: float = 0.0  # seconds before answering
    _received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hooks/chimplink") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def answer(self, request: Received) -> int:
        with self._lock:
            self._received.append(request)
            return self.fail_with if len(self._received) <= self.failures else self.status

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)


@contextmanager
def receiver(**settings: Any) -> Iterator[Receiver]:
    """Serve on a free port until the block ends."""
    made: Receiver | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            assert made is not None
            headers = {name.lower(): value for name, value in self.headers.items()}
            status = made.answer(Received(self.path, headers, body))
            time.sleep(made.delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    made = Receiver("127.0.0.1", server.server_address[1], **settings)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield made
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
