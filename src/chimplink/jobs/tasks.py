"""The periodic tasks and the one shape every task has.

A task is a name, a period and an async function of `Services`. Tasks are
idempotent and derive their work from the database (DESIGN.md: jobs only
*trigger* work), so running one twice, late, or on two workers loses nothing.
A runner — the embedded one here, Procrastinate later — only decides *when*
to call `run_task`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from chimplink.connect import Services, run_due_cleanups
from chimplink.store import delete_api_calls_before, delete_stale_oauth_states

if TYPE_CHECKING:
    from chimplink.jobs.inbound_tasks import ConnectorFactory

__all__ = [
    "API_CALL_RETENTION",
    "Task",
    "builtin_tasks",
    "expire_oauth_states",
    "prune_api_calls",
    "remote_cleanup",
    "run_task",
]

# The Partner Program counts active users over 90 days (store/api_calls.py);
# keep a margin, then let the rows go.
API_CALL_RETENTION = timedelta(days=120)


@dataclass(frozen=True)
class Task:
    name: str
    every: timedelta
    run: Callable[[Services], Awaitable[object]]


async def remote_cleanup(services: Services) -> object:
    """Delete at Mailchimp the webhooks uninstalls could not (connect/cleanup.py)."""
    return await run_due_cleanups(services)


async def expire_oauth_states(services: Services) -> object:
    """Drop OAuth states expired or used more than an hour ago."""
    async with services.sessions.begin() as session:
        return await delete_stale_oauth_states(session=session, now=services.clock())


async def prune_api_calls(services: Services) -> object:
    """Retention of the API-call log."""
    async with services.sessions.begin() as session:
        return await delete_api_calls_before(
            session=session, before=services.clock() - API_CALL_RETENTION
        )


def builtin_tasks(*, connectors: ConnectorFactory | None = None) -> tuple[Task, ...]:
    """The periodic tasks; with `connectors`, also the inbound ones (jobs/inbound_tasks.py),
    the periodic contact sync (jobs/sync_tasks.py) and the delivery of webhooks to push
    platforms (jobs/push_tasks.py)."""
    tasks = (
        Task("remote_cleanup", timedelta(seconds=30), remote_cleanup),
        Task("expire_oauth_states", timedelta(minutes=15), expire_oauth_states),
        Task("prune_api_calls", timedelta(hours=6), prune_api_calls),
    )
    if connectors is None:
        return tasks
    from chimplink.jobs.inbound_tasks import inbound_tasks  # it imports Task from here
    from chimplink.jobs.push_tasks import push_tasks
    from chimplink.jobs.sync_tasks import sync_tasks

    return tasks + inbound_tasks(connectors) + sync_tasks(connectors) + push_tasks()


async def run_task(task: Task, services: Services) -> object:
    """Run one task now (what every runner ends up calling)."""
    return await task.run(services)
