"""What a run tells its caller: progress while it runs, a report when it ends."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from chimplink.store.sync_state import RunStatus

__all__ = ["PlannedChange", "Progress", "ProgressCallback", "SyncOptions", "SyncReport"]


@dataclass(frozen=True, kw_only=True)
class SyncOptions:
    """Tuning and test seams. The defaults are what production uses."""

    chunk_size: int = 500  # batch subscribe's maximum (REFERENCE.md §8.3)
    # Chunks in flight at once; the client's limiter still bounds connections
    # (Mailchimp allows 10 per user, §6), so more would only queue.
    max_in_flight: int = 10
    retry_rounds: int = 3  # in-run re-sends of records whose outcome is retry-later
    retry_delay: float = 2.0  # seconds before the first re-send round, doubled each round
    # Runs after which a record that keeps failing with retry-later errors is
    # parked, so one record cannot hold the checkpoint back forever.
    max_record_attempts: int = 5
    # A dry run reads the audience's members (1,000 a call) to tell creates
    # from updates, up to this many; above it, it reports "create or update".
    dry_run_lookup_limit: int = 50_000
    preview_limit: int = 100  # planned changes listed in a dry run's report
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.chunk_size <= 500:
            raise ValueError("chunk_size must be between 1 and 500")
        if self.max_in_flight < 1 or self.retry_rounds < 0 or self.max_record_attempts < 1:
            raise ValueError("max_in_flight, max_record_attempts >= 1; retry_rounds >= 0")


@dataclass(frozen=True)
class Progress:
    """Sent after each chunk is committed (for the CLI's progress bar)."""

    done: int  # contacts processed this run (sent or not)
    total: int | None  # contacts to process, when the connector can count them
    rate: float  # contacts per second so far
    sent: int  # contacts written to Mailchimp this run
    checkpoint: str | None  # the cursor committed so far (never past an unacknowledged write)


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class PlannedChange:
    """One line of a dry run's preview."""

    platform_key: str
    email: str = field(repr=False)
    action: str  # create | update | create or update | email change | skip | fail
    detail: str | None = None


@dataclass
class SyncReport:
    """Counts of one run. In a dry run they are what *would* happen.

    `failed` counts final failures of this run by reason (those records are
    parked); `retrying` counts records left for the next run by reason.
    """

    installation_id: str
    run_id: str | None = None
    status: RunStatus = RunStatus.RUNNING
    dry_run: bool = False
    full: bool = False
    read: int = 0
    created: int = 0
    updated: int = 0
    create_or_update: int = 0  # dry run only: the audience was too big to look up
    unchanged: int = 0
    parked: int = 0
    skipped: int = 0
    erased: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    retrying: Counter[str] = field(default_factory=Counter)
    api_calls: int = 0
    write_calls: int = 0
    merge_fields_created: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    message: str | None = None  # why the run stopped, in plain words
    preview: list[PlannedChange] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def sent(self) -> int:
        return self.created + self.updated

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    def counts(self) -> dict[str, Any]:
        """The JSON kept with the run (no personal data)."""
        return {
            "read": self.read,
            "created": self.created,
            "updated": self.updated,
            "create_or_update": self.create_or_update,
            "unchanged": self.unchanged,
            "parked": self.parked,
            "skipped": self.skipped,
            "erased": self.erased,
            "failed": dict(self.failed),
            "retrying": dict(self.retrying),
            "api_calls": self.api_calls,
            "write_calls": self.write_calls,
            "merge_fields_created": list(self.merge_fields_created),
            "warnings": list(self.warnings),
            "elapsed_s": round(self.elapsed, 3),
        }
