"""What is retried, how long we wait, and when we give up: one policy object.

Rules (REFERENCE.md §5-§6, reliability.md §4):

* Retried: transport failures, 429 and a bare 403 (throttling), and
  500/502/503/504 — but only for calls that are idempotent in effect (GET,
  PUT, PATCH, DELETE, and the POSTs a service marks so, e.g. batch subscribe
  with `update_existing`, tag updates).
* Other POSTs (`POST /batches`, file uploads, creations) are retried only when
  Mailchimp provably did not run them: a 429/bare 403 (the request was turned
  away) or a connect error (it never left). After a transport error or 5xx
  *after sending*, the caller gets `OutcomeUnknownError` and must reconcile.
* Waits are exponential with FULL jitter, `uniform(0, min(cap, base·2^n))`
  (the AWS analysis in reliability.md §4.1), or the server's Retry-After.
* Attempts are bounded, and so is the total time (`deadline`): a retry whose
  wait would cross the deadline is not made.

Randomness, sleeping and the clock are fields, so tests are deterministic and
never sleep. The loop itself is tenacity's.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog
import tenacity

from chimplink.mailchimp.errors import (
    APIConnectionError,
    MailchimpError,
    OutcomeUnknownError,
    RateLimitError,
    ServerError,
)

__all__ = ["IDEMPOTENT_METHODS", "RetryPolicy"]

T = TypeVar("T")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})

JitterFunction = Callable[[float], float]
"""Given the cap of this wait, return a wait in [0, cap]."""

_log = structlog.get_logger("chimplink.mailchimp")


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Retries for one logical call. Immutable; share one instance freely.

    `max_attempts` counts the first try. `deadline` (seconds) bounds the whole
    call including waits and, through the per-attempt timeout, the attempts
    themselves; None disables it. A Retry-After longer than `max_retry_after`
    ends the retries (the caller reschedules) instead of blocking a worker.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    deadline: float | None = 300.0
    max_retry_after: float = 120.0
    retry_statuses: frozenset[int] = frozenset({500, 502, 503, 504})
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    jitter: JitterFunction | None = field(default=None, repr=False, compare=False)
    sleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, repr=False, compare=False
    )
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must be >= 0")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError("deadline must be > 0 (or None for no deadline)")

    @classmethod
    def never(cls) -> RetryPolicy:
        """One attempt, no retries (the caller retries at a higher level)."""
        return cls(max_attempts=1)

    # -- decisions -------------------------------------------------------------

    def backoff(self, retry_number: int) -> float:
        """The wait before retry `retry_number` (0 = the first retry), with full jitter."""
        cap = min(self.max_delay, self.base_delay * 2.0 ** min(retry_number, 64))
        drawn = self.jitter(cap) if self.jitter is not None else self.rng.uniform(0.0, cap)
        return min(max(drawn, 0.0), cap)

    def should_retry(self, error: BaseException, *, idempotent: bool) -> bool:
        if isinstance(error, RateLimitError):
            # Throttling turns the request away before it runs: safe for any method.
            return True
        if isinstance(error, OutcomeUnknownError):
            return False
        if isinstance(error, APIConnectionError):
            if not error.retryable:
                return False
            return idempotent or not error.maybe_applied
        if isinstance(error, ServerError):
            return idempotent and error.status in self.retry_statuses
        return False

    def outcome_unknown(self, error: MailchimpError, *, idempotent: bool) -> bool:
        """True when a failed non-idempotent call may nevertheless have been applied."""
        if idempotent or isinstance(error, OutcomeUnknownError):
            return False
        if isinstance(error, APIConnectionError):
            return error.maybe_applied and error.retryable
        return isinstance(error, ServerError) and error.status in self.retry_statuses

    def delay(self, error: BaseException, retry_number: int) -> float:
        """Retry-After when the server sent one, else the jittered backoff."""
        if isinstance(error, MailchimpError) and error.retry_after is not None:
            return error.retry_after
        return self.backoff(retry_number)

    # -- the loop --------------------------------------------------------------

    async def run(
        self,
        attempt: Callable[[Callable[[], float | None]], Awaitable[T]],
        *,
        idempotent: bool,
        operation: str,
    ) -> T:
        """Call `attempt(remaining)` until it succeeds or the policy gives up.

        `remaining()` returns the seconds left before the deadline (None
        without one); the attempt calls it once it holds a limiter slot, to
        bound its own timeout.
        """
        start = self.clock()

        def remaining() -> float | None:
            if self.deadline is None:
                return None
            return max(0.0, self.deadline - (self.clock() - start))

        def retry(state: tenacity.RetryCallState) -> bool:
            outcome = state.outcome
            error = outcome.exception() if outcome is not None and outcome.failed else None
            return error is not None and self.should_retry(error, idempotent=idempotent)

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome is not None else None
            assert error is not None  # only called after a failed attempt
            return self.delay(error, state.attempt_number - 1)

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts:
                return True
            if state.upcoming_sleep > self.max_retry_after:
                return True
            left = remaining()
            return left is not None and state.upcoming_sleep >= left

        async def before_sleep(state: tenacity.RetryCallState) -> None:
            assert state.outcome is not None
            error = state.outcome.exception()
            _log.info(
                "mailchimp.retry",
                operation=operation,
                attempt=state.attempt_number,
                wait_s=round(state.upcoming_sleep, 3),
                error=type(error).__name__,
                status=getattr(error, "status", None),
            )

        retrying = tenacity.AsyncRetrying(
            retry=retry,
            wait=wait,
            stop=stop,
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )

        async def attempt_once() -> T:
            return await attempt(remaining)

        try:
            return await retrying(attempt_once)
        except MailchimpError as error:
            if self.outcome_unknown(error, idempotent=idempotent):
                raise OutcomeUnknownError(operation=operation, cause=error) from error
            raise
