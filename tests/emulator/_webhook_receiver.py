"""A tiny real webhook receiver for the real-client tests.

Mailchimp validates a webhook URL with a GET before saving it and then POSTs
form-encoded deliveries (REFERENCE.md §4.1, §12). The emulator does the same
over the network, so the receiver must be a real HTTP server: a
`ThreadingHTTPServer` on 127.0.0.1 in a background thread that answers 200 to
everything and remembers what it was sent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent", "")


@dataclass
class WebhookReceiver:
    host: str
    port: int
    _received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def record(self, request: Received) -> None:
        with self._lock:
            self._received.append(request)

    def received(self, method: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._received if method is None or r.method == method]


@contextmanager
def webhook_receiver(host: str = "127.0.0.1") -> Iterator[WebhookReceiver]:
    """Serve on a free port (port 0) until the block ends."""
    receiver: WebhookReceiver | None = None

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            assert receiver is not None
            headers = {name.lower(): value for name, value in self.headers.items()}
            receiver.record(Received(self.command, self.path, headers, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        # The validator's GET and the deliveries' POSTs both get 200.
        do_GET = _answer
        do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    receiver = WebhookReceiver(host, server.server_address[1])
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},  # a quick shutdown()
        name="webhook-receiver",
        daemon=True,
    )
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
