"""Call accounting: every HTTP attempt is reported to an observer.

This is the source of the Partner Program's "active users" figure (unique
OAuth tokens making calls in the last 90 days, REFERENCE.md §1) and of
request metrics. The observer sees the account key and the operation's path
*template* only — never a token, an email address or a list id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["ApiCall", "CallObserver", "CallRecorder"]


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One HTTP attempt (a retried call is several)."""

    account_key: str
    operation: str  # "PUT /lists/{list_id}/members/{subscriber_hash}"
    status: int | None  # None: no response (transport failure)
    duration: float  # seconds, excluding time spent waiting for a limiter slot
    attempt: int = 1


class CallObserver(Protocol):
    def __call__(self, call: ApiCall) -> None:
        """Receive one call. Must not block; must not raise (failures are logged, not raised)."""
        ...


@dataclass
class CallRecorder:
    """An observer that keeps every call in memory (tests, benchmarks, the demo)."""

    calls: list[ApiCall] = field(default_factory=list)

    def __call__(self, call: ApiCall) -> None:
        self.calls.append(call)

    def operations(self) -> list[str]:
        return [call.operation for call in self.calls]

    def statuses(self) -> list[int | None]:
        return [call.status for call in self.calls]
