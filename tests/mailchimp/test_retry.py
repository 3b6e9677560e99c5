"""RetryPolicy: what is retried, full-jitter bounds, attempts, deadline, Retry-After.

Every test runs on fake time: the policy's sleep and clock are injected.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chimplink.mailchimp import (
    APIConnectionError,
    AuthenticationError,
    OutcomeUnknownError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    ValidationError,
)
from tests.mailchimp.conftest import FakeTime, Harness, json_response, policy, problem

# -- the backoff itself ------------------------------------------------------------


@given(
    retry_number=st.integers(min_value=0, max_value=200),
    base=st.floats(min_value=0.0, max_value=10.0),
    cap=st.floats(min_value=0.0, max_value=120.0),
    seed=st.integers(),
)
def test_full_jitter_stays_within_zero_and_the_cap(
    retry_number: int, base: float, cap: float, seed: int
) -> None:
    retry = RetryPolicy(base_delay=base, max_delay=cap, rng=random.Random(seed))
    ceiling = min(cap, base * 2.0 ** min(retry_number, 64))
    assert 0.0 <= retry.backoff(retry_number) <= ceiling


def test_jitter_is_full_not_equal() -> None:
    """Full jitter draws from [0, cap]: some waits fall in the lower half (equal jitter never)."""
    retry = RetryPolicy(base_delay=1.0, max_delay=8.0, rng=random.Random(7))
    draws = [retry.backoff(3) for _ in range(200)]
    assert min(draws) < 2.0
    assert max(draws) > 6.0
    assert all(0.0 <= d <= 8.0 for d in draws)


def test_injected_random_makes_waits_reproducible() -> None:
    first = RetryPolicy(rng=random.Random(42))
    second = RetryPolicy(rng=random.Random(42))
    assert [first.backoff(n) for n in range(6)] == [second.backoff(n) for n in range(6)]


def test_jitter_function_is_clamped_to_the_cap() -> None:
    wild = RetryPolicy(base_delay=1.0, max_delay=30.0, jitter=lambda cap: cap * 10)
    negative = RetryPolicy(base_delay=1.0, jitter=lambda cap: -1.0)
    assert wild.backoff(2) == 4.0
    assert negative.backoff(2) == 0.0


def test_exponential_cap_grows_then_flattens() -> None:
    retry = RetryPolicy(base_delay=0.5, max_delay=5.0, jitter=lambda cap: cap)
    assert [retry.backoff(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert retry.backoff(10_000) == 5.0  # no overflow


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_delay": -1.0}, {"max_delay": -1.0}, {"deadline": 0.0}],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_never_makes_one_attempt() -> None:
    assert RetryPolicy.never().max_attempts == 1


# -- what is retried ------------------------------------------------------------------

_THROTTLED = RateLimitError("429", status=429)
_BAD_GATEWAY = ServerError("502", status=502)
_NOT_IMPLEMENTED = ServerError("501", status=501)
_RESET = APIConnectionError("reset", maybe_applied=True)
_REFUSED = APIConnectionError("refused", maybe_applied=False)
_BAD_URL = APIConnectionError("bad url", retryable=False)
_UNKNOWN = OutcomeUnknownError(operation="POST /batches", cause=_BAD_GATEWAY)
_INVALID = ValidationError("400", status=400)
_REVOKED = AuthenticationError("401", status=401)


@pytest.mark.parametrize(
    ("error", "idempotent", "retried"),
    [
        (_THROTTLED, True, True),
        (_THROTTLED, False, True),  # turned away before running: safe for a POST
        (_BAD_GATEWAY, True, True),
        (_BAD_GATEWAY, False, False),
        (_NOT_IMPLEMENTED, True, False),
        (_RESET, True, True),
        (_RESET, False, False),
        (_REFUSED, False, True),  # never left: safe for a POST
        (_BAD_URL, True, False),
        (_UNKNOWN, True, False),
        (_INVALID, True, False),
        (_REVOKED, True, False),
        (ValueError("bug"), True, False),
    ],
)
def test_should_retry(error: Exception, idempotent: bool, retried: bool) -> None:
    assert RetryPolicy().should_retry(error, idempotent=idempotent) is retried


# -- the loop, through the client -------------------------------------------------------


def _sequence(*responses: httpx.Response | Exception):  # type: ignore[no-untyped-def]
    pending = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = pending.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler


async def test_429_then_success_is_retried_with_backoff(harness: Harness) -> None:
    client = harness.client(_sequence(httpx.Response(429), json_response({"health_status": "ok"})))
    ping = await client.ping()
    assert ping.health_status == "ok"
    assert len(harness.requests) == 2
    assert harness.time.sleeps == [0.5]  # base 0.5 · 2^0, jitter pinned to the cap
    assert harness.recorder.statuses() == [429, 200]
    assert [c.attempt for c in harness.recorder.calls] == [1, 2]


async def test_bare_403_is_retried_as_throttling(harness: Harness) -> None:
    client = harness.client(_sequence(httpx.Response(403), json_response({"health_status": "ok"})))
    assert (await client.ping()).health_status == "ok"
    assert len(harness.requests) == 2


async def test_403_with_a_body_is_not_retried(harness: Harness) -> None:
    client = harness.client(_sequence(problem(403, "Forbidden", "role")))
    with pytest.raises(Exception, match="Forbidden"):
        await client.ping()
    assert len(harness.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_on_get_is_retried(harness: Harness, status: int) -> None:
    client = harness.client(
        _sequence(httpx.Response(status), json_response({"health_status": "ok"}))
    )
    assert (await client.ping()).health_status == "ok"


async def test_transport_errors_on_get_are_retried(harness: Harness) -> None:
    client = harness.client(
        _sequence(
            httpx.ReadTimeout("slow"),
            httpx.RemoteProtocolError("dropped"),
            json_response({"health_status": "ok"}),
        )
    )
    assert (await client.ping()).health_status == "ok"
    assert harness.recorder.statuses() == [None, None, 200]
    assert harness.time.sleeps == [0.5, 1.0]


async def test_attempts_are_bounded(harness: Harness) -> None:
    client = harness.client(
        lambda request: httpx.Response(503), retry=policy(harness.time, max_attempts=3)
    )
    with pytest.raises(ServerError) as caught:
        await client.ping()
    assert caught.value.status == 503
    assert len(harness.requests) == 3
    assert harness.time.sleeps == [0.5, 1.0]


async def test_deadline_stops_retrying_before_a_wait_would_cross_it(harness: Harness) -> None:
    # waits would be 1, 2, 4, 8 … ; with a 5 s deadline only 1 + 2 fit (4 would end at 7).
    client = harness.client(
        lambda request: httpx.Response(429),
        retry=policy(harness.time, base_delay=1.0, max_attempts=50, deadline=5.0),
    )
    with pytest.raises(RateLimitError):
        await client.ping()
    assert harness.time.sleeps == [1.0, 2.0]
    assert len(harness.requests) == 3


async def test_deadline_caps_each_attempts_timeout(harness: Harness) -> None:
    seen: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return json_response({"health_status": "ok"})

    client = harness.client(handler, retry=policy(harness.time, deadline=3.0))
    await client.ping()
    assert seen[0]["read"] == pytest.approx(3.0)
    assert seen[0]["connect"] == pytest.approx(3.0)

    unbounded = harness.client(handler, retry=policy(harness.time, deadline=None))
    await unbounded.ping()
    assert seen[1]["read"] == pytest.approx(125.0)
    assert seen[1]["connect"] == pytest.approx(10.0)


async def test_retry_after_is_honoured(harness: Harness) -> None:
    client = harness.client(
        _sequence(
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(503, headers={"Retry-After": "2"}),
            json_response({"health_status": "ok"}),
        )
    )
    await client.ping()
    assert harness.time.sleeps == [7.0, 2.0]


async def test_a_retry_after_beyond_the_limit_ends_retries(harness: Harness) -> None:
    client = harness.client(
        _sequence(httpx.Response(429, headers={"Retry-After": "600"})),
        retry=policy(harness.time, max_retry_after=120.0),
    )
    with pytest.raises(RateLimitError) as caught:
        await client.ping()
    assert caught.value.retry_after == 600.0  # the caller reschedules with it
    assert harness.time.sleeps == []


async def test_a_retry_after_beyond_the_deadline_ends_retries(harness: Harness) -> None:
    client = harness.client(
        _sequence(httpx.Response(429, headers={"Retry-After": "30"})),
        retry=policy(harness.time, deadline=10.0),
    )
    with pytest.raises(RateLimitError):
        await client.ping()
    assert len(harness.requests) == 1


async def test_4xx_is_never_retried(harness: Harness) -> None:
    client = harness.client(_sequence(problem(400, "Invalid Resource", "bad", errors=[])))
    with pytest.raises(ValidationError):
        await client.lists.members.patch("l1", "a@example.com", {"status": "pending"})
    assert len(harness.requests) == 1


# -- non-idempotent calls ------------------------------------------------------------------


async def test_post_batches_after_a_5xx_is_not_retried_and_reports_unknown_outcome(
    harness: Harness,
) -> None:
    from chimplink.mailchimp import BatchOperation

    client = harness.client(_sequence(httpx.Response(502, content=b"<html>")))
    with pytest.raises(OutcomeUnknownError) as caught:
        await client.batches.submit([BatchOperation("GET", "/lists", "op-1")])
    assert len(harness.requests) == 1
    assert caught.value.operation == "POST /batches"
    assert isinstance(caught.value.cause, ServerError)
    assert caught.value.status == 502


async def test_file_upload_after_a_read_timeout_reports_unknown_outcome(harness: Harness) -> None:
    client = harness.client(_sequence(httpx.ReadTimeout("slow")))
    with pytest.raises(OutcomeUnknownError) as caught:
        await client.file_manager.files.upload("a.png", b"\x89PNG")
    assert len(harness.requests) == 1
    assert caught.value.operation == "POST /file-manager/files"
    assert isinstance(caught.value.__cause__, APIConnectionError)


async def test_post_that_never_left_is_retried(harness: Harness) -> None:
    client = harness.client(
        _sequence(httpx.ConnectError("refused"), json_response({"id": 1, "name": "Pics"}))
    )
    folder = await client.file_manager.folders.create("Pics")
    assert folder.id == 1
    assert len(harness.requests) == 2


async def test_post_turned_away_by_throttling_is_retried(harness: Harness) -> None:
    client = harness.client(
        _sequence(httpx.Response(429), json_response({"id": "b1", "status": "pending"}))
    )
    from chimplink.mailchimp import BatchOperation

    batch = await client.batches.submit([BatchOperation("GET", "/lists", "op-1")])
    assert batch.id == "b1"
    assert len(harness.requests) == 2


async def test_post_with_a_4xx_raises_the_error_itself(harness: Harness) -> None:
    client = harness.client(_sequence(problem(400, "Member Exists", "exists")))
    with pytest.raises(Exception, match="Member Exists") as caught:
        await client.lists.members.create("l1", "a@example.com", status="subscribed")
    assert not isinstance(caught.value, OutcomeUnknownError)


async def test_post_with_501_is_not_unknown(harness: Harness) -> None:
    client = harness.client(_sequence(problem(501, "Not Emulated", "x")))
    with pytest.raises(ServerError) as caught:
        await client.file_manager.folders.create("x")
    assert not isinstance(caught.value, OutcomeUnknownError)


async def test_idempotent_post_is_retried_after_a_reset(harness: Harness) -> None:
    client = harness.client(
        _sequence(httpx.ReadError("reset"), httpx.Response(204)),
    )
    await client.lists.members.update_tags("l1", "a@example.com", {"vip": True})
    assert len(harness.requests) == 2


def test_transport_error_without_retry_flag_is_not_unknown() -> None:
    retry = RetryPolicy()
    assert not retry.outcome_unknown(_BAD_URL, idempotent=False)
    assert retry.outcome_unknown(_RESET, idempotent=False)
    assert not retry.outcome_unknown(_RESET, idempotent=True)
    assert not retry.outcome_unknown(_UNKNOWN, idempotent=False)


async def test_policy_run_returns_directly_without_errors(fake_time: FakeTime) -> None:
    calls: list[float | None] = []

    async def attempt(remaining: Callable[[], float | None]) -> str:
        calls.append(remaining())
        return "done"

    result = await policy(fake_time, deadline=None).run(attempt, idempotent=True, operation="GET /")
    assert result == "done"
    assert calls == [None]
