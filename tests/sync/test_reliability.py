"""Crashes and faults: a cancelled run resumes where it stopped; 10% faults converge exactly.

"Sent" is counted on the emulator's side (`WriteCounter`): per address, the
batch-subscribe entries received and the members Mailchimp reported as
created or updated ("applied"). The bound checked after an interruption:
every contact applied at most twice, and received at most three times — a
contact whose *create* was in flight is sent again as a create, answered
"already a member" without any change, then sent as an update.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chimplink.platforms import Consent, Contact
from chimplink.store.crypto import TokenCipher
from chimplink.store.sync_state import RecordOutcome, RunStatus, count_records, list_runs
from chimplink.sync import Progress, SyncOptions, SyncReport
from tests.store.helpers import Db
from tests.sync.conftest import Env, RecordingTransport, new_env, no_sleep
from tests.sync.counting import WriteCounter


@pytest.fixture
async def counted_env(db: Db, cipher: TokenCipher) -> AsyncIterator[tuple[Env, WriteCounter]]:
    """An environment whose emulator counts batch-subscribe entries per address."""
    async for env in new_env(db, cipher, latency_ms=5.0):
        counter = WriteCounter(env.app)
        env.transport = RecordingTransport(httpx.ASGITransport(app=counter))
        yield env, counter


def populate(env: Env, count: int) -> None:
    for n in range(count):
        env.connector.put(
            f"c{n:05d}",
            f"pat.lane{n}@bakery-customers.com",
            consent=Consent.GRANTED if n % 10 else Consent.WITHDRAWN,
            fields={"first_name": "Pat", "last_name": f"Lane{n}", "city": f"Town{n % 7}"},
            labels={"even" if n % 2 == 0 else "odd"} | ({"seven"} if n % 7 == 0 else set()),
        )


def expected(contacts: list[Contact]) -> dict[str, tuple[str, str, str, frozenset[str]]]:
    return {
        c.email.lower(): (
            "subscribed" if c.consent is Consent.GRANTED else "transactional",
            str(c.fields["last_name"]),
            str(c.fields["city"]),
            frozenset(c.labels),
        )
        for c in contacts
    }


async def audience(env: Env) -> dict[str, tuple[str, str, str, frozenset[str]]]:
    return {
        email: (
            m["status"],
            m["merge_fields"]["LNAME"],
            m["merge_fields"]["CITY"],
            frozenset(t["name"] for t in m["tags"]),
        )
        for email, m in (await env.members()).items()
    }


async def test_cancelled_run_resumes_without_loss_or_repeats(
    counted_env: tuple[Env, WriteCounter],
) -> None:
    env, counter = counted_env
    populate(env, 4_000)
    env.options = SyncOptions(sleep=no_sleep, retry_delay=0.0, max_in_flight=3)
    halfway = asyncio.Event()

    def watch(update: Progress) -> None:
        if update.done >= 1_500:
            halfway.set()

    task = asyncio.create_task(env.sync(progress=watch))
    await halfway.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    first_pass = sum(counter.sent.values())
    assert first_pass < 4_000  # really interrupted

    report = await env.sync()

    assert report.status is RunStatus.COMPLETED, report.message
    assert report.created + report.updated + report.unchanged == report.read
    assert await audience(env) == expected(env.connector.all())
    assert max(counter.applied.values()) <= 2
    assert max(counter.sent.values()) <= 3
    # at most the chunks in flight at the cancel (3 × 500) were sent again
    assert sum(counter.sent.values()) <= 4_000 + 3 * 500 * 2
    async with env.db.sessions() as session:
        counts = await count_records(session=session, installation_id=env.installation_id)
        runs = await list_runs(session=session, installation_id=env.installation_id)
    assert counts[RecordOutcome.SYNCED] == 4_000
    assert runs[1].status is RunStatus.FAILED
    assert runs[1].message is not None and "cancelled" in runs[1].message


async def _until_complete(env: Env, *, runs: int = 8, **kwargs: Any) -> list[SyncReport]:
    reports = []
    for _ in range(runs):
        report = await env.sync(**kwargs)
        reports.append(report)
        if report.status is RunStatus.COMPLETED:
            return reports
    raise AssertionError(f"no complete run in {runs}: {[r.message for r in reports]}")


@pytest.fixture
async def seeded_env(db: Db, cipher: TokenCipher) -> AsyncIterator[Env]:
    async for env in new_env(db, cipher, seed=20251127):
        yield env


async def test_ten_percent_faults_converge_exactly(seeded_env: Env) -> None:
    env = seeded_env
    populate(env, 1_500)
    env.connector.put("fake", "test@example.com")
    await env.fault_rate(0.1)

    await _until_complete(env)

    # a second round of platform changes, still under faults
    c = env.connector
    for n in range(0, 1_500, 15):
        c.edit(f"c{n:05d}", fields={"city": "Moved"}, labels={"moved"})
    for n in range(3, 1_500, 150):
        c.edit(f"c{n:05d}", email=f"pat.renamed{n}@bakery-customers.com")
    reports = await _until_complete(env)

    await env.fault_rate(0.0)
    stats = (await env.http.get("/_emulator/stats")).json()["accounts"][env.account_id]
    assert sum(stats["faults"].values()) >= 5  # faults really were injected
    assert await audience(env) == expected([x for x in c.all() if x.key != "fake"])
    assert reports[-1].status is RunStatus.COMPLETED
    async with env.db.sessions() as session:
        counts = await count_records(session=session, installation_id=env.installation_id)
    assert counts[RecordOutcome.SYNCED] == 1_500
    assert counts[RecordOutcome.PARKED] == 1  # the fake address
