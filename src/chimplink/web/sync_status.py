"""Where the sync of an installation stands: its audience and settings, whether a run is
going on in this process, and the one-line status the home page and the sync page show.

Read from the database and the job runner only (no Mailchimp call), so every page
can show it cheaply. "Running" means running in this process: a "Sync now"
started here (the runner's activity), or the periodic sync (its run row says
running while it holds the installation's lock, jobs/locks.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chimplink.connect import ConnectError
from chimplink.jobs import Activity
from chimplink.jobs.locks import shared_locks
from chimplink.jobs.sync_tasks import sync_job_name
from chimplink.store import Installation, list_remote_webhooks
from chimplink.store.sync_config import SyncConfig, get_sync_config, save_sync_config
from chimplink.store.sync_state import RunStatus, SyncRun, list_runs
from chimplink.sync import Progress
from chimplink.web.state import AppState

__all__ = [
    "SyncSetup",
    "SyncStatus",
    "follow_audience",
    "last_error",
    "load_setup",
    "recent_runs",
    "running_now",
    "status_of",
    "sync_activity",
    "sync_running",
    "sync_status",
]


@dataclass(frozen=True)
class SyncSetup:
    list_id: str | None  # the audience synced to (None: none chosen yet)
    config: SyncConfig | None


async def load_setup(state: AppState, installation_id: str) -> SyncSetup:
    """The audience and the saved settings. Once settings exist they name the audience;
    before, it is the audience chosen last (the newest of chimplink's webhooks)."""
    async with state.services.sessions() as session:
        config = await get_sync_config(session=session, installation_id=installation_id)
        hooks = await list_remote_webhooks(session=session, installation_id=installation_id)
    if config is not None:
        return SyncSetup(list_id=config.list_id, config=config)
    return SyncSetup(list_id=hooks[-1].list_id if hooks else None, config=None)


async def follow_audience(state: AppState, installation_id: str, list_id: str) -> bool:
    """After the user chose another audience: point saved settings at it (the sync
    starts over there; store/sync_config.py). Returns whether settings exist.

    Under the installation's lock: a sync still writing records of the old
    audience would otherwise leave them behind as "synced" for the new one.
    """
    async with shared_locks().of(installation_id), state.services.sessions.begin() as session:
        config = await get_sync_config(session=session, installation_id=installation_id)
        if config is None:
            return False
        if config.list_id != list_id:
            await save_sync_config(
                session=session,
                installation_id=installation_id,
                list_id=list_id,
                field_map=config.field_map,
                sync_labels=config.sync_labels,
                label_tags=config.label_tags,
                no_consent=config.no_consent,
                double_optin=config.double_optin,
                erase_permanently=config.erase_permanently,
                plan_contact_limit=config.plan_contact_limit,
                now=state.services.clock(),
            )
    return True


def sync_activity(state: AppState, installation_id: str) -> Activity | None:
    """The last "Sync now" of this installation in this process, running or finished."""
    if state.runner is None:
        return None
    return state.runner.activity(sync_job_name(installation_id))


def running_now(state: AppState, installation_id: str, latest: SyncRun | None) -> bool:
    """A sync of this installation is running in this process: one started here, or the
    periodic one (its run row says running while it holds the installation's lock)."""
    activity = sync_activity(state, installation_id)
    if activity is not None and activity.running:
        return True
    return (
        latest is not None
        and latest.status is RunStatus.RUNNING
        and shared_locks().busy(installation_id)
    )


async def _latest_run(state: AppState, installation_id: str) -> SyncRun | None:
    async with state.services.sessions() as session:
        runs = await list_runs(session=session, installation_id=installation_id, limit=1)
    return runs[0] if runs else None


async def sync_running(state: AppState, installation_id: str) -> bool:
    """Whether a sync of this installation is running now (see `running_now`)."""
    return running_now(state, installation_id, await _latest_run(state, installation_id))


@dataclass(frozen=True)
class SyncStatus:
    state: str  # not_set_up | no_audience | running | never_run | completed | failed | ...
    text: str
    running: bool = False
    progress: Progress | None = None  # the running "Sync now"'s last report


def _counts_text(counts: dict[str, Any]) -> str:
    if counts.get("read") == 0 and not counts.get("erased"):
        return "nothing changed on your platform since the sync before"
    failed = sum(int(v) for v in (counts.get("failed") or {}).values())
    parts = [
        f"{int(counts.get('created', 0)):,} added",
        f"{int(counts.get('updated', 0)):,} updated",
        f"{int(counts.get('unchanged', 0)):,} unchanged",
    ]
    if failed:
        parts.append(f"{failed:,} failed")
    return ", ".join(parts)


def _when(at: datetime) -> str:
    return at.strftime("%d %b %Y %H:%M UTC")


def status_of(
    state: AppState,
    installation_id: str,
    setup: SyncSetup,
    runs: Sequence[SyncRun],
) -> SyncStatus:
    """The status line from the setup and the newest runs (newest first)."""
    latest = runs[0] if runs else None
    if running_now(state, installation_id, latest):
        activity = sync_activity(state, installation_id)
        progress = activity.progress if activity is not None else None
        return SyncStatus(
            state="running",
            text="Syncing now…",
            running=True,
            progress=progress if isinstance(progress, Progress) else None,
        )
    if setup.list_id is None:
        return SyncStatus(state="no_audience", text="Choose an audience to start syncing.")
    if setup.config is None:
        return SyncStatus(
            state="not_set_up", text="Sync not set up yet: choose the fields to sync."
        )
    last = next((run for run in runs if not run.dry_run), None)
    if last is None:
        return SyncStatus(state="never_run", text="Ready: no sync has run yet.")
    when = _when(last.finished_at or last.started_at)
    counts = dict(last.counts)
    if last.status is RunStatus.COMPLETED:
        text = f"Last sync {when}: complete — {_counts_text(counts)}."
    elif last.status is RunStatus.RUNNING:
        text = f"A sync started {_when(last.started_at)} did not finish; the next one resumes it."
    else:
        text = f"Last sync {when} stopped: {last.message or 'the sync page has the details.'}"
    return SyncStatus(state=last.status.value, text=text)


async def recent_runs(state: AppState, installation_id: str, limit: int) -> list[SyncRun]:
    async with state.services.sessions() as session:
        return await list_runs(session=session, installation_id=installation_id, limit=limit)


async def sync_status(state: AppState, installation: Installation) -> SyncStatus:
    """The one-line sync status of an installation (the home page's cards)."""
    setup = await load_setup(state, installation.id)
    return status_of(state, installation.id, setup, await recent_runs(state, installation.id, 5))


def last_error(state: AppState, installation_id: str) -> str | None:
    """Why the last "Sync now" of this process did not run, in the user's words."""
    activity = sync_activity(state, installation_id)
    if activity is None or activity.running or activity.error is None:
        return None
    if isinstance(activity.error, ConnectError):
        return activity.error.user_message
    return "The last sync stopped on an unexpected error; the next sync resumes where it stopped."
