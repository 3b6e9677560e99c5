"""2,000 member upserts against the emulator at a 10% fault rate, in-process and served.

The issue's "Done when": the run finishes with every member correct, and the
emulator's stats show that the account never had more requests in flight than
our limiter allows and that no 429 was caused by our own concurrency. The
emulator serves two kinds of 429: injected *bare* ones (no body, "Mailchimp
under heavy load") and the connection limit's problem+json "Too Many
Requests", which it also counts as `throttled`. Only the second kind would be
our fault. The control test shows the check can fail: a limiter wider than the
account's connection limit does get throttled.

Setup (account, audience, pre-existing members) runs before faults are
switched on; the faults are switched off again before members are read back.
Run-time settings are restored afterwards, because the served emulator is
shared by the whole session. Retries never really sleep.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from chimplink.mailchimp import (
    CallRecorder,
    LocalLimiter,
    MailchimpClient,
    MailchimpError,
    Member,
    RetryPolicy,
)
from tests.conftest import Account, Emulator

COUNT = 2000
LIMIT = 5
PRE_EXISTING = 200  # members m0..m199 exist, unsubscribed, before the run
PUT_MEMBER = "PUT /lists/{list_id}/members/{subscriber_hash}"

CONTACT = {
    "company": "Bakery",
    "address1": "1 Main St",
    "city": "Atlanta",
    "state": "GA",
    "zip": "30308",
    "country": "US",
}
DEFAULTS = {
    "from_name": "Bakery",
    "from_email": "news@bakery.example",
    "subject": "News",
    "language": "en",
}


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


# At a 10% fault rate, 12 attempts leave a member unwritten with odds of ~1e-12.
FAST_RETRIES = RetryPolicy(sleep=_no_sleep, max_attempts=12, deadline=None)


@dataclass
class Observed:
    """Every 403/429 response the client received, with its body."""

    refusals: list[tuple[int, bytes]] = field(default_factory=list)

    def bodies(self, status: int) -> list[bytes]:
        return [body for code, body in self.refusals if code == status]


@asynccontextmanager
async def observed_http(emulator: Emulator) -> AsyncIterator[tuple[httpx.AsyncClient, Observed]]:
    """An http client on the emulator (same mode as the fixture) that records refusals."""
    observed = Observed()

    async def on_response(response: httpx.Response) -> None:
        if response.status_code in (403, 429):
            await response.aread()
            observed.refusals.append((response.status_code, response.content))

    transport = httpx.ASGITransport(app=emulator.app) if emulator.mode == "inprocess" else None
    async with httpx.AsyncClient(
        transport=transport,
        base_url=emulator.base_url,
        timeout=30,
        event_hooks={"response": [on_response]},
    ) as http:
        yield http, observed


@asynccontextmanager
async def run_time_config(http: httpx.AsyncClient, **changes: Any) -> AsyncIterator[None]:
    """Apply `/_emulator/config` changes; put the previous values back afterwards."""
    before = (await http.get("/_emulator/stats")).json()["config"]
    (await http.post("/_emulator/config", json=changes)).raise_for_status()
    try:
        yield
    finally:
        restore = {name: before[name] for name in changes}
        if "max_connections" in restore:
            restore["max_connections"] = int(restore["max_connections"])
        (await http.post("/_emulator/config", json=restore)).raise_for_status()


async def account_stats(http: httpx.AsyncClient, account_id: str) -> dict[str, Any]:
    stats: dict[str, Any] = (await http.get("/_emulator/stats")).json()["accounts"][account_id]
    return stats


def served_429s(stats: dict[str, Any]) -> int:
    return sum(by_status.get("429", 0) for by_status in stats["requests"].values())


def make_client(
    http: httpx.AsyncClient,
    account: Account,
    *,
    limiter: LocalLimiter,
    observer: CallRecorder | None = None,
) -> MailchimpClient:
    return MailchimpClient(
        access_token=account.token,
        base_url=str(http.base_url),
        http_client=http,
        limiter=limiter,
        retry=FAST_RETRIES,
        observer=observer,
        account_key=str(account.info["account_id"]),
    )


def email(i: int) -> str:
    return f"m{i}@example.com"


async def upsert_all(
    client: MailchimpClient, list_id: str, count: int
) -> list[Member | BaseException]:
    """Upsert m0..m{count-1} concurrently; the limiter alone bounds what is in flight."""
    return await asyncio.gather(
        *(
            client.lists.members.upsert(
                list_id,
                email(i),
                status_if_new="subscribed",
                merge_fields={"FNAME": f"First{i}", "LNAME": f"Last{i}"},
            )
            for i in range(count)
        ),
        return_exceptions=True,
    )


# ~15 s per mode, about half of it the emulator's 1.5 s "slow response" faults,
# whose length /_emulator/config cannot change.
@pytest.mark.slow
async def test_2000_upserts_under_10pct_faults_converge_within_the_limit(
    emulator: Emulator,
) -> None:
    account = await emulator.account("Faults")
    account_id = str(account.info["account_id"])
    async with observed_http(emulator) as (http, observed):
        limiter = LocalLimiter(limit=LIMIT)
        recorder = CallRecorder()
        client = make_client(http, account, limiter=limiter, observer=recorder)

        # Fault-free setup: the audience, and members who unsubscribed earlier
        # (status_if_new must not subscribe them again; their names still change).
        audience = await client.lists.create(
            name="Customers",
            contact=CONTACT,
            permission_reminder="You bought bread from us.",
            campaign_defaults=DEFAULTS,
        )
        earlier = await client.lists.batch_subscribe(
            audience.id,
            [
                {
                    "email_address": email(i),
                    "status": "unsubscribed",
                    "merge_fields": {"FNAME": "Old", "LNAME": "Name"},
                }
                for i in range(PRE_EXISTING)
            ],
            update_existing=True,
        )
        assert len(earlier.created) == PRE_EXISTING
        setup_calls = len(recorder.calls)
        assert (await account_stats(http, account_id))["faults"] == {}

        # A millisecond of latency makes requests overlap in-process too.
        async with run_time_config(http, fault_rate=0.1, latency_ms=1):
            results = await upsert_all(client, audience.id, COUNT)
            during = await account_stats(http, account_id)

        failures = [r for r in results if isinstance(r, BaseException)]
        assert failures == [], f"{len(failures)} upserts failed, first: {failures[:1]!r}"
        returned = [r for r in results if isinstance(r, Member)]
        assert [m.email_address for m in returned] == [email(i) for i in range(COUNT)]

        # Read everything back, fault-free, page by page through the client.
        stored = {
            m.email_address: (m.status, m.merge_fields.get("FNAME"), m.merge_fields.get("LNAME"))
            async for m in client.lists.members.iterate(audience.id, page_size=300)
        }
        paging_calls = [c for c in recorder.calls[setup_calls:] if c.operation.startswith("GET ")]

    expected = {
        email(i): (
            "unsubscribed" if i < PRE_EXISTING else "subscribed",
            f"First{i}",
            f"Last{i}",
        )
        for i in range(COUNT)
    }
    assert len(stored) == COUNT
    assert stored == expected
    assert len(paging_calls) == 7  # 6 full pages of 300 and one of 200

    # Faults of every kind were injected, and the client retried through them.
    faults = during["faults"]
    assert sum(faults.values()) > 0.05 * COUNT
    assert {"503", "429", "403", "500", "reset"} <= set(faults)
    puts = [c for c in recorder.calls[setup_calls:] if c.operation == PUT_MEMBER]
    assert len(puts) > COUNT
    assert sum(c.status == 200 for c in puts) >= COUNT

    # Never more in flight than the limiter allows, and the limiter was saturated.
    assert during["peak_concurrent_requests"] <= LIMIT
    assert during["peak_concurrent_requests"] >= 2
    assert limiter.peak(account_id) == LIMIT

    # No 429 caused by our concurrency: nothing throttled, and every 429 the
    # emulator served (and the client received) was an injected, bodiless one.
    assert during["throttled"] == 0
    assert served_429s(during) == faults["429"]
    bare = observed.bodies(429)
    assert len(bare) == faults["429"]
    assert all(body == b"" for body in bare)
    assert all(body == b"" for body in observed.bodies(403))


async def test_a_limiter_wider_than_the_accounts_limit_gets_throttled(emulator: Emulator) -> None:
    """The control: the same run with 10 slots against an account allowed 3 connections."""
    account = await emulator.account("Throttled")
    account_id = str(account.info["account_id"])
    async with observed_http(emulator) as (http, observed):
        client = make_client(http, account, limiter=LocalLimiter(limit=10))
        audience = await client.lists.create(
            name="Customers",
            contact=CONTACT,
            permission_reminder="You bought bread from us.",
            campaign_defaults=DEFAULTS,
        )
        # 20 ms of latency keeps requests in flight long enough to overlap even
        # when the client, not the emulator, is the slower side (served mode).
        async with run_time_config(http, max_connections=3, latency_ms=20):
            results = await upsert_all(client, audience.id, 120)
            stats = await account_stats(http, account_id)

    # Retries that never wait may give up; only non-throttling errors would be a surprise.
    unexpected = [
        r
        for r in results
        if isinstance(r, BaseException) and not (isinstance(r, MailchimpError) and r.status == 429)
    ]
    assert unexpected == []
    assert stats["throttled"] > 0
    assert stats["peak_concurrent_requests"] <= 3
    assert stats["faults"] == {}
    # Each of these 429s is the connection limit's, with its problem body.
    limited = observed.bodies(429)
    assert len(limited) == stats["throttled"] == served_429s(stats)
    assert all(json.loads(body)["title"] == "Too Many Requests" for body in limited)
