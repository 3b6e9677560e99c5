"""The embedded runner: periodic tasks as asyncio tasks inside the web process.

For one process on one machine (SQLite, `CHIMPLINK_JOBS=embedded`). Each task
runs once at start, then every `task.every`; a failure is logged (redacted)
and the task runs again at its next period. Tasks never overlap themselves.
`stop()` cancels them; the work they do is derivable from the database, so an
interrupted run is simply repeated later.

`spawn(name, work)` runs one-off work in the background (the web's "Sync
now"): at most one of a name at a time, cancelled by `stop()` too, failures
logged. While it runs, the work reports progress through the callable it is
given; `activity(name)` reads the last report, then the result or the error,
until work of that name is spawned again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import structlog

from chimplink.connect import ConnectError, Services
from chimplink.jobs.tasks import Task, builtin_tasks, run_task

__all__ = ["Activity", "EmbeddedRunner", "ProgressSink"]

_log = structlog.get_logger("chimplink.jobs")

# What spawned work calls with each progress snapshot (any object; a sync sends `Progress`).
ProgressSink = Callable[[object], None]


@dataclass
class Activity:
    """One piece of spawned work: its last progress while it runs, its outcome after."""

    name: str
    started_at: datetime
    finished_at: datetime | None = None
    progress: object | None = None  # the last snapshot the work reported
    result: object | None = None
    error: BaseException | None = None  # a ConnectError carries a message for users

    @property
    def running(self) -> bool:
        return self.finished_at is None


class EmbeddedRunner:
    def __init__(
        self,
        services: Services,
        tasks: Iterable[Task] | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._services = services
        self.tasks = tuple(builtin_tasks() if tasks is None else tasks)
        self._sleep = sleep
        self._running: list[asyncio.Task[None]] = []
        self._spawned: dict[str, asyncio.Task[None]] = {}
        self._activities: dict[str, Activity] = {}
        self.runs: dict[str, int] = {task.name: 0 for task in self.tasks}
        self.failures: dict[str, int] = {task.name: 0 for task in self.tasks}

    @property
    def services(self) -> Services:
        return self._services

    @property
    def started(self) -> bool:
        return bool(self._running)

    async def run_once(self, task: Task) -> bool:
        """Run `task` now; False (and a log line) if it failed."""
        try:
            result = await run_task(task, self._services)
        except Exception:
            self.failures[task.name] = self.failures.get(task.name, 0) + 1
            _log.exception("jobs.task_failed", task=task.name)
            return False
        self.runs[task.name] = self.runs.get(task.name, 0) + 1
        _log.debug("jobs.task_done", task=task.name, result=repr(result))
        return True

    async def _loop(self, task: Task) -> None:
        while True:
            await self.run_once(task)
            await self._sleep(task.every.total_seconds())

    async def start(self) -> None:
        if self._running:
            return
        loop = asyncio.get_running_loop()
        self._running = [
            loop.create_task(self._loop(task), name=f"chimplink-job:{task.name}")
            for task in self.tasks
        ]
        _log.info("jobs.started", tasks=[task.name for task in self.tasks])

    def spawn(self, name: str, work: Callable[[ProgressSink], Awaitable[object]]) -> bool:
        """Start `work(report_progress)` in the background; False if `name` is running."""
        if name in self._spawned:
            return False
        activity = Activity(name=name, started_at=self._services.clock())
        self._activities[name] = activity
        job = asyncio.get_running_loop().create_task(
            self._run_spawned(activity, work), name=f"chimplink-job:{name}"
        )
        self._spawned[name] = job
        job.add_done_callback(self._forget)
        return True

    def _forget(self, job: asyncio.Task[None]) -> None:
        name = job.get_name().removeprefix("chimplink-job:")
        if self._spawned.get(name) is job:
            del self._spawned[name]

    def activity(self, name: str) -> Activity | None:
        """The running or last finished work of this name (None: never spawned)."""
        return self._activities.get(name)

    async def _run_spawned(
        self, activity: Activity, work: Callable[[ProgressSink], Awaitable[object]]
    ) -> None:
        def report_progress(snapshot: object) -> None:
            activity.progress = snapshot

        try:
            activity.result = await work(report_progress)
        except asyncio.CancelledError as exc:
            activity.error = exc
            raise
        except ConnectError as exc:  # a refusal with a message for the user: not a bug
            activity.error = exc
            _log.warning("jobs.spawned_refused", job=activity.name, reason=exc.reason)
        except Exception as exc:
            activity.error = exc
            _log.exception("jobs.spawned_failed", job=activity.name)
        finally:
            activity.finished_at = self._services.clock()

    async def stop(self) -> None:
        """Cancel the periodic tasks and any spawned work, and wait for them to end."""
        running, self._running = self._running, []
        running += self._spawned.values()
        for job in running:
            job.cancel()
        await asyncio.gather(*running, return_exceptions=True)
