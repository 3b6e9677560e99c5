"""One lock per installation, so that the work of one installation never overlaps itself.

The inbox, the reconciliation, the periodic sync and one-off syncs (the web's
"Sync now", `chimplink sync`, the demo) all change the same sync records and
the same platform contacts: two of them at once for one installation would
apply the same changes twice, or push a platform view the other is about to
change. Each takes `locks.of(installation_id)` around its work.

The lock set must be shared by everything that runs in one process, even
parts built apart from each other (the runner's tasks by `builtin_tasks`, a
web handler calling `sync_installation`). `shared_locks()` gives the running
event loop's set, which is what every jobs function uses unless it is passed
another one. asyncio locks belong to one event loop, and a process serves
from one loop, so "per loop" is "per process". Across processes (several
workers) the distributed runner's per-key locks will take this role.
"""

from __future__ import annotations

import asyncio
import weakref

__all__ = ["InstallationLocks", "shared_locks"]


class InstallationLocks:
    """Locks by installation id, made on first use."""

    def __init__(self) -> None:
        self._held: dict[str, asyncio.Lock] = {}

    def of(self, installation_id: str) -> asyncio.Lock:
        return self._held.setdefault(installation_id, asyncio.Lock())

    def busy(self, installation_id: str) -> bool:
        """True while some work holds this installation's lock."""
        lock = self._held.get(installation_id)
        return lock is not None and lock.locked()


# Keyed weakly by loop: a loop that is closed and dropped (a test's) takes its locks along.
_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, InstallationLocks] = (
    weakref.WeakKeyDictionary()
)


def shared_locks() -> InstallationLocks:
    """The lock set of the running event loop (call it from async code)."""
    loop = asyncio.get_running_loop()
    found = _BY_LOOP.get(loop)
    if found is None:
        found = _BY_LOOP[loop] = InstallationLocks()
    return found
