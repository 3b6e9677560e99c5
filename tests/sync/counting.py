"""Per-address accounting of batch subscribe, seen from the emulator's side.

`WriteCounter` wraps the emulator's ASGI app. For every `POST /3.0/lists/{id}`
it counts, per lowercased address, the entries chimplink *sent* and the
members Mailchimp reported as *applied* (created or updated). It counts as
the response leaves the app, so a client killed mid-request still has its
write counted.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BATCH_PATH = re.compile(r"^(/[a-z0-9]+)?/3\.0/lists/[^/]+/?$")


class WriteCounter:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.sent: Counter[str] = Counter()
        self.applied: Counter[str] = Counter()
        self.calls = 0

    def __getattr__(self, name: str) -> Any:  # behave like the wrapped app (serve() reads .app)
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not _BATCH_PATH.match(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.calls += 1
        try:
            for member in json.loads(body).get("members", []):
                self.sent[str(member.get("email_address", "")).strip().lower()] += 1
        except ValueError:
            pass
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        chunks: list[bytes] = []

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    self._applied(b"".join(chunks))
            await send(message)

        await self.app(scope, replayed, counted)

    def _applied(self, body: bytes) -> None:
        try:
            parsed = json.loads(body)
        except ValueError:
            return
        if not isinstance(parsed, dict):
            return
        for key in ("new_members", "updated_members"):
            for member in parsed.get(key) or []:
                self.applied[str(member.get("email_address", "")).lower()] += 1
