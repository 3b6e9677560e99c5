"""What push and pull share: the run record, the worker pool, outcomes and progress."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chimplink.mailchimp import MAILCHIMP_CONNECTION_LIMIT, MailchimpClient, MailchimpError
from chimplink.store.files import TransferDirection, finish_file_run, start_file_run
from chimplink.store.installations import mark_needs_reconnect
from chimplink.store.sync_state import RunStatus
from chimplink.sync.classify import Action, Decision, classify
from chimplink.sync.files.report import (
    FileAction,
    FileOptions,
    FileOutcome,
    FileProgress,
    FileProgressCallback,
    FileReport,
)
from chimplink.sync.runner import Halt, to_completion

__all__ = ["GroupWriter", "Transfer", "halt_for", "run_pool"]

T = TypeVar("T")
Write = Callable[[AsyncSession], Awaitable[T]]

_log = structlog.get_logger("chimplink.sync")
_FAILURES = (FileAction.REJECTED, FileAction.FAILED)


def halt_for(decision: Decision) -> Halt:
    """A failure that ends the run (not just one file's part of it)."""
    status = (
        RunStatus.NEEDS_RECONNECT if decision.action is Action.NEEDS_RECONNECT else RunStatus.FAILED
    )
    return Halt(status, decision.user_message, decision)


async def run_pool(
    source: AsyncIterator[T],
    work: Callable[[T], Awaitable[None]],
    *,
    workers: int,
    halted: Callable[[], bool],
) -> bool:
    """`work` on every item of `source`, `workers` at a time; True if the source was exhausted.

    The queue holds a couple of items per worker, so memory does not grow
    with the number of items; once `halted()` the rest is not started.
    """
    queue: asyncio.Queue[T | None] = asyncio.Queue(maxsize=workers * 2)

    async def worker() -> None:
        while (item := await queue.get()) is not None:
            if not halted():
                await work(item)

    exhausted = True
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())
            async for item in source:
                if halted():
                    exhausted = False
                    break
                await queue.put(item)
            for _ in range(workers):
                await queue.put(None)
    except BaseExceptionGroup as failed:
        # Raise the (first) failure as itself, the source's or a worker's: several
        # workers failing at once fail alike, and callers handle plain exceptions.
        raise failed.exceptions[0] from None
    return exhausted and not halted()


class GroupWriter:
    """Short writes from many workers, committed together (a group commit).

    Each file costs two writes (the intent before its upload, the outcome
    after), and SQLite takes one writer at a time: a transaction per write
    would queue twenty workers behind each other. Here a write waits at most
    for the transaction in progress, then goes in the next one with every
    write that arrived meanwhile. A write's caller resumes only once its
    transaction has committed, so an intent is durable before its upload.
    A failed transaction fails every write in it. A worker cancelled while it
    waits does not cancel its write: the transaction runs to its end.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._queue: list[tuple[Write[Any], asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # nothing queued, nothing committing
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    async def write(self, work: Write[T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((work, future))
        self._idle.clear()
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._queue = self._queue, []
            if batch:
                await to_completion(self._commit(batch))
            if not self._queue:
                self._idle.set()

    async def _commit(self, batch: list[tuple[Write[Any], asyncio.Future[Any]]]) -> None:
        try:
            async with self._sessions.begin() as session:
                results = [await work(session) for work, _ in batch]
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def aclose(self) -> None:
        """Stop the writer once every write handed to it is committed."""
        await self._idle.wait()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


class Transfer:
    """One run's bookkeeping: the report, per-file outcomes, progress, why it stopped."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        installation_id: str,
        client: MailchimpClient,
        direction: TransferDirection,
        dry_run: bool,
        options: FileOptions,
        progress: FileProgressCallback | None,
    ) -> None:
        self.sessions = sessions
        self.installation_id = installation_id
        self.client = client
        self.options = options
        self.dry_run = dry_run
        self.progress = progress
        self.report = FileReport(
            installation_id=installation_id, direction=direction, dry_run=dry_run
        )
        self.halt: Halt | None = None
        self.total: int | None = None
        self.writer = GroupWriter(sessions)
        self._done = 0
        self._started = options.clock()
        self._failures: list[FileOutcome] = []
        self._others: list[FileOutcome] = []

    @property
    def workers(self) -> int:
        """Files in hand at once: twice the client's per-account slots by default.

        Requests never exceed the slots (the client's limiter queues the rest);
        the extra workers read the next photos and record outcomes while the
        slots are busy uploading, so the database work stays off the critical
        path. Memory: one file per worker, whatever the number of photos.
        """
        if self.options.workers is not None:
            return self.options.workers
        limit = getattr(self.client.limiter, "limit", None)
        slots = limit if isinstance(limit, int) and limit > 0 else MAILCHIMP_CONNECTION_LIMIT
        return 2 * slots

    def halted(self) -> bool:
        return self.halt is not None

    def stop(self, halt: Halt) -> None:
        if self.halt is None:
            self.halt = halt
            _log.warning(
                "files.stopped",
                installation_id=self.installation_id,
                direction=self.report.direction.value,
                reason=halt.decision.reason.value if halt.decision else None,
            )

    def stop_for(self, error: MailchimpError) -> None:
        self.stop(halt_for(classify(error)))

    def call(self) -> None:
        self.report.api_calls += 1

    # -- outcomes -------------------------------------------------------------------------

    def outcome(self, outcome: FileOutcome, *, done: bool = True) -> None:
        """Keep the outcome (failures first, up to the limit) and report progress."""
        kept = self._failures if outcome.action in _FAILURES else self._others
        if len(kept) < self.options.outcome_limit:
            kept.append(outcome)
        if done:
            self._done += 1
            self._report_progress()

    def _report_progress(self) -> None:
        if self.progress is None:
            return
        report = self.report
        elapsed = max(self.options.clock() - self._started, 1e-9)
        update = FileProgress(
            done=self._done,
            total=self.total,
            transferred=report.transferred,
            failed=report.rejected_total + report.failed_total,
            bytes=report.bytes,
            rate=self._done / elapsed,
        )
        try:
            self.progress(update)
        except Exception:
            # A broken progress bar must not fail a transfer Mailchimp acknowledged.
            _log.exception("files.progress_failed", installation_id=self.installation_id)

    # -- the run record -------------------------------------------------------------------

    async def start(self) -> None:
        async with self.sessions.begin() as session:
            run = await start_file_run(
                session=session,
                installation_id=self.installation_id,
                direction=self.report.direction,
                dry_run=self.dry_run,
            )
        self.report.run_id = run.id

    async def finish(self, *, complete: bool, error: BaseException | None = None) -> FileReport:
        """Close the run with its status and counts (also when the run raised `error`)."""
        await self.writer.aclose()
        report = self.report
        report.outcomes = (self._failures + self._others)[: self.options.outcome_limit * 2]
        report.elapsed = self.options.clock() - self._started
        if error is not None:
            report.status = RunStatus.FAILED
            report.message = (
                "The run was cancelled; the next run resumes where it stopped."
                if isinstance(error, asyncio.CancelledError)
                else "The run stopped on an unexpected error; the next run resumes where it "
                "stopped."
            )
        elif self.halt is not None:
            report.status, report.message = self.halt.status, self.halt.message
        elif complete and not report.failed:
            report.status = RunStatus.COMPLETED
        else:
            report.status = RunStatus.FAILED
            report.message = (
                f"{report.failed_total:,} file(s) could not be transferred now; "
                "they will be tried again on the next run."
            )
        await to_completion(self._write_finish())
        _log.info(
            "files.finished",
            installation_id=self.installation_id,
            run_id=report.run_id,
            direction=report.direction.value,
            status=report.status.value,
            dry_run=report.dry_run,
            transferred=report.transferred,
            unchanged=report.unchanged,
            rejected=report.rejected_total,
            failed=report.failed_total,
        )
        return report

    async def _write_finish(self) -> None:
        report = self.report
        assert report.run_id is not None
        async with self.sessions.begin() as session:
            await finish_file_run(
                session=session,
                run_id=report.run_id,
                status=report.status,
                counts=report.counts(),
                message=report.message,
            )
            if report.status is RunStatus.NEEDS_RECONNECT:
                await mark_needs_reconnect(session=session, installation_id=self.installation_id)
