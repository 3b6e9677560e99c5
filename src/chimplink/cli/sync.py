"""`chimplink sync [INSTALLATION] [--full] [--dry-run]`: sync contacts now, and say what happened.

Without INSTALLATION it syncs every active installation that has sync
settings, one after another (one installation or many, the same rule);
installations waiting for a reconnect are named and passed over. Each run
goes through `jobs.sync_installation`, as the web's "Sync now" and the
periodic task do: Mailchimp's pending webhook changes are applied to the
platform first, then the platform's contacts are sent.

It shows a progress bar while contacts are sent (records, rate, time left),
then a summary table per installation (created, updated, unchanged,
skipped, failed by reason, API calls, time), and the records that failed in
this run with Mailchimp's reason. A dry run lists what would happen and
writes nothing.

Exit codes: 0 every run completed and no record failed; 1 a run failed or
stopped early, or some records failed (the output says which); 2 bad usage
or configuration (unknown installation, no platform configured, no sync
settings, database not migrated).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from chimplink.cli._common import (
    BAD_USAGE,
    FAILED,
    OK,
    Out,
    connect_problem,
    open_platform,
    run_command,
)
from chimplink.config import Secrets, Settings
from chimplink.connect import ConnectError, Services
from chimplink.jobs import (
    NoPlatform,
    SyncNotReady,
    ready_installations,
    sync_installation,
)
from chimplink.jobs.inbound_tasks import ConnectorFactory
from chimplink.store import InstallationStatus, find_installation, list_all_installations
from chimplink.store.sync_config import get_sync_config
from chimplink.store.sync_state import RecordOutcome, RunStatus, SyncRecord, get_run, list_records
from chimplink.sync import Progress as SyncProgress
from chimplink.sync import SyncReport

__all__ = ["run"]

# Failed records listed after a run; the web UI pages through all of them.
_LISTED_FAILURES = 20
# Pages of 100 records looked through for them: older failures are not listed, and a
# backlog of them must not make the summary slow.
_SCANNED_PAGES = 50


def run(*, installation: str | None, full: bool, dry_run: bool) -> None:
    out = Out.standard()

    async def main(settings: Settings, secrets: Secrets) -> int:
        return await _main(
            settings, secrets, out, installation=installation, full=full, dry_run=dry_run
        )

    run_command(out, main, interrupted="interrupted; the next run resumes where this one stopped.")


async def _main(
    settings: Settings,
    secrets: Secrets,
    out: Out,
    *,
    installation: str | None,
    full: bool,
    dry_run: bool,
) -> int:
    async with open_platform(settings, secrets, out) as (services, connectors):
        if connectors is None:
            out.problem(
                "no platform is configured to sync with: set CHIMPLINK_CONNECTOR "
                "(demo, sql, push or python:<module>:<function>) and CHIMPLINK_CONNECTOR_URL."
            )
            return BAD_USAGE
        targets = [installation] if installation else await _all_targets(services, out)
        code = OK
        for installation_id in targets:
            code = max(
                code,
                await _sync_one(
                    services, connectors, installation_id, out, full=full, dry_run=dry_run
                ),
            )
        return code


async def _all_targets(services: Services, out: Out) -> list[str]:
    """Every ready installation; the paused ones are named, not synced."""
    ready = [found.id for found in await ready_installations(services)]
    async with services.sessions() as session:
        paused = [
            found.id
            for found in await list_all_installations(
                session=session, status=InstallationStatus.NEEDS_RECONNECT
            )
            if await get_sync_config(session=session, installation_id=found.id) is not None
        ]
    for installation_id in paused:
        out.errors.print(
            f"[yellow]Installation {installation_id} is skipped: Mailchimp no longer accepts "
            "its access; the account owner must reconnect it.[/yellow]",
            highlight=False,
        )
    if not ready:
        out.console.print(
            "Nothing to sync: no active installation has sync settings yet "
            "(connect an account and choose its audience in the web app first).",
            highlight=False,
        )
    return ready


async def _sync_one(
    services: Services,
    connectors: ConnectorFactory,
    installation_id: str,
    out: Out,
    *,
    full: bool,
    dry_run: bool,
) -> int:
    async with services.sessions() as session:
        found = await find_installation(session=session, installation_id=installation_id)
    if found is not None:
        mode = "Dry run of" if dry_run else ("Full sync of" if full else "Syncing")
        out.console.print(
            f"[bold]{mode} {found.account_name}[/bold] (installation {installation_id})",
            highlight=False,
        )
    try:
        with _progress_bar(out.console, dry_run=dry_run) as on_progress:
            report = await sync_installation(
                services,
                installation_id,
                connectors=connectors,
                full=full,
                dry_run=dry_run,
                progress=on_progress,
            )
    except NoPlatform as exc:
        out.problem(f"installation {installation_id}: {exc.reason or exc.user_message}")
        return BAD_USAGE
    except SyncNotReady as exc:
        out.problem(f"installation {installation_id}: {exc.user_message}")
        return BAD_USAGE
    except ConnectError as exc:
        return connect_problem(out, installation_id, exc, nothing="synced")
    _show_summary(out.console, report)
    failures = [] if dry_run else await _failed_records(services, report)
    _show_failures(out.console, report, failures)
    return _exit_code(report, out)


@contextmanager
def _progress_bar(console: Console, *, dry_run: bool) -> Iterator[_ProgressBar]:
    """A bar fed by the engine's progress callback (sent after each committed chunk)."""
    bar = _ProgressBar(console)
    # A dry run reports no progress while it plans: say what is going on instead.
    status = console.status("Planning (dry run: nothing is written)…") if dry_run else None
    try:
        if status is not None:
            status.start()
        yield bar
    finally:
        if status is not None:
            status.stop()
        bar.stop()


class _ProgressBar:
    """Shown from the first progress report on: a run that stops before sending
    anything (refused, nothing to do) prints no empty bar."""

    _COLUMNS = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("records"),
        TextColumn("{task.fields[rate]:,.0f}/s"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
    )

    def __init__(self, console: Console) -> None:
        self._console = console
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, update: SyncProgress) -> None:
        if self._bar is None or self._task is None:
            self._bar = Progress(*self._COLUMNS, console=self._console)
            self._task = self._bar.add_task("contacts", total=update.total, rate=0.0)
            self._bar.start()
        self._bar.update(self._task, completed=update.done, total=update.total, rate=update.rate)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _count_rows(report: SyncReport) -> list[tuple[str, str]]:
    would = "would be " if report.dry_run else ""
    rows = [
        (f"{would}created", f"{report.created:,}"),
        (f"{would}updated", f"{report.updated:,}"),
    ]
    if report.create_or_update:
        label = f"{would}created or updated (the audience is too large to look up)"
        rows.append((label, f"{report.create_or_update:,}"))
    rows += [
        ("unchanged", f"{report.unchanged:,}"),
        (f"{would}skipped (no consent, or erased)", f"{report.skipped:,}"),
        ("not retried (failed before, unchanged since)", f"{report.parked:,}"),
    ]
    rows += [
        (f"{'would fail' if report.dry_run else 'failed'}: {reason}", f"{count:,}")
        for reason, count in sorted(report.failed.items())
    ]
    rows += [
        (f"left for the next run: {reason}", f"{count:,}")
        for reason, count in sorted(report.retrying.items())
    ]
    if report.erased:
        rows.append((f"{would}erased", f"{report.erased:,}"))
    return rows


def _show_summary(console: Console, report: SyncReport) -> None:
    title = f"{'Dry run' if report.dry_run else 'Sync'}: {report.status.value.replace('_', ' ')}"
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in _count_rows(report):
        table.add_row(label, value)
    table.add_section()
    table.add_row("contacts read", f"{report.read:,}")
    table.add_row("API calls (writes)", f"{report.api_calls:,} ({report.write_calls:,})")
    rate = report.read / report.elapsed if report.elapsed > 0 else 0.0
    table.add_row("elapsed", f"{report.elapsed:.1f} s ({rate:,.0f} contacts/s)")
    console.print(table)
    if report.merge_fields_created:
        done = "that would be created" if report.dry_run else "created"
        console.print(
            f"Merge fields {done}: {', '.join(report.merge_fields_created)}", highlight=False
        )
    for warning in report.warnings:
        console.print(f"[yellow]Warning: {warning}[/yellow]", highlight=False)
    if report.dry_run:
        console.print(
            "[bold]Dry run: nothing was written[/bold] to Mailchimp, to the platform or to "
            "chimplink's sync state.",
            highlight=False,
        )
        _show_preview(console, report)


def _show_preview(console: Console, report: SyncReport) -> None:
    if not report.preview:
        console.print("Nothing would change.")
        return
    table = Table(title="What would happen", title_justify="left")
    for name in ("action", "key", "email", "detail"):
        table.add_column(name)
    for change in report.preview:
        table.add_row(change.action, change.platform_key, change.email, change.detail or "")
    console.print(table)
    listed = len(report.preview)
    total = (
        report.created
        + report.updated
        + report.create_or_update
        + report.skipped
        + report.erased
        + report.failed_total
        + sum(report.retrying.values())
    )
    if total > listed:
        console.print(f"… and {total - listed:,} more.", highlight=False)


async def _failed_records(services: Services, report: SyncReport) -> list[SyncRecord]:
    """Records this run failed (parked) or left for the next run, by key."""
    if not report.failed and not report.retrying:
        return []
    async with services.sessions() as session:
        run = await get_run(session=session, run_id=report.run_id) if report.run_id else None
        if run is None:
            return []
        found: list[SyncRecord] = []
        for outcome in (RecordOutcome.PARKED, RecordOutcome.FAILED):
            after: str | None = None
            for _ in range(_SCANNED_PAGES):
                if len(found) >= _LISTED_FAILURES:
                    break
                page = await list_records(
                    session=session,
                    installation_id=report.installation_id,
                    outcome=outcome,
                    after_key=after,
                )
                if not page:
                    break
                found += [r for r in page if r.updated_at >= run.started_at]
                after = page[-1].platform_key
    return found[:_LISTED_FAILURES]


def _show_failures(console: Console, report: SyncReport, records: list[SyncRecord]) -> None:
    if not records:
        return
    table = Table(title="Records that failed in this run", title_justify="left")
    for name in ("key", "email", "outcome", "reason"):
        table.add_column(name)
    for record in records:
        outcome = "not retried" if record.outcome is RecordOutcome.PARKED else "retried next run"
        table.add_row(record.platform_key, record.email, outcome, record.reason or "")
    console.print(table)
    total = report.failed_total + sum(report.retrying.values())
    if total > len(records):
        console.print(
            f"… and {total - len(records):,} more (see the web app's sync page).", highlight=False
        )


def _exit_code(report: SyncReport, out: Out) -> int:
    if report.status is not RunStatus.COMPLETED:
        status = report.status.value.replace("_", " ")
        out.problem(f"the run did not complete ({status}): {report.message or 'see the log'}")
        return FAILED
    if not report.dry_run and report.failed_total:
        out.problem(
            f"{report.failed_total:,} record(s) failed ("
            + ", ".join(f"{reason}: {n:,}" for reason, n in sorted(report.failed.items()))
            + "); they are not sent again until they change on the platform."
        )
        return FAILED
    return OK
