"""How many requests one Mailchimp account has in flight.

Mailchimp allows 10 simultaneous connections *per user*, shared with every
other app the user has connected; the 11th gets a 429 (REFERENCE.md §6). So
every call for an account takes a slot first. `LocalLimiter` shares slots
between all tasks of one process — build one per process (in the app's
lifespan or CLI entry) and give it to every client. A distributed limiter
(a PostgreSQL or Redis lease) only has to satisfy `ConcurrencyLimiter`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["MAILCHIMP_CONNECTION_LIMIT", "ConcurrencyLimiter", "LocalLimiter"]

MAILCHIMP_CONNECTION_LIMIT = 10


@runtime_checkable
class ConcurrencyLimiter(Protocol):
    """Grants at most N concurrent slots per account key."""

    def slot(self, account_key: str) -> AbstractAsyncContextManager[None]:
        """Wait for a free slot of `account_key`; hold it for the `async with` block."""
        ...


@dataclass
class _Gate:
    semaphore: asyncio.Semaphore
    users: int = 0  # holders + waiters; the gate is dropped when it reaches 0
    in_flight: int = 0


@dataclass
class LocalLimiter:
    """An in-process limiter: one semaphore per account key.

    `limit` defaults to Mailchimp's 10 and can be set lower, because the user's
    other apps share the same 10 connections. Semaphores of idle accounts are
    dropped, so they follow the number of *active* accounts; only a peak
    counter (one int) is kept per account seen.
    """

    limit: int = MAILCHIMP_CONNECTION_LIMIT
    _gates: dict[str, _Gate] = field(default_factory=dict, init=False, repr=False)
    _peaks: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAILCHIMP_CONNECTION_LIMIT:
            raise ValueError(
                f"limit must be between 1 and {MAILCHIMP_CONNECTION_LIMIT} "
                "(Mailchimp refuses more simultaneous connections per user)"
            )

    def slot(self, account_key: str) -> AbstractAsyncContextManager[None]:
        return self._slot(account_key)

    @asynccontextmanager
    async def _slot(self, account_key: str) -> AsyncIterator[None]:
        gate = self._gates.get(account_key)
        if gate is None:
            gate = self._gates[account_key] = _Gate(asyncio.Semaphore(self.limit))
        gate.users += 1
        try:
            async with gate.semaphore:
                gate.in_flight += 1
                if gate.in_flight > self._peaks.get(account_key, 0):
                    self._peaks[account_key] = gate.in_flight
                try:
                    yield
                finally:
                    gate.in_flight -= 1
        finally:
            gate.users -= 1
            if gate.users == 0:
                del self._gates[account_key]

    def in_flight(self, account_key: str) -> int:
        gate = self._gates.get(account_key)
        return gate.in_flight if gate else 0

    def peak(self, account_key: str) -> int:
        """The highest number of slots `account_key` has held at once (metrics, tests)."""
        return self._peaks.get(account_key, 0)
