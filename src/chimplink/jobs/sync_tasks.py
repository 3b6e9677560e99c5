"""Contact sync as jobs: one installation on demand, every installation periodically.

    report = await sync_installation(services, installation_id, connectors=factory)
    started = start_sync(runner, installation_id, connectors=factory)   # web's "Sync now"

`sync_installation` is the one entry point every adapter uses (`chimplink
sync`, the web, the demo, the periodic task). Under the installation's lock
(jobs/locks.py) it first applies the installation's pending webhook
deliveries to the platform, then runs the outbound sync. That order matters:
a change made in Mailchimp (an unsubscribe, a corrected name) reaches the
platform before the platform's view is pushed back, so the push never
overwrites it with the stale value. A dry run skips the inbox, since it
promises to write nothing anywhere.

Before anything is read it checks what the sync needs and raises a
`ConnectError` an adapter can show as it is:

    InstallationMissing   no such installation (or it was uninstalled)
    NeedsReconnect        the installation is paused until the user reconnects
    SyncNotReady
    ├── NoSyncSettings    no audience chosen yet
    └── NoPlatform        no platform connector for this installation

Once running, Mailchimp's and the platform's failures end the run with a
status and a message in the report (sync/engine.py), except a 401 while
draining the inbox, which raises `NeedsReconnect`.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from chimplink.connect import (
    ConnectError,
    InstallationMissing,
    NeedsReconnect,
    Services,
    installation_client,
)
from chimplink.jobs.embedded import EmbeddedRunner, ProgressSink
from chimplink.jobs.inbound_tasks import BACKGROUND_RETRY, ConnectorFactory
from chimplink.jobs.locks import InstallationLocks, shared_locks
from chimplink.jobs.tasks import Task
from chimplink.mailchimp import MailchimpClient
from chimplink.platforms import Connector, ConnectorError
from chimplink.store import (
    Installation,
    InstallationStatus,
    find_installation,
    list_all_installations,
)
from chimplink.store.sync_config import get_sync_config
from chimplink.sync import SyncNotConfigured, SyncOptions, SyncReport, run_sync
from chimplink.sync.inbound import InboundOptions, process_inbox
from chimplink.sync.report import ProgressCallback

__all__ = [
    "SYNC_EVERY",
    "NoPlatform",
    "NoSyncSettings",
    "SyncNotReady",
    "ready_installations",
    "start_sync",
    "sync_installation",
    "sync_installations",
    "sync_job_name",
    "sync_tasks",
]

_log = structlog.get_logger("chimplink.jobs")

# Webhooks carry Mailchimp's changes within seconds and the web's "Sync now"
# is there for the impatient: the periodic run catches platform changes.
SYNC_EVERY = timedelta(minutes=15)


class SyncNotReady(ConnectError):
    title = "Not ready to sync"
    default_message = "This account cannot be synced yet."
    status = 409


class NoSyncSettings(SyncNotReady):
    title = "Choose an audience first"
    default_message = (
        "This account has no sync settings yet: choose an audience, and the fields to sync, first."
    )


class NoPlatform(SyncNotReady):
    title = "No platform to sync with"
    default_message = (
        "This chimplink server has no platform connected to sync contacts from. "
        "Please tell the platform's support team."
    )
    status = 503


async def _installation(services: Services, installation_id: str) -> Installation:
    async with services.sessions() as session:
        installation = await find_installation(session=session, installation_id=installation_id)
        has_settings = (
            installation is not None
            and await get_sync_config(session=session, installation_id=installation_id) is not None
        )
    if installation is None or installation.status is InstallationStatus.UNINSTALLED:
        raise InstallationMissing(reason=f"no installation {installation_id}")
    if installation.status is not InstallationStatus.ACTIVE:
        raise NeedsReconnect(reason=f"installation is {installation.status.value}")
    if not has_settings:
        raise NoSyncSettings(reason="no sync settings")
    return installation


async def _connector(connectors: ConnectorFactory | None, installation: Installation) -> Connector:
    if connectors is None:
        raise NoPlatform(reason="no platform connector is configured (CHIMPLINK_CONNECTOR)")
    try:
        connector = await connectors(installation)
    except ConnectorError as exc:
        raise NoPlatform(reason=f"the platform connector failed: {exc}") from exc
    if connector is None:
        raise NoPlatform(reason="the connector factory has no platform for this installation")
    return connector


async def sync_installation(
    services: Services,
    installation_id: str,
    *,
    connectors: ConnectorFactory | None,
    full: bool = False,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    locks: InstallationLocks | None = None,
    options: SyncOptions | None = None,
    inbound: InboundOptions | None = None,
) -> SyncReport:
    """Drain the installation's inbox, then sync it (see the module docstring).

    Waits for the installation's lock when other work holds it: the caller
    asked for this run, and the holder is usually brief (the inbox) or a sync
    whose result this run then only has to top up.
    """
    connector = await _connector(connectors, await _installation(services, installation_id))
    async with (locks or shared_locks()).of(installation_id):
        # Again: while this waited, the holder may have been refused (401) or uninstalled it.
        installation = await _installation(services, installation_id)
        async with installation_client(services, installation, retry=BACKGROUND_RETRY) as client:
            return await _drain_then_sync(
                services,
                installation_id,
                client=client,
                connector=connector,
                full=full,
                dry_run=dry_run,
                progress=progress,
                options=options,
                inbound=inbound,
            )


async def _drain_then_sync(
    services: Services,
    installation_id: str,
    *,
    client: MailchimpClient,
    connector: Connector,
    full: bool,
    dry_run: bool,
    progress: ProgressCallback | None,
    options: SyncOptions | None,
    inbound: InboundOptions | None,
) -> SyncReport:
    if not dry_run:
        applied = await process_inbox(
            sessions=services.sessions,
            installation_id=installation_id,
            client=client,
            connector=connector,
            options=inbound or InboundOptions(clock=services.clock),
        )
        if applied.deliveries:
            _log.info(
                "jobs.inbox_before_sync",
                installation_id=installation_id,
                **applied.counts(),
            )
    try:
        return await run_sync(
            sessions=services.sessions,
            installation_id=installation_id,
            client=client,
            connector=connector,
            full=full,
            dry_run=dry_run,
            progress=progress,
            options=options,
        )
    except SyncNotConfigured:  # the settings were deleted meanwhile (an uninstall)
        raise NoSyncSettings(reason="the sync settings are gone") from None


async def ready_installations(services: Services) -> list[Installation]:
    """The active installations that have sync settings, oldest first."""
    async with services.sessions() as session:
        active = await list_all_installations(session=session, status=InstallationStatus.ACTIVE)
        return [
            installation
            for installation in active
            if await get_sync_config(session=session, installation_id=installation.id) is not None
        ]


async def sync_installations(
    services: Services,
    *,
    connectors: ConnectorFactory,
    locks: InstallationLocks | None = None,
    options: SyncOptions | None = None,
) -> dict[str, object]:
    """An incremental sync of every ready installation, one after another.

    One installation's trouble never stops the others': it is logged, and
    that installation is tried again at the next period.
    """
    done: dict[str, object] = {}
    for installation in await ready_installations(services):
        try:
            report = await sync_installation(
                services, installation.id, connectors=connectors, locks=locks, options=options
            )
        except ConnectError as exc:  # paused, uninstalled or without a platform meanwhile
            _log.warning("jobs.sync_skipped", installation_id=installation.id, reason=exc.reason)
            done[installation.id] = {"skipped": exc.reason}
            continue
        except Exception:
            _log.exception("jobs.sync_failed", installation_id=installation.id)
            done[installation.id] = {"status": "error"}
            continue
        done[installation.id] = {
            "status": report.status.value,
            "sent": report.sent,
            "failed": report.failed_total,
        }
    return done


def sync_tasks(
    connectors: ConnectorFactory,
    *,
    every: timedelta = SYNC_EVERY,
    locks: InstallationLocks | None = None,
) -> tuple[Task, ...]:
    """The periodic sync task (builtin_tasks adds it when given connectors)."""

    async def run(services: Services) -> object:
        return await sync_installations(services, connectors=connectors, locks=locks)

    return (Task("sync_installations", every, run),)


def sync_job_name(installation_id: str) -> str:
    """The name a one-off sync of this installation runs under in the runner."""
    return f"sync:{installation_id}"


def start_sync(
    runner: EmbeddedRunner,
    installation_id: str,
    *,
    connectors: ConnectorFactory | None,
    full: bool = False,
    locks: InstallationLocks | None = None,
) -> bool:
    """Start a sync in the background; False if one of this installation is already running.

    Its live progress (a `sync.Progress`), then its report or error, are in
    `runner.activity(sync_job_name(installation_id))`.
    """

    async def work(report_progress: ProgressSink) -> SyncReport:
        return await sync_installation(
            runner.services,
            installation_id,
            connectors=connectors,
            full=full,
            progress=report_progress,
            locks=locks,
        )

    return runner.spawn(sync_job_name(installation_id), work)
