"""kill -9 the push process four times during a 300-photo push, restart it until it
completes: every photo is in Mailchimp exactly once (the emulator's listing), none lost.

The child (`kill_child.py`) pushes the demo platform's photos into a served
emulator with a SQLite store file, printing how many photos it has uploaded;
the parent SIGKILLs it once that passes a threshold drawn at random (seeded).
With ten uploads in flight and the emulator's latency spent *after* it has
stored a file, a kill leaves files in Mailchimp whose upload chimplink never
saw confirmed: the next run must find them in the folder, not upload them again.
"""

from __future__ import annotations

import asyncio
import queue
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from chimplink.emulator import create_app
from chimplink.emulator.testing import serve
from chimplink.platforms.demo import DemoPlatform
from chimplink.store.crypto import TokenCipher
from chimplink.store.db import make_engine, make_session_factory
from chimplink.store.files import UploadStatus, count_uploads, list_file_runs
from chimplink.store.migrate import upgrade
from chimplink.sync.files import token
from tests.store.helpers import Db, connect

CHILD = Path(__file__).with_name("kill_child.py")
ROOT = Path(__file__).resolve().parents[2]
PHOTOS = 300
KILLS = 4
LINE_TIMEOUT = 60.0

pytestmark = [pytest.mark.served, pytest.mark.slow]


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str | None]:
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def run_child(arguments: list[str], *, kill_at: int | None) -> tuple[str, int]:
    """Run the child until it prints `done` or has uploaded `kill_at` photos (then SIGKILL).

    Returns ("killed" | "done <status>" | "exited", photos uploaded by this run).
    """
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines = _lines(proc)
    uploaded = 0
    try:
        while True:
            line = lines.get(timeout=LINE_TIMEOUT)
            if line is None:
                proc.wait(timeout=10)
                return "exited", uploaded
            if line.startswith("uploaded "):
                uploaded = int(line.split()[1])
                if kill_at is not None and uploaded >= kill_at:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=10)
                    assert proc.returncode == -signal.SIGKILL
                    return "killed", uploaded
            elif line.startswith("done "):
                proc.wait(timeout=30)
                return line, uploaded
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


async def _prepare(url: str, account_id: str, platform: Path) -> tuple[str, dict[str, str]]:
    """The installation, and the token each photo's file must carry in its name."""
    engine = make_engine(url)
    try:
        db = Db(url=url, engine=engine, sessions=make_session_factory(engine))
        saved = await connect(db, TokenCipher([TokenCipher.generate_key()]), account_id=account_id)
    finally:
        await engine.dispose()
    async with await DemoPlatform.create(platform, contacts=0, photos=PHOTOS, seed=11) as demo:
        photos = await demo.photos.find(limit=PHOTOS)
    expected = {token(p.key, p.content_hash or ""): p.key for p in photos}
    return saved.installation.id, expected


async def _state(url: str, installation_id: str) -> tuple[dict[UploadStatus, int], list[Any]]:
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        async with sessions() as session:
            counts = await count_uploads(session=session, installation_id=installation_id)
            runs = await list_file_runs(session=session, installation_id=installation_id, limit=50)
        return counts, runs
    finally:
        await engine.dispose()


def _files(http: httpx.Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = http.get(
            "/3.0/file-manager/files",
            params={"count": 1000, "offset": len(found)},
            headers=headers,
        ).json()
        found += page["files"]
        if not page["files"] or len(found) >= page["total_items"]:
            return found


def test_kill_9_during_a_push_then_every_photo_is_in_mailchimp_once(tmp_path: Path) -> None:
    app = create_app(latency_ms=60)
    with serve(app) as served, httpx.Client(base_url=served.url, timeout=60) as http:
        info = http.post("/_emulator/accounts", json={"account_name": "Kill Photos"}).json()
        headers = {"Authorization": f"Bearer {info['api_key']}"}
        database = f"sqlite+aiosqlite:///{tmp_path / 'chimplink.db'}"
        upgrade(database)
        platform = tmp_path / "demo.db"
        installation_id, expected = asyncio.run(_prepare(database, info["account_id"], platform))
        arguments = [
            "--database", database,
            "--api", served.url,
            "--token", info["access_token"],
            "--installation", installation_id,
            "--platform", str(platform),
        ]  # fmt: skip

        rng = random.Random(20251128)
        for _ in range(KILLS):
            outcome, uploaded = run_child(arguments, kill_at=rng.randint(15, 65))
            assert outcome == "killed", (outcome, uploaded)
        for _ in range(3):
            outcome, _ = run_child(arguments, kill_at=None)
            if outcome == "done completed":
                break
        assert outcome == "done completed"
        files = _files(http, headers)
        stats = http.get("/_emulator/stats").json()["accounts"][info["account_id"]]

    tokens = Counter(f["name"].rsplit(".", 1)[0].rsplit("-", 1)[1] for f in files)
    assert set(tokens) == set(expected)  # none lost
    assert max(tokens.values()) == 1  # none twice
    assert len(files) == PHOTOS
    assert len({f["folder_id"] for f in files}) == 1
    posts = sum(stats["requests"]["POST /file-manager/files"].values())
    assert posts == PHOTOS  # an unconfirmed upload was found, never sent twice
    assert sum(stats["requests"]["POST /file-manager/folders"].values()) == 1
    counts, runs = asyncio.run(_state(database, installation_id))
    assert counts[UploadStatus.UPLOADED] == PHOTOS
    assert counts[UploadStatus.PENDING] == 0
    assert runs[0].status.value == "completed"
    interrupted = [r for r in runs if r.message and r.message.startswith("Interrupted")]
    assert len(interrupted) == KILLS
    assert sum(r.counts.get("reconciled", 0) for r in runs) > 0  # the kills did cut uploads
