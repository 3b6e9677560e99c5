"""The embedded runner: periodic tasks as asyncio tasks inside the web process.

For one process on one machine (SQLite, `CHIMPLINK_JOBS=embedded`). Each task
runs once at start, then every `task.every`; a failure is logged (redacted)
and the task runs again at its next period. Tasks never overlap themselves.
`stop()` cancels them; the work they do is derivable from the database, so an
interrupted run is simply repeated later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

import structlog

from chimplink.connect import Services
from chimplink.jobs.tasks import Task, builtin_tasks, run_task

__all__ = ["EmbeddedRunner"]

_log = structlog.get_logger("chimplink.jobs")


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
        self.runs: dict[str, int] = {task.name: 0 for task in self.tasks}
        self.failures: dict[str, int] = {task.name: 0 for task in self.tasks}

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

    async def stop(self) -> None:
        running, self._running = self._running, []
        for job in running:
            job.cancel()
        await asyncio.gather(*running, return_exceptions=True)
