"""Background work: one task API (`Task`, `run_task`), runners that schedule it.

`EmbeddedRunner` runs the built-in periodic tasks inside the web process
(started and stopped by the web app's lifespan). A distributed runner
(Procrastinate on PostgreSQL) will register the same `builtin_tasks()`.
"""

from chimplink.jobs.embedded import EmbeddedRunner
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
    "EmbeddedRunner",
    "Task",
    "builtin_tasks",
    "expire_oauth_states",
    "prune_api_calls",
    "remote_cleanup",
    "run_task",
]
