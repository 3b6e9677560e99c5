"""Fixtures for the File Manager sync: a migrated database (SQLite and PostgreSQL), an
installation, the emulator in-process with one account, the demo platform's photo
library, and helpers to read what Mailchimp holds and how often it was called.
"""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from chimplink.emulator import EmulatorApp, create_app
from chimplink.mailchimp import LocalLimiter, MailchimpClient, RetryPolicy
from chimplink.platforms.demo import DemoConnector, DemoPlatform
from chimplink.store.crypto import TokenCipher
from chimplink.sync.files import FileOptions, FileReport, pull_photos, push_photos
from tests.store.conftest import cipher, database_url, db, postgres_admin
from tests.store.helpers import Db, connect

__all__ = ["cipher", "database_url", "db", "postgres_admin"]

BASE = "http://mailchimp.test"
UPLOAD = "POST /file-manager/files"


async def no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


FAST_RETRIES = RetryPolicy(sleep=no_sleep, max_attempts=6, deadline=None)


def image_bytes(fmt: str, size: tuple[int, int] = (40, 30), color: str = "teal") -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, color)
    if fmt == "GIF":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)
    image.save(out, fmt)
    return out.getvalue()


Intercept = Callable[[httpx.Request, bytes], httpx.Response | None]


class CountingTransport(httpx.AsyncBaseTransport):
    """Delegates to the emulator and counts chimplink's requests by path (file downloads
    are public URLs: the emulator's per-account stats do not see them).

    `intercept`, when set, sees each request (and its body) first and may answer it
    instead of the emulator: how a test plays an answer the emulator never gives.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: Counter[str] = Counter()
        self.intercept: Intercept | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths[f"{request.method} {request.url.path}"] += 1
        if self.intercept is not None:
            answer = self.intercept(request, await request.aread())
            if answer is not None:
                return answer
        return await self.inner.handle_async_request(request)

    def downloads(self) -> int:
        return sum(n for path, n in self.paths.items() if path.startswith("GET /files/"))


@dataclass
class FilesEnv:
    db: Db
    app: EmulatorApp
    http: httpx.AsyncClient
    transport: CountingTransport
    token: str
    api_key: str
    account_id: str
    installation_id: str
    platform: DemoPlatform

    @property
    def library(self) -> DemoConnector:
        return self.platform.connector()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def client(self, **overrides: Any) -> MailchimpClient:
        settings: dict[str, Any] = {
            "access_token": self.token,
            "base_url": BASE,
            "transport": self.transport,
            "retry": FAST_RETRIES,
            "limiter": LocalLimiter(),
            "account_key": self.installation_id,
        }
        settings.update(overrides)
        return MailchimpClient(**settings)

    async def push(self, **kwargs: Any) -> FileReport:
        kwargs.setdefault("options", FileOptions(workers=4))
        async with self.client() as client:
            return await push_photos(
                sessions=self.db.sessions,
                installation_id=self.installation_id,
                client=client,
                library=kwargs.pop("library", self.library),
                **kwargs,
            )

    async def pull(self, **kwargs: Any) -> FileReport:
        kwargs.setdefault("options", FileOptions(workers=4))
        async with self.client() as client:
            return await pull_photos(
                sessions=self.db.sessions,
                installation_id=self.installation_id,
                client=client,
                library=kwargs.pop("library", self.library),
                **kwargs,
            )

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, f"/3.0{path}", headers=self.headers, **kwargs)

    async def files(self, folder_id: int | None = None) -> list[dict[str, Any]]:
        """Every file in the File Manager (of one folder), in upload order."""
        path = (
            "/file-manager/files"
            if folder_id is None
            else f"/file-manager/folders/{folder_id}/files"
        )
        found: list[dict[str, Any]] = []
        while True:
            page = (
                await self.api("GET", path, params={"count": 1000, "offset": len(found)})
            ).json()
            found += page["files"]
            if not page["files"] or len(found) >= page["total_items"]:
                return found

    async def folders(self) -> list[dict[str, Any]]:
        listed = await self.api("GET", "/file-manager/folders", params={"count": 1000})
        return list(listed.json()["folders"])

    async def calls(self) -> Counter[str]:
        """Requests the emulator answered for the account, by operation (any status)."""
        stats = (await self.http.get("/_emulator/stats")).json()
        requests = stats["accounts"].get(self.account_id, {}).get("requests", {})
        return Counter({op: sum(statuses.values()) for op, statuses in requests.items()})

    async def fault(self, kind: str, *, operation: str = UPLOAD, count: int = 1) -> None:
        response = await self.http.post(
            "/_emulator/faults",
            json={
                "operation": operation,
                "fault": kind,
                "count": count,
                "account_id": self.account_id,
            },
        )
        assert response.status_code == 200, response.text

    async def upload_direct(self, name: str, data: bytes) -> dict[str, Any]:
        """A file the user put in the File Manager themselves (not through chimplink)."""
        import base64

        response = await self.api(
            "POST",
            "/file-manager/files",
            json={"name": name, "file_data": base64.b64encode(data).decode()},
        )
        assert response.status_code == 200, response.text
        return dict(response.json())


async def new_env(
    db: Db, cipher: TokenCipher, directory: Path, **platform: Any
) -> AsyncIterator[FilesEnv]:
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        info = (
            await http.post("/_emulator/accounts", json={"account_name": "Photo Editor"})
        ).json()
        saved = await connect(db, cipher, account_id=info["account_id"])
        demo = await DemoPlatform.create(directory / "demo.db", contacts=0, **platform)
        try:
            yield FilesEnv(
                db=db,
                app=app,
                http=http,
                transport=CountingTransport(transport),
                token=info["access_token"],
                api_key=info["api_key"],
                account_id=info["account_id"],
                installation_id=saved.installation.id,
                platform=demo,
            )
        finally:
            await demo.aclose()
    await app.aclose()


@pytest.fixture
async def env(db: Db, cipher: TokenCipher, tmp_path: Path) -> AsyncIterator[FilesEnv]:
    async for made in new_env(db, cipher, tmp_path, photos=9):
        yield made
