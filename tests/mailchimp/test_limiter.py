"""The per-account limiter: never more than N in flight, shared by every task."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from chimplink.mailchimp import ConcurrencyLimiter, LocalLimiter, RetryPolicy
from tests.mailchimp.conftest import Harness, json_response


class Gauge:
    """Counts concurrent holders inside a block and remembers the peak."""

    def __init__(self) -> None:
        self.current = 0
        self.peak = 0

    async def hold(self, turns: int = 5) -> None:
        self.current += 1
        self.peak = max(self.peak, self.current)
        for _ in range(turns):  # yield to other tasks without sleeping
            await asyncio.sleep(0)
        self.current -= 1


async def test_peak_concurrency_never_exceeds_the_limit() -> None:
    limiter = LocalLimiter(limit=4)
    gauge = Gauge()

    async def task() -> None:
        async with limiter.slot("acct"):
            await gauge.hold()

    await asyncio.gather(*(task() for _ in range(200)))
    assert gauge.peak == 4
    assert limiter.peak("acct") == 4
    assert limiter.in_flight("acct") == 0


async def test_accounts_do_not_share_slots() -> None:
    limiter = LocalLimiter(limit=2)
    gauges = {"a": Gauge(), "b": Gauge()}

    async def task(key: str) -> None:
        async with limiter.slot(key):
            await gauges[key].hold()

    await asyncio.gather(*(task(k) for k in ("a", "b") * 50))
    assert gauges["a"].peak == 2
    assert gauges["b"].peak == 2


async def test_idle_accounts_are_forgotten() -> None:
    limiter = LocalLimiter()
    async with limiter.slot("acct"):
        assert limiter.in_flight("acct") == 1
    assert limiter._gates == {}
    assert limiter.in_flight("acct") == 0


async def test_a_slot_is_released_when_the_block_raises() -> None:
    limiter = LocalLimiter(limit=1)
    with pytest.raises(RuntimeError):
        async with limiter.slot("acct"):
            raise RuntimeError("boom")
    async with limiter.slot("acct"):  # would deadlock if the slot leaked
        pass


@pytest.mark.parametrize("limit", [0, 11])
def test_limit_must_be_between_one_and_mailchimps_ten(limit: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 10"):
        LocalLimiter(limit=limit)


def test_local_limiter_satisfies_the_protocol() -> None:
    assert isinstance(LocalLimiter(), ConcurrencyLimiter)


async def test_every_request_of_every_client_for_an_account_takes_a_slot(
    harness: Harness,
) -> None:
    """Many tasks on two clients of one account, sharing one limiter: ≤ limit at the server."""
    limiter = LocalLimiter(limit=3)
    gauge = Gauge()

    async def handler(request: httpx.Request) -> httpx.Response:
        await gauge.hold()
        return json_response({"health_status": "ok"})

    first = harness.client(handler, limiter=limiter, account_key="acct-1")
    second = harness.client(handler, limiter=limiter, account_key="acct-1")
    await asyncio.gather(*(c.ping() for c in (first, second) * 40))
    assert gauge.peak == 3
    assert len(harness.requests) == 80


async def test_slots_are_not_held_while_waiting_to_retry(harness: Harness) -> None:
    """A task backing off must not keep a slot other tasks could use."""
    limiter = LocalLimiter(limit=1)
    held_during_sleep: list[int] = []

    async def sleep(seconds: float) -> None:
        held_during_sleep.append(limiter.in_flight("acct"))

    answers = iter([httpx.Response(429), json_response({"health_status": "ok"})])
    client = harness.client(
        lambda request: next(answers),
        limiter=limiter,
        account_key="acct",
        retry=RetryPolicy(sleep=sleep),
    )
    await client.ping()
    assert held_during_sleep == [0]
