"""Background work: one task API (`Task`, `run_task`), runners that schedule it.

`EmbeddedRunner` runs the built-in periodic tasks inside the web process
(started and stopped by the web app's lifespan) and one-off work (`spawn`).
A distributed runner (Procrastinate on PostgreSQL) will register the same
`builtin_tasks()`. Contact sync: `sync_installation` (jobs/sync_tasks.py).
"""

from chimplink.jobs.embedded import Activity, EmbeddedRunner, ProgressSink
from chimplink.jobs.locks import InstallationLocks, shared_locks
from chimplink.jobs.sync_tasks import (
    SYNC_EVERY,
    NoPlatform,
    NoSyncSettings,
    SyncNotReady,
    ready_installations,
    start_sync,
    sync_installation,
    sync_installations,
    sync_job_name,
)
from chimplink.jobs.tasks import (
    API_CALL_RETENTION,
    Task,
    builtin_tasks,
    expire_oauth_states,
    prune_api_calls,
    remote_cleanup,
    run_task,
)

__all__ = [
    "API_CALL_RETENTION",
    "SYNC_EVERY",
    "Activity",
    "EmbeddedRunner",
    "InstallationLocks",
    "NoPlatform",
    "NoSyncSettings",
    "ProgressSink",
    "SyncNotReady",
    "Task",
    "builtin_tasks",
    "expire_oauth_states",
    "prune_api_calls",
    "ready_installations",
    "remote_cleanup",
    "run_task",
    "shared_locks",
    "start_sync",
    "sync_installation",
    "sync_installations",
    "sync_job_name",
]
