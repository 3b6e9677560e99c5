"""Contact sync pages of one installation: settings (mapping), preview, sync and outcomes.

    GET  /installations/{id}/sync/settings   the mapping form
    POST /installations/{id}/sync/settings   save it (action=save), or save and preview
    POST /installations/{id}/sync/preview    a dry run of the saved settings
    GET  /installations/{id}/sync            status, Sync now, recent runs, per-record outcomes
    POST /installations/{id}/sync            Sync now: one run in the background
    GET  /installations/{id}/sync/progress   the same status as JSON (for scripts and polling)

Every route resolves the id through `get_tenant_installation` first (an
unknown or foreign id is the one 404 page) and every POST checks the CSRF
token before anything else. Pages read the database only; the preview and
the sync reach Mailchimp through `chimplink.jobs` (under the installation's
lock, so a preview never runs beside a sync of the same installation).

Emails are the user's own contacts, shown to that user on these pages; they
are never logged (`SyncRecord` and `PlannedChange` keep them out of repr).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from chimplink.connect import ConnectError
from chimplink.jobs.sync_tasks import start_sync, sync_installation
from chimplink.platforms import Connector, ConnectorError, FieldSpec
from chimplink.store import Installation, InstallationStatus
from chimplink.store.sync_config import NoConsentPolicy, save_sync_config
from chimplink.store.sync_state import RecordOutcome, count_records, list_records, list_runs
from chimplink.sync import SyncReport
from chimplink.web.installation_pages import (
    connect_error_page,
    platform_unreadable,
    tenant_installation,
)
from chimplink.web.pages import BACK_HOME, Action
from chimplink.web.sessions import check_csrf, push_flash
from chimplink.web.state import AppState, State, Tenant
from chimplink.web.sync_form import SettingsForm
from chimplink.web.sync_status import (
    SyncSetup,
    last_error,
    load_setup,
    recent_runs,
    status_of,
    sync_running,
)
from chimplink.web.sync_views import OUTCOME_LABELS, record_view, run_view, samples

__all__ = ["router"]

router = APIRouter()
_log = structlog.get_logger("chimplink.web")

PAGE_SIZE = 50
REFRESH_SECONDS = 3  # the sync page reloads itself this often while a run is going
_RUNS_SHOWN = 10
_KEY_LIMIT = 500  # longest `after` key accepted in a page link

CsrfField = Annotated[str | None, Form(alias="csrf_token")]

# -- what the pages share ---------------------------------------------------------------


def _no_audience(state: AppState, request: Request, installation: Installation) -> Response:
    return state.pages.message(
        request,
        title="Choose an audience first",
        text=(
            "chimplink syncs your contacts into one Mailchimp audience. "
            "Choose it, then set up the sync."
        ),
        status=409,
        tone="info",
        actions=(
            Action("Choose an audience", f"/installations/{installation.id}/audiences", "choose"),
            BACK_HOME,
        ),
    )


def _no_platform(state: AppState, request: Request) -> Response:
    return state.pages.message(
        request,
        title="No platform is connected to chimplink",
        text=(
            "This chimplink server has no platform to read contacts from, so there is nothing "
            "to sync yet. The platform's administrators set this up (CHIMPLINK_CONNECTOR); "
            "your Mailchimp connection itself works."
        ),
        status=409,
        tone="info",
    )


async def _connector(state: AppState, installation: Installation) -> Connector | None:
    """The installation's platform connector; ConnectorError when it cannot be opened."""
    if state.connectors is None:
        return None
    return await state.connectors(installation)


async def _platform_fields(
    state: AppState, installation: Installation
) -> Sequence[FieldSpec] | None:
    connector = await _connector(state, installation)
    if connector is None:
        return None
    return await connector.describe_fields()


# -- settings -----------------------------------------------------------------------------


@router.get("/installations/{installation_id}/sync/settings")
async def settings_page(
    installation_id: str, request: Request, state: State, tenant: Tenant
) -> Response:
    try:
        installation = await tenant_installation(state, tenant.tenant_id, installation_id)
    except ConnectError as exc:
        return connect_error_page(state, request, exc)
    ready = await _form_inputs(state, request, installation)
    if isinstance(ready, Response):
        return ready
    setup, specs = ready
    return _settings_form(state, request, installation, SettingsForm.initial(specs, setup.config))


async def _form_inputs(
    state: AppState, request: Request, installation: Installation
) -> tuple[SyncSetup, Sequence[FieldSpec]] | Response:
    """The audience, saved settings and platform fields the form needs, or the page
    that says which one is missing."""
    setup = await load_setup(state, installation.id)
    if setup.list_id is None:
        return _no_audience(state, request, installation)
    try:
        specs = await _platform_fields(state, installation)
    except ConnectorError as exc:
        _log.warning("web.platform_fields_failed", installation_id=installation.id, reason=str(exc))
        return platform_unreadable(
            state, request, title="Your platform's data cannot be read", what="the contact fields"
        )
    if specs is None:
        return _no_platform(state, request)
    return setup, specs


def _settings_form(
    state: AppState,
    request: Request,
    installation: Installation,
    form: SettingsForm,
    *,
    status: int = 200,
) -> Response:
    return state.pages.render(
        request,
        "sync_settings.html",
        title=f"Sync settings for {installation.account_name}",
        status=status,
        installation=installation,
        form=form,
    )


@router.post("/installations/{installation_id}/sync/settings")
async def save_settings(
    installation_id: str, request: Request, state: State, tenant: Tenant
) -> Response:
    submitted = await request.form()
    token = submitted.get("csrf_token")
    check_csrf(request, token if isinstance(token, str) else None)
    try:
        installation = await tenant_installation(state, tenant.tenant_id, installation_id)
    except ConnectError as exc:
        return connect_error_page(state, request, exc)
    ready = await _form_inputs(state, request, installation)
    if isinstance(ready, Response):
        return ready
    setup, specs = ready
    assert setup.list_id is not None  # _form_inputs answered otherwise
    action = submitted.get("action", "save")
    form = SettingsForm.parse(specs, submitted)
    if action not in ("save", "preview"):
        form.errors["action"] = "Press Save or Save and preview."
    if form.valid and await sync_running(state, installation.id):
        form.errors["running"] = (
            "A sync is running for this account; save the settings when it has finished."
        )
    if not form.valid:
        return _settings_form(state, request, installation, form, status=400)
    async with state.services.sessions.begin() as session:
        await save_sync_config(
            session=session,
            installation_id=installation.id,
            list_id=setup.list_id,
            field_map=form.field_map(),
            sync_labels=form.sync_labels,
            # Which labels become which tags is set in the config (CLI); the form keeps it.
            label_tags=setup.config.label_tags if setup.config is not None else None,
            no_consent=NoConsentPolicy(form.no_consent),
            double_optin=form.double_optin,
            erase_permanently=form.erase_permanently,
            plan_contact_limit=form.plan_limit(),
            now=state.services.clock(),
        )
    _log.info("web.sync_settings_saved", installation_id=installation.id)
    if action == "preview":
        return await _preview(state, request, installation)
    push_flash(request, "success", "The sync settings are saved.")
    return RedirectResponse(f"/installations/{installation.id}/sync", status_code=303)


# -- preview ------------------------------------------------------------------------------


@router.post("/installations/{installation_id}/sync/preview")
async def preview(
    installation_id: str,
    request: Request,
    state: State,
    tenant: Tenant,
    csrf_token: CsrfField = None,
) -> Response:
    check_csrf(request, csrf_token)
    try:
        installation = await tenant_installation(state, tenant.tenant_id, installation_id)
    except ConnectError as exc:
        return connect_error_page(state, request, exc)
    return await _preview(state, request, installation)


async def _preview(state: AppState, request: Request, installation: Installation) -> Response:
    if await sync_running(state, installation.id):
        return _busy(state, request, installation)
    try:
        report = await sync_installation(
            state.services, installation.id, connectors=state.connectors, dry_run=True
        )
    except ConnectError as exc:
        return connect_error_page(state, request, exc)
    return _preview_page(state, request, installation, report)


def _preview_page(
    state: AppState, request: Request, installation: Installation, report: SyncReport
) -> Response:
    return state.pages.render(
        request,
        "sync_preview.html",
        title="Preview: what a sync would do",
        installation=installation,
        report=report,
        failed=sorted(report.failed.items()),
        retrying=sorted(report.retrying.items()),
        samples=samples(report.preview),
        can_sync=installation.status is InstallationStatus.ACTIVE,
    )


def _busy(state: AppState, request: Request, installation: Installation) -> Response:
    return state.pages.message(
        request,
        title="A sync is running",
        text="A sync of this account is running now. Wait until it has finished, then try again.",
        status=409,
        tone="info",
        actions=(
            Action("See its progress", f"/installations/{installation.id}/sync", "to-sync"),
            BACK_HOME,
        ),
    )


# -- the sync page -------------------------------------------------------------------------


def _problem(
    state: AppState, installation: Installation, setup: SyncSetup
) -> dict[str, str] | None:
    """Why Sync now is not offered, with the link that fixes it."""
    if installation.status is not InstallationStatus.ACTIVE:
        return {
            "text": "Mailchimp no longer accepts chimplink's access to this account.",
            "href": "/connect",
            "link": "Reconnect",
        }
    if setup.list_id is None:
        return {
            "text": "No audience is chosen yet.",
            "href": f"/installations/{installation.id}/audiences",
            "link": "Choose an audience",
        }
    if setup.config is None:
        return {
            "text": "Choose which fields to sync before the first sync.",
            "href": f"/installations/{installation.id}/sync/settings",
            "link": "Set up the sync",
        }
    if state.connectors is None:
        return {
            "text": "This chimplink server has no platform to read contacts from.",
            "href": "/",
            "link": "Back to your accounts",
        }
    return None


def _page_href(installation_id: str, *, outcome: str | None, after: str | None = None) -> str:
    query = {k: v for k, v in (("outcome", outcome), ("after", after)) if v}
    suffix = f"?{urlencode(query)}" if query else ""
    return f"/installations/{installation_id}/sync{suffix}"


def _filters(
    installation_id: str, counts: dict[RecordOutcome, int], current: RecordOutcome | None
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {
            "id": "all",
            "label": "All",
            "count": sum(counts.values()),
            "href": _page_href(installation_id, outcome=None),
            "current": current is None,
        }
    ]
    for outcome in (
        RecordOutcome.PARKED,
        RecordOutcome.FAILED,
        RecordOutcome.SKIPPED,
        RecordOutcome.SYNCED,
    ):
        items.append(
            {
                "id": outcome.value,
                "label": OUTCOME_LABELS[outcome],
                "count": counts.get(outcome, 0),
                "href": _page_href(installation_id, outcome=outcome.value),
                "current": current is outcome,
            }
        )
    return items


def _bad_filter(state: AppState, request: Request, installation_id: str) -> Response:
    return state.pages.message(
        request,
        title="This list cannot be shown",
        text="The address asks for contacts in a way chimplink does not know. "
        "Open the sync page again from its link.",
        status=400,
        actions=(
            Action("Sync page", f"/installations/{installation_id}/sync", "to-sync"),
            BACK_HOME,
        ),
    )


@router.get("/installations/{installation_id}/sync")
async def sync_page(
    installation_id: str,
    request: Request,
    state: State,
    tenant: Tenant,
    outcome: Annotated[str | None, Query()] = None,
    after: Annotated[str | None, Query()] = None,
) -> Response:
    try:
        installation = await tenant_installation(state, tenant.tenant_id, installation_id)
    except ConnectError as exc:
        return connect_error_page(state, request, exc)
    try:
        current = RecordOutcome(outcome) if outcome else None
    except ValueError:
        return _bad_filter(state, request, installation.id)
    if after is not None and (not after or len(after) > _KEY_LIMIT):
        return _bad_filter(state, request, installation.id)
    setup = await load_setup(state, installation.id)
    async with state.services.sessions() as session:
        runs = await list_runs(session=session, installation_id=installation.id, limit=_RUNS_SHOWN)
        counts = await count_records(session=session, installation_id=installation.id)
        found = await list_records(
            session=session,
            installation_id=installation.id,
            outcome=current,
            limit=PAGE_SIZE + 1,
            after_key=after,
        )
    status = status_of(state, installation.id, setup, runs)
    problem = _problem(state, installation, setup)
    refused = last_error(state, installation.id)
    if problem is None and refused is not None:
        problem = {"text": refused, "href": "/", "link": "Back to your accounts"}
    more = len(found) > PAGE_SIZE
    records = found[:PAGE_SIZE]
    headers = {"Refresh": str(REFRESH_SECONDS)} if status.running else None
    return state.pages.render(
        request,
        "sync.html",
        title=f"Contact sync for {installation.account_name}",
        headers=headers,
        installation=installation,
        now=status,
        problem=problem,
        can_sync=_problem(state, installation, setup) is None,
        runs=[run_view(run) for run in runs],
        filters=_filters(installation.id, counts, current),
        current_filter=current.value if current else None,
        records=[record_view(record) for record in records],
        next_href=(
            _page_href(
                installation.id,
                outcome=current.value if current else None,
                after=records[-1].platform_key,
            )
            if more
            else None
        ),
        first_href=(
            _page_href(installation.id, outcome=current.value if current else None)
            if after
            else None
        ),
    )


@router.post("/installations/{installation_id}/sync")
async def sync_now(
    installation_id: str,
    request: Request,
    state: State,
    tenant: Tenant,
    csrf_token: CsrfField = None,
) -> Response:
    check_csrf(request, csrf_token)
    try:
        installation = await tenant_installation(state, tenant.tenant_id, installation_id)
    except ConnectError as exc:
        return connect_error_page(state, request, exc)
    setup = await load_setup(state, installation.id)
    problem = _problem(state, installation, setup)
    if problem is not None:
        push_flash(request, "error", f"{problem['text']} Nothing was started.")
        return RedirectResponse(f"/installations/{installation.id}/sync", status_code=303)
    if state.runner is None:
        return state.pages.message(
            request,
            title="Syncs run on the schedule here",
            text=(
                "This chimplink server runs syncs in its background workers, on their "
                "schedule; it cannot start one from this page. Nothing was started."
            ),
            status=503,
            tone="info",
        )
    if await sync_running(state, installation.id) or not start_sync(
        state.runner, installation.id, connectors=state.connectors
    ):
        push_flash(request, "info", "A sync of this account is already running.")
    else:
        _log.info("web.sync_started", installation_id=installation.id)
        push_flash(request, "success", "The sync has started.")
    return RedirectResponse(f"/installations/{installation.id}/sync", status_code=303)


@router.get("/installations/{installation_id}/sync/progress")
async def sync_progress(
    installation_id: str, request: Request, state: State, tenant: Tenant
) -> Response:
    """The sync status as JSON (no personal data): what the page shows, for polling."""
    try:
        installation = await tenant_installation(state, tenant.tenant_id, installation_id)
    except ConnectError as exc:
        return connect_error_page(state, request, exc)
    setup = await load_setup(state, installation.id)
    runs = await recent_runs(state, installation.id, 5)
    status = status_of(state, installation.id, setup, runs)
    progress = status.progress
    last = next((run for run in runs if not run.dry_run), None)
    body: dict[str, Any] = {
        "state": status.state,
        "text": status.text,
        "running": status.running,
        "progress": (
            {
                "done": progress.done,
                "total": progress.total,
                "rate": round(progress.rate, 1),
                "sent": progress.sent,
            }
            if progress is not None
            else None
        ),
        "last_run": (
            {
                "id": last.id,
                "status": last.status.value,
                "started_at": last.started_at.isoformat(),
                "finished_at": last.finished_at.isoformat() if last.finished_at else None,
                "counts": dict(last.counts),
                "message": last.message,
            }
            if last is not None
            else None
        ),
        "error": last_error(state, installation.id),
    }
    return JSONResponse(body)
