"""The inbound tasks: drain the webhook inbox, reconcile audiences, prune the inbox.

    tasks = builtin_tasks(connectors=factory)      # jobs/tasks.py adds these three
    runner = EmbeddedRunner(services, tasks)

Applying Mailchimp's changes needs the platform's connector, which the jobs
layer cannot make up: whoever starts the runner (`chimplink serve`, the
demo, a worker) passes a `ConnectorFactory`, an async function from an
installation to its connector (None: this installation has no platform to
write to, skip it). The factory owns the connectors' lifetime.

Each task is idempotent and derives its work from the database
(jobs/tasks.py): pending inbox rows, installations with sync settings.
Within one process, the inbox, the reconciliation and the syncs of one
installation never run at the same time (jobs/locks.py). The inbox task
passes over an installation whose lock is held rather than wait: the holder
is usually a sync, which drains that inbox itself first, and waiting would
hold up every other installation's deliveries for as long as the sync runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog

from chimplink.connect import MailchimpFailed, NeedsReconnect, Services, installation_client
from chimplink.jobs.locks import InstallationLocks, shared_locks
from chimplink.jobs.tasks import Task
from chimplink.mailchimp import RetryPolicy
from chimplink.platforms import Connector, ConnectorError
from chimplink.store import (
    Installation,
    InstallationStatus,
    find_installation,
    list_all_installations,
)
from chimplink.store.inbox import installations_with_pending_inbox, prune_inbox
from chimplink.store.sync_config import get_sync_config
from chimplink.sync.inbound import InboundOptions, process_inbox
from chimplink.sync.reconcile import reconcile

__all__ = [
    "BACKGROUND_RETRY",
    "INBOX_EVERY",
    "PRUNE_EVERY",
    "RECONCILE_EVERY",
    "ConnectorFactory",
    "inbound_tasks",
    "process_webhook_inbox",
    "prune_webhook_inbox",
    "reconcile_audiences",
]

_log = structlog.get_logger("chimplink.jobs")

INBOX_EVERY = timedelta(seconds=5)
RECONCILE_EVERY = timedelta(hours=1)
PRUNE_EVERY = timedelta(hours=1)

ConnectorFactory = Callable[[Installation], Awaitable[Connector | None]]

# Background work can wait for Mailchimp longer than a user can (connect/services.py).
BACKGROUND_RETRY = RetryPolicy()


async def _ready(
    services: Services, installation_id: str, connectors: ConnectorFactory
) -> tuple[Installation, Connector] | None:
    async with services.sessions() as session:
        installation = await find_installation(session=session, installation_id=installation_id)
    if installation is None or installation.status is not InstallationStatus.ACTIVE:
        return None  # paused (needs reconnect): deliveries wait; uninstalled: they are gone
    connector = await connectors(installation)
    if connector is None:
        return None
    return installation, connector


async def process_webhook_inbox(
    services: Services,
    *,
    connectors: ConnectorFactory,
    locks: InstallationLocks | None = None,
    options: InboundOptions | None = None,
) -> dict[str, object]:
    """Apply the pending deliveries of every installation that has some (and is not busy)."""
    locks = locks or shared_locks()
    async with services.sessions() as session:
        due = await installations_with_pending_inbox(session=session, now=services.clock())
    done: dict[str, object] = {}
    for installation_id in due:
        if locks.busy(installation_id):
            continue  # see the module docstring: the next round takes what is left
        ready = await _ready(services, installation_id, connectors)
        if ready is None:
            continue
        installation, connector = ready
        async with locks.of(installation_id):
            try:
                async with installation_client(
                    services, installation, retry=BACKGROUND_RETRY
                ) as client:
                    report = await process_inbox(
                        sessions=services.sessions,
                        installation_id=installation_id,
                        client=client,
                        connector=connector,
                        options=options or InboundOptions(clock=services.clock),
                    )
            except (NeedsReconnect, MailchimpFailed) as exc:
                _log.warning(
                    "jobs.inbox_paused", installation_id=installation_id, reason=exc.reason
                )
                continue
        done[installation_id] = report.counts()
    return done


async def reconcile_audiences(
    services: Services, *, connectors: ConnectorFactory, locks: InstallationLocks | None = None
) -> dict[str, object]:
    """One reconciliation pass for every active installation with sync settings."""
    locks = locks or shared_locks()
    async with services.sessions() as session:
        installations = await list_all_installations(session=session)
    done: dict[str, object] = {}
    for found in installations:
        if found.status is not InstallationStatus.ACTIVE:
            continue
        async with services.sessions() as session:
            if await get_sync_config(session=session, installation_id=found.id) is None:
                continue
        ready = await _ready(services, found.id, connectors)
        if ready is None:
            continue
        installation, connector = ready
        async with locks.of(installation.id):
            try:
                async with installation_client(
                    services, installation, retry=BACKGROUND_RETRY
                ) as client:
                    report = await reconcile(
                        sessions=services.sessions,
                        installation_id=installation.id,
                        client=client,
                        connector=connector,
                        now=services.clock(),
                    )
            except (NeedsReconnect, MailchimpFailed, ConnectorError) as exc:
                reason = getattr(exc, "reason", None) or type(exc).__name__
                _log.warning(
                    "jobs.reconcile_failed", installation_id=installation.id, reason=reason
                )
                continue
        done[installation.id] = report.counts()
    return done


async def prune_webhook_inbox(services: Services) -> object:
    """Retention of the inbox and the dead letters (store/inbox.py)."""
    async with services.sessions.begin() as session:
        return await prune_inbox(session=session, now=services.clock())


def inbound_tasks(
    connectors: ConnectorFactory,
    *,
    inbox_every: timedelta = INBOX_EVERY,
    reconcile_every: timedelta = RECONCILE_EVERY,
    locks: InstallationLocks | None = None,
) -> tuple[Task, ...]:
    """The three inbound tasks; with `locks` None, they share the process's (jobs/locks.py)."""

    async def inbox(services: Services) -> object:
        return await process_webhook_inbox(services, connectors=connectors, locks=locks)

    async def audiences(services: Services) -> object:
        return await reconcile_audiences(services, connectors=connectors, locks=locks)

    return (
        Task("process_webhook_inbox", inbox_every, inbox),
        Task("reconcile_audiences", reconcile_every, audiences),
        Task("prune_webhook_inbox", PRUNE_EVERY, prune_webhook_inbox),
    )
