"""How the emulator behaves under load: latency, the connection limit, faults, stats.

All waiting is `asyncio.sleep`, so a hundred accounts with ten requests each
cost no CPU while they wait. The limit counts in-flight API requests per
account: the 11th concurrent one gets 429 at once, as Mailchimp's does
(REFERENCE.md §6). A request whose client gave up still counts until it ends:
"a timed-out request may still be running on our backend" (§6).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from chimplink.emulator.config import EmulatorConfig

# Fault kinds, drawn uniformly when a request is chosen for a fault. Where the
# fault strikes matters: "before" faults leave state untouched, "after" faults
# hit once the handler has run, so the client cannot know the outcome, which is
# exactly the case a client must not blindly retry (non-idempotent POSTs).
FAULTS_BEFORE = ("503", "429", "403", "slow")
FAULTS_AFTER = ("500", "reset")
FAULT_KINDS = FAULTS_BEFORE + FAULTS_AFTER


@dataclass
class ScriptedFault:
    """A fault for the next `remaining` requests of one operation (tests, demos).

    `operation` is the route's name, e.g. "DELETE /lists/{list_id}/webhooks/{webhook_id}".
    """

    operation: str
    kind: str
    remaining: int = 1
    account_id: str | None = None


@dataclass
class AccountStats:
    requests: Counter[tuple[str, int]] = field(default_factory=Counter)
    throttled: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    peak_in_flight: int = 0

    def as_json(self) -> dict[str, Any]:
        by_operation: dict[str, dict[str, int]] = {}
        for (operation, status), count in sorted(self.requests.items()):
            by_operation.setdefault(operation, {})[str(status)] = count
        return {
            "requests": by_operation,
            "total_requests": sum(self.requests.values()),
            "throttled": self.throttled,
            "faults": dict(self.faults),
            "in_flight": self.in_flight,
            "peak_concurrent_requests": self.peak_in_flight,
        }


class Behaviour:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Back to the configured model (run-time changes from /_emulator/config are undone)."""
        self.fault_rate = self.config.fault_rate
        self.latency_ms = self.config.latency_ms
        self.latency_per_item_ms = self.config.latency_per_item_ms
        self.max_connections = self.config.max_connections
        self._rng = random.Random(self.config.seed)
        self.stats: dict[str, AccountStats] = {}
        self.scripted: list[ScriptedFault] = []

    def script_fault(self, fault: ScriptedFault) -> None:
        self.scripted.append(fault)

    def take_scripted_fault(self, account_id: str, operation: str) -> str | None:
        """The next scripted fault for this request, if one matches (used up as it fires)."""
        for fault in self.scripted:
            if fault.operation != operation:
                continue
            if fault.account_id is not None and fault.account_id != account_id:
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.scripted.remove(fault)
            return fault.kind
        return None

    def for_account(self, account_id: str) -> AccountStats:
        stats = self.stats.get(account_id)
        if stats is None:
            stats = self.stats[account_id] = AccountStats()
        return stats

    def try_enter(self, account_id: str) -> bool:
        """Take a connection slot; False when the account already has max in flight."""
        stats = self.for_account(account_id)
        if stats.in_flight >= self.max_connections:
            stats.throttled += 1
            return False
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        return True

    def leave(self, account_id: str) -> None:
        self.for_account(account_id).in_flight -= 1

    def record(self, account_id: str, operation: str, status: int) -> None:
        self.for_account(account_id).requests[(operation, status)] += 1

    def draw_fault(self) -> str | None:
        if self.fault_rate <= 0 or self._rng.random() >= self.fault_rate:
            return None
        return self._rng.choice(FAULT_KINDS)

    async def sleep_latency(self, items: int, *, elapsed_s: float = 0.0) -> None:
        """Sleep until the request has taken its modelled latency (`elapsed_s` already spent)."""
        delay_s = (self.latency_ms + self.latency_per_item_ms * max(items, 1)) / 1000 - elapsed_s
        if delay_s > 0:
            await asyncio.sleep(delay_s)


# Body keys whose list length counts as the request's "items" for the latency model.
ITEM_KEYS = ("members", "operations", "members_to_add", "members_to_remove")


def count_items(body: object) -> int:
    if isinstance(body, dict):
        for key in ITEM_KEYS:
            value = body.get(key)
            if isinstance(value, list):
                return max(len(value), 1)
    return 1
