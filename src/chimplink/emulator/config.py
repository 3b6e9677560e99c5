"""Settings of one emulator instance (command-line flags map onto these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """How the emulator behaves. Defaults match Mailchimp where Mailchimp has a number.

    `latency_ms` and `latency_per_item_ms` model the API's response time: every
    API request sleeps `latency_ms + items * latency_per_item_ms`, where items is
    the number of members/operations in the body (1 for a plain request).
    """

    latency_ms: float = 0.0
    latency_per_item_ms: float = 0.0
    # Mailchimp allows 10 simultaneous connections per user (REFERENCE.md §6).
    max_connections: int = 10
    fault_rate: float = 0.0
    seed: int | None = None
    state_file: Path | None = None
    # Authorization codes are single-use and expire; Mailchimp's sample says 30 s (§3).
    code_ttl_s: float = 30.0
    # Base URL the emulator advertises (api_endpoint, file URLs, batch results).
    # None: derived from each request's own host, which is right when served.
    public_url: str | None = None
    # Outgoing webhook deliveries: Mailchimp cancels after 10 s and retries for 75 min (§4.1).
    webhook_timeout_s: float = 10.0
    webhook_retry_delays_s: tuple[float, ...] = field(
        default=(1.0, 5.0, 30.0, 120.0, 600.0, 1800.0, 1920.0)
    )
    # Batches: "immediate" runs them as soon as submitted; "manual" waits for
    # POST /_emulator/batches/{id}/advance so tests can see each status.
    batch_mode: str = "immediate"
    # Extra delay of the "slow response" fault.
    slow_fault_ms: float = 1500.0

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.latency_per_item_ms < 0:
            raise ValueError("latency must be >= 0")
        if self.max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        if self.batch_mode not in ("immediate", "manual"):
            raise ValueError("batch_mode must be 'immediate' or 'manual'")
        if self.code_ttl_s <= 0:
            raise ValueError("code_ttl_s must be > 0")
