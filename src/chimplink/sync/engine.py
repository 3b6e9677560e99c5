"""`run_sync`: one outbound sync run for one installation, start to finish.

    report = await run_sync(sessions=sessions, installation_id=installation.id,
                            client=client, connector=connector, progress=bar.update)

1. read the settings (store/sync_config.py) and record the run (sync_runs);
2. check the audience, create missing merge fields (mapping.ensure_merge_fields);
3. take in what changed in Mailchimp since the last reconciliation pass
   (reconcile.py), so the contacts sent in step 5 carry it;
4. erasures after their checkpoint: suppress, forget, delete permanently if enabled;
5. contacts after their checkpoint: plan, send, commit (runner.py);
6. close the run with its counts; on a 401 flag the installation
   (`mark_needs_reconnect`) so the UI asks the user to reconnect.

Why step 3: a changed contact is sent whole (every mapped field), so a change
made in Mailchimp that chimplink has not applied yet (its webhook is late or
lost) would be overwritten with the platform's stale value. Draining the
inbox first is not enough for lost webhooks; a reconciliation pass lists the
members changed since its watermark (one page in the usual case) and applies
them. It runs only once the installation has a watermark, i.e. after the
first, full pass of the reconciliation job: that one lists the whole
audience, which is no work to put in front of a sync. Its reads are not in
the run's call counts. A change made in Mailchimp *while* the run sends can
still be overwritten; the next pass of either kind does not bring it back.

A dry run skips step 3 and does steps 1-5 reading only: nothing is written to
Mailchimp, the platform or the sync state (the run itself is recorded,
flagged `dry_run`). `full=True` re-reads every contact and ignores content
hashes (parked records are tried again too); suppressions still apply.

The jobs layer must run one sync per installation at a time; a run row left
"running" by a dead process is closed as interrupted by the next run.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chimplink.mailchimp import MailchimpClient, MailchimpError, MailingList
from chimplink.platforms import Connector, ConnectorError
from chimplink.store.installations import mark_needs_reconnect
from chimplink.store.sync_config import SyncConfig, get_sync_config, save_resolved_mapping
from chimplink.store.sync_state import (
    RunStatus,
    SyncRun,
    finish_run,
    get_checkpoint,
    start_run,
)
from chimplink.sync.classify import Action, Decision, classify
from chimplink.sync.mapping import MemberPolicy, SyncConfigError, ensure_merge_fields
from chimplink.sync.reconcile import RECONCILE_STREAM, reconcile
from chimplink.sync.report import ProgressCallback, SyncOptions, SyncReport
from chimplink.sync.runner import CallCounter, Halt, Runner, to_completion
from chimplink.sync.streams import CONTACTS, ERASURES, count_contacts

__all__ = ["SyncNotConfigured", "run_sync"]

_log = structlog.get_logger("chimplink.sync")


class SyncNotConfigured(LookupError):
    """The installation has no sync settings yet (no audience chosen)."""


def _halt_for(decision: Decision) -> Halt:
    if decision.action is Action.NEEDS_RECONNECT:
        return Halt(RunStatus.NEEDS_RECONNECT, decision.user_message, decision)
    if decision.action is Action.RETRY_LATER:
        return Halt(RunStatus.FAILED, decision.user_message, decision)
    if decision.action is Action.FATAL_CONFIG:
        return Halt(RunStatus.FAILED, decision.user_message, decision)
    # A per-record error during setup (e.g. a merge field Mailchimp refuses)
    # is a configuration problem for the run as a whole.
    detail = f" ({decision.detail})" if decision.detail else ""
    return Halt(
        RunStatus.FAILED,
        f"Mailchimp refused the sync settings{detail}. Check the audience and field mapping.",
        decision,
    )


def _plan_warning(
    *, limit: int, total_subscribers: int, adding: int, audience_size: int | None
) -> str | None:
    projected = total_subscribers + adding
    if projected <= limit:
        return None
    audience = f" (this audience has {audience_size:,})" if audience_size is not None else ""
    return (
        f"This sync adds about {adding:,} contacts to the account's {total_subscribers:,}"
        f"{audience}: about {projected:,} in all, over the plan's limit of {limit:,}. "
        "Mailchimp may bill the extra contacts or ask for a plan upgrade."
    )


async def _audience(client: MailchimpClient, list_id: str, calls: CallCounter) -> MailingList:
    calls("read")
    return await client.lists.get(list_id, fields=["id", "name", "double_optin", "stats"])


async def _existing_members(
    client: MailchimpClient, list_id: str, *, limit: int, calls: CallCounter
) -> dict[str, str] | None:
    """subscriber hash → status of the audience's members, or None if there are too many."""
    page = 1000
    found: dict[str, str] = {}
    seen = 0
    try:
        # `limit` ends the walk itself: the pages are never abandoned half-read.
        async for member in client.lists.members.iterate(
            list_id, fields=["id", "status"], page_size=page, limit=limit + 1
        ):
            seen += 1
            if member.id:
                found[member.id] = member.status or ""
    finally:
        calls.reads += max(1, -(-seen // page))
    return None if seen > limit else found


async def run_sync(
    *,
    sessions: async_sessionmaker[AsyncSession],
    installation_id: str,
    client: MailchimpClient,
    connector: Connector,
    full: bool = False,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    options: SyncOptions | None = None,
) -> SyncReport:
    """Run one sync (or dry run) and return its report (also stored with the run).

    Raises SyncNotConfigured when no audience is set up. Mailchimp and
    platform failures do not raise: they end the run with a status and a
    message (`report.status`, `report.message`); a 401 also marks the
    installation as needing a reconnect.
    """
    opts = options or SyncOptions()
    started = opts.clock()
    config, run, contacts_after, erasures_after = await to_completion(
        _start(sessions, installation_id=installation_id, dry_run=dry_run, full=full)
    )
    report = SyncReport(installation_id=installation_id, run_id=run.id, dry_run=dry_run, full=full)
    calls = CallCounter()
    halt: Halt | None = None
    complete = False
    try:
        complete, halt = await _run(
            sessions=sessions,
            config=config,
            client=client,
            connector=connector,
            report=report,
            calls=calls,
            options=opts,
            full=full,
            dry_run=dry_run,
            progress=progress,
            contacts_after=contacts_after,
            erasures_after=erasures_after,
        )
    except BaseException as error:
        report.status = RunStatus.FAILED
        report.message = (
            "The run was cancelled; the next run resumes where it stopped."
            if isinstance(error, asyncio.CancelledError)
            else "The run stopped on an unexpected error; the next run resumes where it stopped."
        )
        report.api_calls, report.write_calls = calls.total, calls.writes
        report.elapsed = opts.clock() - started
        try:
            await to_completion(_finish(sessions, report, installation_id=installation_id))
        except Exception:  # the original error matters more than the bookkeeping
            _log.exception("sync.finish_failed", installation_id=installation_id)
        raise
    report.api_calls, report.write_calls = calls.total, calls.writes
    report.elapsed = opts.clock() - started
    if halt is not None:
        report.status, report.message = halt.status, halt.message
    elif complete:
        report.status = RunStatus.COMPLETED
    else:
        report.status = RunStatus.FAILED
        left = sum(report.retrying.values())
        report.message = (
            f"{left:,} record(s) could not be synced now; they will be sent again on the next run."
        )
    await to_completion(_finish(sessions, report, installation_id=installation_id))
    _log.info(
        "sync.finished",
        installation_id=installation_id,
        run_id=run.id,
        status=report.status.value,
        dry_run=dry_run,
        **{k: v for k, v in report.counts().items() if isinstance(v, int)},
    )
    return report


async def _start(
    sessions: async_sessionmaker[AsyncSession], *, installation_id: str, dry_run: bool, full: bool
) -> tuple[SyncConfig, SyncRun, str | None, str | None]:
    """Read the settings and checkpoints, and record the run, in one transaction."""
    async with sessions.begin() as session:
        config = await get_sync_config(session=session, installation_id=installation_id)
        if config is None:
            raise SyncNotConfigured(
                "This installation has no sync settings yet: choose an audience first."
            )
        run = await start_run(
            session=session, installation_id=installation_id, dry_run=dry_run, full=full
        )
        contacts_after = (
            None
            if full
            else await get_checkpoint(
                session=session, installation_id=installation_id, stream=CONTACTS
            )
        )
        erasures_after = await get_checkpoint(
            session=session, installation_id=installation_id, stream=ERASURES
        )
    return config, run, contacts_after, erasures_after


async def _finish(
    sessions: async_sessionmaker[AsyncSession], report: SyncReport, *, installation_id: str
) -> None:
    assert report.run_id is not None
    async with sessions.begin() as session:
        await finish_run(
            session=session,
            run_id=report.run_id,
            status=report.status,
            counts=report.counts(),
            message=report.message,
        )
        if report.status is RunStatus.NEEDS_RECONNECT:
            await mark_needs_reconnect(session=session, installation_id=installation_id)


async def _run(
    *,
    sessions: async_sessionmaker[AsyncSession],
    config: SyncConfig,
    client: MailchimpClient,
    connector: Connector,
    report: SyncReport,
    calls: CallCounter,
    options: SyncOptions,
    full: bool,
    dry_run: bool,
    progress: ProgressCallback | None,
    contacts_after: str | None,
    erasures_after: str | None,
) -> tuple[bool, Halt | None]:
    """The run's steps; returns (every record acknowledged, why it stopped early)."""
    installation_id = config.installation_id
    list_id = config.list_id
    total_subscribers: int | None = None
    try:
        audience = await _audience(client, list_id, calls)
        fields = await connector.describe_fields()
        plan = await ensure_merge_fields(
            client, list_id, config.field_map, fields, create=not dry_run, on_call=calls
        )
        report.merge_fields_created = list(plan.created)
        audience_double_optin = bool(audience.double_optin)
        field_types = {f.tag: f.type for f in plan.fields}
        if not dry_run and (
            plan.field_map != dict(config.field_map)
            or field_types != dict(config.field_types)
            or audience_double_optin != config.audience_double_optin
        ):
            await to_completion(
                _save_resolved(
                    sessions,
                    installation_id=installation_id,
                    field_map=plan.field_map,
                    field_types=field_types,
                    audience_double_optin=audience_double_optin,
                )
            )
        first_sync = contacts_after is None
        if config.plan_contact_limit is not None and (first_sync or dry_run):
            calls("read")
            root = await client.root.get(fields=["total_subscribers"])
            total_subscribers = root.total_subscribers or 0
        existing: dict[str, str] | None = None
        if dry_run:
            existing = await _existing_members(
                client, list_id, limit=options.dry_run_lookup_limit, calls=calls
            )
        else:
            await _take_in_mailchimp_changes(
                sessions, installation_id=installation_id, client=client, connector=connector
            )
        total = await count_contacts(connector, after=contacts_after)
    except MailchimpError as exc:
        return False, _halt_for(classify(exc))
    except (SyncConfigError, ConnectorError) as exc:
        return False, Halt(RunStatus.FAILED, str(exc))

    policy = MemberPolicy(
        list_id=list_id,
        fields=plan.fields,
        sync_labels=config.sync_labels,
        label_tags=config.label_tags,
        no_consent=config.no_consent,
        double_optin=config.double_optin or audience_double_optin,
    )
    runner = Runner(
        sessions=sessions,
        installation_id=installation_id,
        client=client,
        connector=connector,
        list_id=list_id,
        policy=policy,
        managed_tags=config.managed_tags,
        options=options,
        report=report,
        calls=calls,
        full=full,
        progress=progress,
        total=total,
    )
    if total is not None and total_subscribers is not None and config.plan_contact_limit:
        warning = _plan_warning(
            limit=config.plan_contact_limit,
            total_subscribers=total_subscribers,
            adding=total,
            audience_size=_audience_size(audience),
        )
        if warning and not dry_run:
            report.warnings.append(warning)
    try:
        erasures_done = await runner.sync_erasures(
            after=erasures_after, delete=config.erase_permanently, dry_run=dry_run
        )
        if runner.halt is not None:
            return False, runner.halt
        if dry_run:
            await runner.preview_contacts(after=contacts_after, existing=existing)
            complete = True
        else:
            complete = await runner.sync_contacts(after=contacts_after)
    except ConnectorError as exc:
        return False, Halt(RunStatus.FAILED, f"The platform's data could not be read: {exc}")
    if total_subscribers is not None and config.plan_contact_limit is not None:
        adding = report.created + report.create_or_update
        warning = _plan_warning(
            limit=config.plan_contact_limit,
            total_subscribers=total_subscribers,
            adding=adding,
            audience_size=_audience_size(audience),
        )
        if warning and not report.warnings:
            report.warnings.append(warning)
    return complete and erasures_done, runner.halt


async def _take_in_mailchimp_changes(
    sessions: async_sessionmaker[AsyncSession],
    *,
    installation_id: str,
    client: MailchimpClient,
    connector: Connector,
) -> None:
    """Step 3 of the module docstring: a reconciliation pass, once there is a watermark."""
    async with sessions() as session:
        watermark = await get_checkpoint(
            session=session, installation_id=installation_id, stream=RECONCILE_STREAM
        )
    if watermark is None:
        return
    await reconcile(
        sessions=sessions, installation_id=installation_id, client=client, connector=connector
    )


async def _save_resolved(
    sessions: async_sessionmaker[AsyncSession],
    *,
    installation_id: str,
    field_map: dict[str, str],
    field_types: dict[str, str],
    audience_double_optin: bool,
) -> None:
    async with sessions.begin() as session:
        await save_resolved_mapping(
            session=session,
            installation_id=installation_id,
            field_map=field_map,
            field_types=field_types,
            audience_double_optin=audience_double_optin,
        )


def _audience_size(audience: MailingList) -> int | None:
    value = audience.stats.get("member_count") if audience.stats else None
    return int(value) if isinstance(value, int | float) else None
