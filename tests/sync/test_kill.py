"""kill -9 the sync process at 5 random points of a 20,000-contact run, restart it until
it completes: the audience is exactly what the platform says, and no contact was
written more than twice.

The child (`kill_child.py`) syncs into a served emulator with a SQLite store
file and prints each committed checkpoint; the parent SIGKILLs it once the
checkpoint passes a threshold. The five thresholds are drawn at random (seeded)
at least `GAP` contacts apart, more than the window of chunks a run has in
flight, so each kill interrupts a different window; a contact is then in
flight at one kill at most.

What "sent" means (counted by the emulator, `WriteCounter`): a contact whose
create was in flight when the process died was applied once by Mailchimp; the
next run sends it as a create again (answered "already a member", nothing
changes) and then as an update. So per contact: applied ≤ 2 and received ≤ 3,
and all in all at most 5 kills × `IN_FLIGHT` chunks of 500 are sent again.
"""

from __future__ import annotations

import asyncio
import queue
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from chimplink.emulator import create_app
from chimplink.emulator.testing import serve
from chimplink.store.crypto import TokenCipher
from chimplink.store.db import make_engine, make_session_factory
from chimplink.store.migrate import upgrade
from chimplink.store.sync_config import save_sync_config
from chimplink.store.sync_state import RecordOutcome, count_records, list_runs
from tests.store.helpers import Db, connect
from tests.sync.conftest import LIST_BODY
from tests.sync.counting import WriteCounter
from tests.sync.kill_child import contact

CHILD = Path(__file__).with_name("kill_child.py")
ROOT = Path(__file__).resolve().parents[2]
CONTACTS = 20_000
KILLS = 5
IN_FLIGHT = 4
GAP = (IN_FLIGHT + 2) * 500
LINE_TIMEOUT = 60.0

pytestmark = [pytest.mark.served, pytest.mark.slow]


def thresholds(seed: int) -> list[int]:
    """KILLS checkpoint indexes in [500, CONTACTS - 1500], at least GAP apart, at random."""
    rng = random.Random(seed)
    low, high = 500, CONTACTS - 1_500
    slack = high - low - (KILLS - 1) * GAP
    offsets = sorted(rng.uniform(0, slack) for _ in range(KILLS))
    return [int(low + n * GAP + offset) for n, offset in enumerate(offsets)]


def _lines(proc: subprocess.Popen[str]) -> tuple[queue.Queue[str | None], threading.Thread]:
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.strip())
        lines.put(None)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return lines, thread


def run_child(arguments: list[str], *, kill_at: int | None) -> tuple[str, int]:
    """Run the child until it prints `done` or its checkpoint reaches `kill_at` (then SIGKILL).

    Returns ("killed" | "done <status>" | "exited", last checkpoint index seen).
    """
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines, pump = _lines(proc)
    last = -1
    try:
        while True:
            line = lines.get(timeout=LINE_TIMEOUT)
            if line is None:
                proc.wait(timeout=10)
                return "exited", last
            if line.startswith("checkpoint "):
                last = int(line.split()[1])
                if kill_at is not None and last >= kill_at:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=10)
                    assert proc.returncode == -signal.SIGKILL
                    return "killed", last
            elif line.startswith("done "):
                proc.wait(timeout=30)
                return line, last
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        pump.join(timeout=10)  # the pipe ends with the process
        assert proc.stdout is not None
        proc.stdout.close()


async def _prepare(url: str, account_id: str, list_id: str) -> str:
    engine = make_engine(url)
    try:
        db = Db(url=url, engine=engine, sessions=make_session_factory(engine))
        saved = await connect(db, TokenCipher([TokenCipher.generate_key()]), account_id=account_id)
        installation_id = saved.installation.id
        async with db.sessions.begin() as session:
            await save_sync_config(
                session=session,
                installation_id=installation_id,
                list_id=list_id,
                field_map={"first_name": "FNAME", "last_name": "LNAME", "city": "CITY"},
            )
        return installation_id
    finally:
        await engine.dispose()


async def _state(url: str, installation_id: str) -> tuple[dict[RecordOutcome, int], list[Any]]:
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        async with sessions() as session:
            counts = await count_records(session=session, installation_id=installation_id)
            runs = await list_runs(session=session, installation_id=installation_id, limit=50)
        return counts, runs
    finally:
        await engine.dispose()


def _audience(http: httpx.Client, list_id: str, headers: dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    offset = 0
    while True:
        page = http.get(
            f"/3.0/lists/{list_id}/members",
            params={
                "count": 1000,
                "offset": offset,
                "fields": "members.email_address,members.status,members.merge_fields,"
                "members.tags,total_items",
            },
            headers=headers,
        ).json()
        for member in page["members"]:
            found[member["email_address"]] = member
        offset += len(page["members"])
        if not page["members"] or offset >= page["total_items"]:
            return found


def test_kill_9_five_times_then_the_audience_is_exact(tmp_path: Path) -> None:
    counter = WriteCounter(create_app())
    with serve(counter) as served, httpx.Client(base_url=served.url, timeout=60) as http:  # type: ignore[arg-type]
        info = http.post("/_emulator/accounts", json={"account_name": "Kill Test"}).json()
        headers = {"Authorization": f"Bearer {info['access_token']}"}
        list_id = http.post("/3.0/lists", json=LIST_BODY, headers=headers).json()["id"]
        database = f"sqlite+aiosqlite:///{tmp_path / 'chimplink.db'}"
        upgrade(database)
        installation_id = asyncio.run(_prepare(database, info["account_id"], list_id))
        arguments = [
            "--database", database,
            "--api", served.url,
            "--token", info["access_token"],
            "--installation", installation_id,
            "--contacts", str(CONTACTS),
            "--in-flight", str(IN_FLIGHT),
        ]  # fmt: skip

        points = thresholds(seed=20251127)
        for point in points:
            outcome, last = run_child(arguments, kill_at=point)
            assert outcome == "killed", (outcome, point, last)
        for _ in range(3):
            outcome, _ = run_child(arguments, kill_at=None)
            if outcome == "done completed":
                break
        assert outcome == "done completed"

        members = _audience(http, list_id, headers)
    expected = {}
    for index in range(CONTACTS):
        c = contact(index)
        expected[c.email] = (
            "subscribed" if index % 10 else "transactional",
            c.fields["last_name"],
            c.fields["city"],
            set(c.labels),
        )
    actual = {
        email: (
            m["status"],
            m["merge_fields"]["LNAME"],
            m["merge_fields"]["CITY"],
            {t["name"] for t in m["tags"]},
        )
        for email, m in members.items()
    }
    assert actual == expected
    assert len(counter.applied) == CONTACTS
    assert max(counter.applied.values()) <= 2
    assert max(counter.sent.values()) <= 3
    resent = sum(counter.sent.values()) - CONTACTS
    assert 0 < resent <= KILLS * IN_FLIGHT * 500 * 2  # the kills did interrupt writes
    counts, runs = asyncio.run(_state(database, installation_id))
    assert counts[RecordOutcome.SYNCED] == CONTACTS
    assert runs[0].status.value == "completed"
    interrupted = [r for r in runs if r.message and r.message.startswith("Interrupted")]
    assert len(interrupted) == KILLS
