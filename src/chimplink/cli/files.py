"""`chimplink files push|pull [INSTALLATION] [--album A] [--dry-run]`: photos both ways, now.

`push` sends the platform's photos (all, one album, or the ones named with
`--photo`) to the installation's folder in Mailchimp's File Manager: new and
edited photos are uploaded, unchanged ones skipped, photos over a File
Manager limit refused before any call. `pull` imports File Manager images
(all, or the ones named with `--file`) into the platform, into `--album`
when given. Without INSTALLATION the only active installation is used.

It shows a progress bar while files go, then a summary table, and the files
that failed with the reason. A dry run lists what would happen and writes
nothing anywhere.

Exit codes: 0 the run completed and no file failed; 1 the run failed or
stopped early, or some files failed (the output says which); 2 bad usage or
configuration (unknown installation, no platform or one without photos,
database not migrated).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
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
from chimplink.jobs.file_tasks import NoPhotoLibrary, pull_files, push_files
from chimplink.jobs.inbound_tasks import ConnectorFactory
from chimplink.store import InstallationStatus, list_all_installations
from chimplink.store.sync_state import RunStatus
from chimplink.sync.files import FileAction, FileOptions, FileProgress, FileReport

__all__ = ["app"]

_LISTED_FAILURES = 20

app = typer.Typer(
    help="Photos both ways: the platform's photos and Mailchimp's File Manager.",
    no_args_is_help=True,
)

_INSTALLATION_HELP = "The installation (default: the only active one)."

Transfer = Callable[
    [Services, ConnectorFactory | None, str, "_ProgressUpdate"], Awaitable[FileReport]
]


@app.command("push")
def push(
    installation: str | None = typer.Argument(None, help=_INSTALLATION_HELP),
    album: str | None = typer.Option(None, "--album", help="Send only the photos of this album."),
    photos: list[str] | None = typer.Option(
        None, "--photo", help="Send only this photo (its key on the platform); repeat for more."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be sent; write nothing anywhere."
    ),
    delete_replaced: bool = typer.Option(
        False,
        "--delete-replaced",
        help="When an edited photo is sent again, delete its previous file in Mailchimp "
        "(campaigns that use it lose the image).",
    ),
) -> None:
    """Send the platform's photos to the installation's folder in Mailchimp's File Manager."""
    out = Out.standard()
    keys = [key.strip() for key in photos or []]
    if album is not None and not album.strip():
        _usage(out, "--album needs an album name.")
    if any(not key for key in keys):
        _usage(out, "--photo needs a photo key.")
    if album is not None and keys:
        _usage(out, "use --album or --photo, not both.")

    async def transfer(
        services: Services,
        connectors: ConnectorFactory | None,
        installation_id: str,
        progress: _ProgressUpdate,
    ) -> FileReport:
        return await push_files(
            services,
            installation_id,
            connectors=connectors,
            keys=keys or None,
            album=album,
            dry_run=dry_run,
            progress=progress,
            options=FileOptions(delete_replaced=delete_replaced),
        )

    _run(out, installation, transfer, verb="Sending photos from", dry_run=dry_run)


@app.command("pull")
def pull(
    installation: str | None = typer.Argument(None, help=_INSTALLATION_HELP),
    album: str | None = typer.Option(
        None, "--album", help="The platform album to import into (default: the platform's)."
    ),
    files: list[int] | None = typer.Option(
        None, "--file", min=1, help="Import only this File Manager file (its id); repeat for more."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be imported; write nothing anywhere."
    ),
) -> None:
    """Import images from Mailchimp's File Manager into the platform."""
    out = Out.standard()
    if album is not None and not album.strip():
        _usage(out, "--album needs an album name.")

    async def transfer(
        services: Services,
        connectors: ConnectorFactory | None,
        installation_id: str,
        progress: _ProgressUpdate,
    ) -> FileReport:
        return await pull_files(
            services,
            installation_id,
            connectors=connectors,
            file_ids=files or None,
            album=album,
            dry_run=dry_run,
            progress=progress,
        )

    _run(out, installation, transfer, verb="Importing images into", dry_run=dry_run)


def _usage(out: Out, text: str) -> None:
    out.problem(text)
    raise typer.Exit(BAD_USAGE)


def _run(
    out: Out, installation: str | None, transfer: Transfer, *, verb: str, dry_run: bool
) -> None:
    async def main(settings: Settings, secrets: Secrets) -> int:
        return await _main(
            settings, secrets, out, installation, transfer, verb=verb, dry_run=dry_run
        )

    run_command(out, main, interrupted="interrupted; the next run picks up where this one stopped.")


async def _main(
    settings: Settings,
    secrets: Secrets,
    out: Out,
    installation: str | None,
    transfer: Transfer,
    *,
    verb: str,
    dry_run: bool,
) -> int:
    async with open_platform(settings, secrets, out) as (services, connectors):
        installation_id = installation or await _only_installation(services, out)
        if installation_id is None:
            return BAD_USAGE
        out.console.print(
            f"[bold]{'Dry run: ' if dry_run else ''}{verb} the platform[/bold] "
            f"(installation {installation_id})",
            highlight=False,
        )
        try:
            with _progress_bar(out.console, dry_run=dry_run) as progress:
                report = await transfer(services, connectors, installation_id, progress)
        except NoPhotoLibrary as exc:
            out.problem(f"installation {installation_id}: {exc.reason or exc.user_message}.")
            return BAD_USAGE
        except ConnectError as exc:
            return connect_problem(out, installation_id, exc, nothing="transferred")
    _show_summary(out.console, report)
    _show_files(out.console, report)
    return _exit_code(report, out)


async def _only_installation(services: Services, out: Out) -> str | None:
    async with services.sessions() as session:
        active = await list_all_installations(session=session, status=InstallationStatus.ACTIVE)
    if len(active) == 1:
        return active[0].id
    if not active:
        out.problem("no active installation: connect a Mailchimp account in the web app first.")
    else:
        listed = ", ".join(f"{i.id} ({i.account_name})" for i in active)
        out.problem(f"{len(active)} active installations; name one of: {listed}")
    return None


@contextmanager
def _progress_bar(console: Console, *, dry_run: bool) -> Iterator[_ProgressUpdate]:
    """A bar fed by the engine's progress callback (sent after each file)."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        TextColumn("{task.fields[rate]:,.1f}/s"),
        TextColumn("{task.fields[megabytes]:,.1f} MB"),
        TimeElapsedColumn(),
    )
    description = "planning (dry run)" if dry_run else "files"
    with Progress(*columns, console=console, transient=dry_run) as bar:
        yield _ProgressUpdate(bar, bar.add_task(description, total=None, rate=0.0, megabytes=0.0))


class _ProgressUpdate:
    def __init__(self, bar: Progress, task: TaskID) -> None:
        self._bar, self._task = bar, task

    def __call__(self, update: FileProgress) -> None:
        self._bar.update(
            self._task,
            completed=update.done,
            total=update.total,
            rate=update.rate,
            megabytes=update.bytes / 1_000_000,
        )


def _count_rows(report: FileReport) -> list[tuple[str, str]]:
    would = "would be " if report.dry_run else ""
    rows: list[tuple[str, str]] = []
    if report.direction.value == "push":
        rows += [
            (f"{would}uploaded", f"{report.uploaded:,}"),
            ("  of which new versions of edited photos", f"{report.replaced:,}"),
        ]
        if report.reconciled:
            rows.append(
                ("found in Mailchimp (upload unconfirmed before)", f"{report.reconciled:,}")
            )
        if report.deleted_old:
            rows.append(("previous versions deleted in Mailchimp", f"{report.deleted_old:,}"))
    else:
        rows += [
            (f"{would}imported", f"{report.imported:,}"),
            ("skipped (sent from this platform, or not an image)", f"{report.skipped:,}"),
        ]
    rows.append(("unchanged", f"{report.unchanged:,}"))
    rows += [
        (f"{'would be refused' if report.dry_run else 'refused'}: {reason}", f"{count:,}")
        for reason, count in sorted(report.rejected.items())
    ]
    rows += [
        (f"left for the next run: {reason}", f"{count:,}")
        for reason, count in sorted(report.failed.items())
    ]
    return rows


def _show_summary(console: Console, report: FileReport) -> None:
    what = "Push" if report.direction.value == "push" else "Pull"
    status = report.status.value.replace("_", " ")
    title = f"{'Dry run of the ' + what.lower() if report.dry_run else what}: {status}"
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in _count_rows(report):
        table.add_row(label, value)
    table.add_section()
    table.add_row("files read", f"{report.read:,}")
    table.add_row("data", f"{report.bytes / 1_000_000:,.1f} MB")
    table.add_row("API calls", f"{report.api_calls:,}")
    table.add_row("elapsed", f"{report.elapsed:.1f} s")
    console.print(table)
    if report.dry_run:
        console.print(
            "[bold]Dry run: nothing was written[/bold] to Mailchimp, to the platform or to "
            "chimplink's file state.",
            highlight=False,
        )


def _show_files(console: Console, report: FileReport) -> None:
    """The failures; in a dry run also what would be transferred."""
    shown_actions = {FileAction.REJECTED, FileAction.FAILED}
    if report.dry_run:
        shown_actions |= {FileAction.UPLOAD, FileAction.REPLACE, FileAction.IMPORT}
    listed = [o for o in report.outcomes if o.action in shown_actions][:_LISTED_FAILURES]
    if not listed:
        return
    title = "What would happen" if report.dry_run else "Files that failed in this run"
    table = Table(title=title, title_justify="left")
    for name in ("key" if report.direction.value == "push" else "file id", "name", "what", "why"):
        table.add_column(name)
    for outcome in listed:
        table.add_row(outcome.key, outcome.name, outcome.action.value, outcome.detail or "")
    console.print(table)
    total = sum(1 for o in report.outcomes if o.action in shown_actions)
    if total > len(listed):
        console.print(f"… and {total - len(listed):,} more.", highlight=False)


def _exit_code(report: FileReport, out: Out) -> int:
    if report.status is not RunStatus.COMPLETED:
        status = report.status.value.replace("_", " ")
        out.problem(f"the run did not complete ({status}): {report.message or 'see the log'}")
        return FAILED
    if not report.dry_run and report.rejected_total:
        out.problem(
            f"{report.rejected_total:,} file(s) refused ("
            + ", ".join(f"{reason}: {n:,}" for reason, n in sorted(report.rejected.items()))
            + "); they are not sent again until they change."
        )
        return FAILED
    return OK
