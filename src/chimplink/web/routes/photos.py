"""The Photos pages of one installation: the platform's photos ⇄ Mailchimp's File Manager.

    GET  /installations/{id}/photos                      photos, their Mailchimp status, Send
    GET  /installations/{id}/photos/thumbnail?key=K      a platform photo, scaled down
    POST /installations/{id}/photos/send                 Send to Mailchimp: one photo, inline
    POST /installations/{id}/photos/send-all             Send all (of an album): in the background
    GET  /installations/{id}/photos/mailchimp            the File Manager's images, Import
    POST /installations/{id}/photos/mailchimp/import     Import one image, inline
    POST /installations/{id}/photos/mailchimp/import-all Import all: in the background

Every route resolves the id through `get_tenant_installation` first (an
unknown or foreign id is the one 404 page) and every POST checks the CSRF
token before anything else. Mailchimp is reached through `chimplink.jobs`
only (jobs/file_tasks.py), which runs one transfer per installation at a
time: a button pressed while a transfer runs starts nothing and says so.

One photo or one image is small, so its button runs inline and the page
comes back with the outcome. "Send all" and "Import all" run in the
embedded job runner, one of them per installation (`transfer_job_name`);
both pages show its progress while it runs, reloading themselves with a
`Refresh` header (the security policy allows no script), then its counts.

Images: platform photos come through `/photos/thumbnail` (this origin, the
tenant checked, scaled down with Pillow). The File Manager's thumbnails are
Mailchimp's own URLs, so the Mailchimp tab, and only it, widens the
Content-Security-Policy's `img-src` to the origins of those images (see
`_image_origins`).
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode, urlsplit

import structlog
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from PIL import Image

from chimplink.connect import ConnectError
from chimplink.jobs import ProgressSink
from chimplink.jobs.file_tasks import (
    NoPhotoLibrary,
    files_lock_key,
    mailchimp_images,
    photo_library,
    photo_page,
    pull_files,
    push_files,
)
from chimplink.jobs.locks import shared_locks
from chimplink.platforms import ConnectorError
from chimplink.store import Installation
from chimplink.store.files import TransferDirection
from chimplink.sync.files import (
    FileAction,
    FileProgress,
    FileReport,
    MailchimpImage,
    PhotoState,
    PhotoSyncStatus,
)
from chimplink.web.installation_pages import (
    connect_error_page,
    platform_unreadable,
    tenant_installation,
)
from chimplink.web.middleware import content_security_policy
from chimplink.web.pages import BACK_HOME, Action
from chimplink.web.sessions import check_csrf, push_flash
from chimplink.web.state import AppState, State, Tenant

__all__ = ["router", "transfer_job_name"]

router = APIRouter()
_log = structlog.get_logger("chimplink.web")

PAGE_SIZE = 24  # photos per page
IMAGES_PAGE = 24  # File Manager images per page
REFRESH_SECONDS = 2  # the pages reload themselves this often while a transfer runs
THUMBNAIL_SIDE = 240  # pixels, the longer side of a platform photo's thumbnail
_MAX_THUMBNAIL_PIXELS = 50_000_000  # larger images get no thumbnail (decompression bombs)
_KEY_LIMIT = 200  # longest photo key accepted from a form or an address
_CURSOR_LIMIT = 500  # longest `after` cursor accepted in a page link
_ALBUM_LIMIT = 200
_OFFSET_LIMIT = 1_000_000
_FILE_ID_LIMIT = 2**63 - 1
_FLASH_LIMIT = 400  # characters of a per-file message kept in the session cookie
_OUTCOMES_SHOWN = 20
_HOST = re.compile(r"^[A-Za-z0-9.-]+$")

CsrfField = Annotated[str | None, Form(alias="csrf_token")]
OptionalText = Annotated[str | None, Form()]


def transfer_job_name(installation_id: str) -> str:
    """The runner's name for an installation's background transfer (Send all, Import all)."""
    return f"files:{installation_id}"


# -- what the pages share ---------------------------------------------------------------


def _error(state: AppState, request: Request, exc: ConnectError) -> Response:
    if isinstance(exc, NoPhotoLibrary):
        return state.pages.message(
            request,
            title="This platform has no photos for Mailchimp",
            text=(
                "The platform connected to chimplink keeps no photo library chimplink can "
                "read, so there is nothing to send to Mailchimp's File Manager or to import "
                "into. Your Mailchimp connection itself works."
            ),
            status=409,
            tone="info",
        )
    return connect_error_page(state, request, exc)


def _bad_link(state: AppState, request: Request, installation_id: str) -> Response:
    return state.pages.message(
        request,
        title="This list cannot be shown",
        text="The address asks for photos in a way chimplink does not know. "
        "Open the Photos page again from its link.",
        status=400,
        actions=(
            Action("Photos", f"/installations/{installation_id}/photos", "to-photos"),
            BACK_HOME,
        ),
    )


def _clean_album(album: str | None) -> str | None:
    """The album named in a form or a link: None for all photos; ValueError when unusable."""
    if album is None or not album.strip():
        return None
    if len(album) > _ALBUM_LIMIT:
        raise ValueError("album name too long")
    return album.strip()


def _photos_href(installation_id: str, *, album: str | None, after: str | None = None) -> str:
    query = {k: v for k, v in (("album", album), ("after", after)) if v}
    suffix = f"?{urlencode(query)}" if query else ""
    return f"/installations/{installation_id}/photos{suffix}"


def _images_href(installation_id: str, offset: int = 0) -> str:
    suffix = f"?{urlencode({'offset': offset})}" if offset else ""
    return f"/installations/{installation_id}/photos/mailchimp{suffix}"


def _cut(text: str) -> str:
    return text if len(text) <= _FLASH_LIMIT else text[: _FLASH_LIMIT - 1] + "…"


def _transfer_busy(state: AppState, installation_id: str) -> bool:
    """A transfer of this installation runs now (a background one, or a button's)."""
    if state.runner is not None:
        activity = state.runner.activity(transfer_job_name(installation_id))
        if activity is not None and activity.running:
            return True
    return shared_locks().busy(files_lock_key(installation_id))


# -- the background transfer's panel ------------------------------------------------------


@dataclass(frozen=True)
class OutcomeView:
    name: str
    label: str
    detail: str | None


@dataclass(frozen=True)
class TransferView:
    """The installation's background transfer as both pages show it."""

    running: bool
    direction: str  # "push" (Send all) or "pull" (Import all)
    progress: FileProgress | None = None
    summary: str | None = None
    tone: str = "info"
    outcomes: tuple[OutcomeView, ...] = ()


@dataclass(frozen=True)
class _Tagged:
    """What a background transfer reports to the runner: its direction from the start,
    then each progress snapshot."""

    direction: TransferDirection
    progress: FileProgress | None = None


def _summary(report: FileReport) -> tuple[str, str]:
    """(tone, one sentence) of a finished transfer."""
    if report.direction is TransferDirection.PUSH:
        parts = [
            f"{report.uploaded:,} sent",
            f"{report.unchanged + report.reconciled:,} already in Mailchimp",
        ]
    else:
        parts = [f"{report.imported:,} imported", f"{report.unchanged:,} already imported"]
        if report.skipped:
            parts.append(f"{report.skipped:,} left out")
    if report.rejected_total:
        parts.append(f"{report.rejected_total:,} refused")
    if report.failed_total:
        parts.append(f"{report.failed_total:,} to try again")
    text = "Finished: " + ", ".join(parts) + "."
    if report.message:
        text += f" {report.message}"
    bad = report.rejected_total or report.failed_total or report.message
    return ("error" if bad else "success"), text


def _transfer_view(state: AppState, installation_id: str) -> TransferView | None:
    if state.runner is None:
        return None
    activity = state.runner.activity(transfer_job_name(installation_id))
    if activity is None:
        return None
    tagged = activity.progress if isinstance(activity.progress, _Tagged) else None
    direction = tagged.direction.value if tagged is not None else TransferDirection.PUSH.value
    if activity.running:
        progress = tagged.progress if tagged is not None else None
        return TransferView(running=True, direction=direction, progress=progress)
    result, error = activity.result, activity.error
    if isinstance(result, FileReport):
        tone, text = _summary(result)
        outcomes = tuple(
            OutcomeView(o.name, _OUTCOME_LABELS[o.action], o.detail)
            for o in result.outcomes
            if o.action in _OUTCOME_LABELS
        )[:_OUTCOMES_SHOWN]
        return TransferView(
            running=False,
            direction=result.direction.value,
            summary=text,
            tone=tone,
            outcomes=outcomes,
        )
    if isinstance(error, ConnectError):
        summary = error.user_message
    elif error is not None:
        summary = "The transfer stopped on an unexpected error; the next one resumes it."
    else:
        return None
    return TransferView(running=False, direction=direction, summary=summary, tone="error")


_OUTCOME_LABELS = {
    FileAction.REJECTED: "Refused",
    FileAction.FAILED: "Not transferred now",
}


# -- the photos page ------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoRow:
    key: str
    name: str
    album: str | None
    size: str
    format: str
    dimensions: str | None
    status: str  # a PhotoSyncStatus value
    status_label: str
    message: str | None
    url: str | None  # the photo in Mailchimp, once sent
    thumbnail: str | None  # our thumbnail route, for images


_STATUS_LABELS = {
    PhotoSyncStatus.NOT_SENT: "Not sent",
    PhotoSyncStatus.SENT: "Sent",
    PhotoSyncStatus.CHANGED: "Changed since sent",
    PhotoSyncStatus.SENDING: "Not confirmed yet",
    PhotoSyncStatus.FAILED: "Failed",
    PhotoSyncStatus.REJECTED: "Refused",
}


# The statuses whose upload record says why (a failure, a refusal, an unanswered upload).
_WITH_REASON = frozenset(
    {PhotoSyncStatus.FAILED, PhotoSyncStatus.REJECTED, PhotoSyncStatus.SENDING}
)


def _size(size: int) -> str:
    if size < 1024:
        return f"{size:,} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _format(name: str, content_type: str) -> str:
    kind = content_type.partition("/")[2]
    if kind and kind != "octet-stream":
        return kind.removeprefix("x-").upper()
    stem, dot, ext = name.rpartition(".")
    return ext.upper() if dot and stem else "unknown"


def _photo_row(installation_id: str, state: PhotoState) -> PhotoRow:
    photo = state.photo
    status = state.status
    thumbnail = None
    if photo.content_type.startswith("image/"):
        thumbnail = (
            f"/installations/{installation_id}/photos/thumbnail?{urlencode({'key': photo.key})}"
        )
    return PhotoRow(
        key=photo.key,
        name=photo.name,
        album=photo.album,
        size=_size(photo.size),
        format=_format(photo.name, photo.content_type),
        dimensions=f"{photo.width} × {photo.height}" if photo.width and photo.height else None,
        status=status.value,
        status_label=_STATUS_LABELS[status],
        message=state.message if status in _WITH_REASON else None,
        url=state.file_url,
        thumbnail=thumbnail,
    )


@router.get("/installations/{installation_id}/photos")
async def photos_page(
    installation_id: str,
    request: Request,
    state: State,
    tenant: Tenant,
    album: Annotated[str | None, Query()] = None,
    after: Annotated[str | None, Query()] = None,
) -> Response:
    try:
        installation = await tenant_installation(state, tenant.tenant_id, installation_id)
    except ConnectError as exc:
        return _error(state, request, exc)
    try:
        chosen = _clean_album(album)
    except ValueError:
        return _bad_link(state, request, installation.id)
    if after is not None and (not after or len(after) > _CURSOR_LIMIT):
        return _bad_link(state, request, installation.id)
    try:
        states = await photo_page(
            state.services,
            installation.id,
            connectors=state.connectors,
            album=chosen,
            after=after,
            limit=PAGE_SIZE + 1,
        )
    except ConnectError as exc:
        return _error(state, request, exc)
    except ConnectorError as exc:
        _log.warning("web.photos_unreadable", installation_id=installation.id, reason=str(exc))
        if after is not None:  # most likely a cursor the platform did not make
            return _bad_link(state, request, installation.id)
        return platform_unreadable(
            state, request, title="Your platform's photos cannot be read", what="the photos"
        )
    shown = states[:PAGE_SIZE]
    transfer = _transfer_view(state, installation.id)
    headers = {"Refresh": str(REFRESH_SECONDS)} if transfer and transfer.running else None
    return state.pages.render(
        request,
        "photos.html",
        title=f"Photos for {installation.account_name}",
        headers=headers,
        installation=installation,
        tab="photos",
        photos=[_photo_row(installation.id, s) for s in shown],
        album=chosen,
        after=after,
        albums=sorted({s.photo.album for s in shown if s.photo.album}),
        transfer=transfer,
        busy=_transfer_busy(state, installation.id),
        can_run_background=state.runner is not None,
        next_href=(
            _photos_href(installation.id, album=chosen, after=shown[-1].photo.cursor)
            if len(states) > PAGE_SIZE
            else None
        ),
        first_href=_photos_href(installation.id, album=chosen) if after else None,
        all_href=_photos_href(installation.id, album=None),
    )


# -- thumbnails of platform photos ------------------------------------------------------------


def _thumbnail(data: bytes) -> tuple[bytes, str] | None:
    """The image scaled to fit THUMBNAIL_SIDE, as (bytes, media type); None if not readable.

    Runs in a thread (decoding is CPU work). The pixel count is checked before
    decoding, so a small file claiming huge dimensions is never expanded.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > _MAX_THUMBNAIL_PIXELS:
                return None
            image.draft("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE))  # JPEG: decode at a smaller scale
            image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            out = io.BytesIO()
            if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
                image.convert("RGBA").save(out, "PNG")
                return out.getvalue(), "image/png"
            image.convert("RGB").save(out, "JPEG", quality=82)
            return out.getvalue(), "image/jpeg"
    except Exception:  # Pillow raises many kinds for bytes it cannot read
        return None


@router.get("/installations/{installation_id}/photos/thumbnail")
async def photo_thumbnail(
    installation_id: str,
    request: Request,
    state: State,
    tenant: Tenant,
    key: Annotated[str | None, Query()] = None,
) -> Response:
    """The photo `key`, scaled down; the one 404 page for anything not found (the
    installation first, so a foreign id answers alike whatever the key)."""
    try:
        installation = await tenant_installation(state, tenant.tenant_id, installation_id)
        library = await photo_library(state.connectors, installation)
    except ConnectError:
        return state.pages.not_found()
    if not key or len(key) > _KEY_LIMIT:
        return state.pages.not_found()
    try:
        photo = await library.get_photo(key)
        data = await library.read_photo(key) if photo is not None else None
    except ConnectorError:
        data = None
    made = await asyncio.to_thread(_thumbnail, data) if data else None
    if made is None:
        return state.pages.not_found()
    body, media_type = made
    # The user's own photo: a private cache may keep it briefly; shared caches never.
    return Response(body, media_type=media_type, headers={"Cache-Control": "private, max-age=60"})


# -- Send to Mailchimp ------------------------------------------------------------------------


def _back(installation_id: str, album: str | None, after: str | None) -> RedirectResponse:
    """Back to the page the button was on (rebuilt from checked parts, never a URL sent in)."""
    if after is not None and (not after or len(after) > _CURSOR_LIMIT):
        after = None
    return RedirectResponse(_photos_href(installation_id, album=album, after=after), 303)


def _one_result(report: FileReport, subject: str) -> tuple[str, str]:
    """(flash kind, text) for a one-file transfer's report."""
    outcome = report.outcomes[0] if report.outcomes else None
    name = outcome.name if outcome is not None else subject
    action = outcome.action if outcome is not None else None
    detail = outcome.detail if outcome is not None else None
    push = report.direction is TransferDirection.PUSH
    if action in (FileAction.UPLOAD, FileAction.REPLACE, FileAction.RECONCILED):
        return "success", f"{name} was sent to Mailchimp's File Manager."
    if action is FileAction.IMPORT:
        return "success", f"{name} was imported into your platform."
    if action is FileAction.UNCHANGED:
        where = "in Mailchimp" if push else "on your platform"
        return "info", f"{name} is already {where}, unchanged. Nothing was sent."
    if action is FileAction.SKIP:
        return "info", f"{name} was left out: {detail}"
    verb = "sent" if push else "imported"
    if action is FileAction.REJECTED:
        return "error", _cut(f"{name} was not {verb}: {detail}")
    reason = detail or report.message or "chimplink will try again."
    return "error", _cut(f"{name} could not be {verb} now: {reason}")


def _busy_flash(request: Request) -> None:
    push_flash(
        request,
        "info",
        "A transfer of photos for this account is running; nothing new was started. "
        "Try again when it has finished.",
    )


@router.post("/installations/{installation_id}/photos/send")
async def send_photo(
    installation_id: str,
    request: Request,
    state: State,
    tenant: Tenant,
    csrf_token: CsrfField = None,
    key: OptionalText = None,
    album: OptionalText = None,
    after: OptionalText = None,
) -> Response:
    check_csrf(request, csrf_token)
    try:
        installation = await tenant_installation(state, tenant.tenant_id, installation_id)
        library = await photo_library(state.connectors, installation)
    except ConnectError as exc:
        return _error(state, request, exc)
    try:
        chosen = _clean_album(album)
    except ValueError:
        chosen = None
    photo = None
    if key and len(key) <= _KEY_LIMIT:
        try:
            photo = await library.get_photo(key)
        except ConnectorError:
            photo = None
    if photo is None:
        return state.pages.message(
            request,
            title="This photo is not on your platform",
            text="chimplink found no such photo on your platform, so nothing was sent. "
            "It may have been deleted; reload the Photos page and try again.",
            status=400,
            actions=(
                Action("Photos", _photos_href(installation.id, album=chosen), "to-photos"),
                BACK_HOME,
            ),
        )
    if _transfer_busy(state, installation.id):
        _busy_flash(request)
        return _back(installation.id, chosen, after)
    try:
        report = await push_files(
            state.services, installation.id, connectors=state.connectors, keys=[photo.key]
        )
    except ConnectError as exc:
        return _error(state, request, exc)
    _log.info("web.photo_sent", installation_id=installation.id, status=report.status.value)
    push_flash(request, *_one_result(report, photo.name))
    return _back(installation.id, chosen, after)


def _no_background(state: AppState, request: Request) -> Response:
    return state.pages.message(
        request,
        title="Transfers run in the background workers here",
        text=(
            "This chimplink server runs long transfers in its background workers; it cannot "
            "start one from this page. Send or import photos one at a time, or ask the "
            "platform's administrators to run `chimplink files`. Nothing was started."
        ),
        status=503,
        tone="info",
    )


def _spawn_transfer(
    state: AppState, installation: Installation, direction: TransferDirection, album: str | None
) -> bool:
    """Start Send all / Import all in the runner; False when a transfer is running already."""
    assert state.runner is not None
    services, connectors, installation_id = state.services, state.connectors, installation.id

    async def work(report: ProgressSink) -> FileReport:
        report(_Tagged(direction))

        def progress(update: FileProgress) -> None:
            report(_Tagged(direction, update))

        if direction is TransferDirection.PUSH:
            return await push_files(
                services, installation_id, connectors=connectors, album=album, progress=progress
            )
        return await pull_files(services, installation_id, connectors=connectors, progress=progress)

    return state.runner.spawn(transfer_job_name(installation_id), work)


@router.post("/installations/{installation_id}/photos/send-all")
async def send_all(
    installation_id: str,
    request: Request,
    state: State,
    tenant: Tenant,
    csrf_token: CsrfField = None,
    album: OptionalText = None,
) -> Response:
    check_csrf(request, csrf_token)
    try:
        installation = await tenant_installation(state, tenant.tenant_id, installation_id)
        await photo_library(state.connectors, installation)
    except ConnectError as exc:
        return _error(state, request, exc)
    try:
        chosen = _clean_album(album)
    except ValueError:
        return _bad_link(state, request, installation.id)
    if state.runner is None:
        return _no_background(state, request)
    if _transfer_busy(state, installation.id) or not _spawn_transfer(
        state, installation, TransferDirection.PUSH, chosen
    ):
        _busy_flash(request)
    else:
        _log.info("web.photos_send_all", installation_id=installation.id, album=chosen is not None)
        what = f"the photos of {chosen}" if chosen else "all photos"
        push_flash(request, "success", f"Sending {what} to Mailchimp has started.")
    return _back(installation.id, chosen, None)


# -- the Mailchimp tab ----------------------------------------------------------------------


def _origin(url: str) -> str | None:
    """scheme://host[:port] of an http(s) URL, or None (also for anything odd in it)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not _HOST.match(host):
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def _image_origins(state: AppState, urls: Iterable[str]) -> set[str]:
    """The origins the Mailchimp tab may load images from.

    The configured Mailchimp hosts (the API and login URLs: the emulator in the
    demo and tests), and the https origins of the thumbnails Mailchimp listed on
    this page (its file hosts, which the API reference does not name). A plain
    http image is shown only from a configured host; anything else gets no
    preview rather than a wider policy.
    """
    settings = state.settings
    configured = {
        origin
        for url in (settings.mailchimp_api_url, settings.mailchimp_login_url)
        if url and (origin := _origin(url)) is not None
    }
    listed = {origin for url in urls if (origin := _origin(url)) is not None}
    return configured | {o for o in listed if o.startswith("https://") or o in configured}


def _policy_with_images(origins: Iterable[str]) -> str:
    """The site's policy with `img-src` widened to `origins` (nothing else changes)."""
    allowed = " ".join(["'self'", *sorted(origins)])
    return content_security_policy().replace("img-src 'self'", f"img-src {allowed}", 1)


@dataclass(frozen=True)
class ImageRow:
    id: int
    name: str
    dimensions: str | None
    size: str | None
    thumbnail: str | None
    full_size_url: str | None
    imported_as: str | None
    sent_from: str | None


def _image_row(image: MailchimpImage, origins: set[str]) -> ImageRow:
    file = image.file
    thumb = file.thumbnail_url or file.full_size_url or ""
    width, height = file.width or 0, file.height or 0
    return ImageRow(
        id=file.id,
        name=file.name or f"file {file.id}",
        dimensions=f"{width} × {height}" if width and height else None,
        size=_size(file.size) if file.size is not None else None,
        thumbnail=thumb if thumb and _origin(thumb) in origins else None,
        full_size_url=file.full_size_url if _origin(file.full_size_url or "") else None,
        imported_as=image.imported_as,
        sent_from=image.sent_from,
    )


@router.get("/installations/{installation_id}/photos/mailchimp")
async def mailchimp_page(
    installation_id: str,
    request: Request,
    state: State,
    tenant: Tenant,
    offset: Annotated[int, Query(ge=0, le=_OFFSET_LIMIT)] = 0,
) -> Response:
    try:
        installation = await tenant_installation(state, tenant.tenant_id, installation_id)
        await photo_library(state.connectors, installation)
        page = await mailchimp_images(
            state.services, installation.id, offset=offset, count=IMAGES_PAGE
        )
    except ConnectError as exc:
        return _error(state, request, exc)
    origins = _image_origins(
        state, (i.file.thumbnail_url or i.file.full_size_url or "" for i in page.images)
    )
    transfer = _transfer_view(state, installation.id)
    headers = {"Content-Security-Policy": _policy_with_images(origins)}
    if transfer and transfer.running:
        headers["Refresh"] = str(REFRESH_SECONDS)
    more = offset + len(page.images) < page.total
    return state.pages.render(
        request,
        "photos_mailchimp.html",
        title=f"Images in Mailchimp for {installation.account_name}",
        headers=headers,
        installation=installation,
        tab="mailchimp",
        images=[_image_row(image, origins) for image in page.images],
        total=page.total,
        offset=offset,
        transfer=transfer,
        busy=_transfer_busy(state, installation.id),
        can_run_background=state.runner is not None,
        next_href=_images_href(installation.id, offset + IMAGES_PAGE) if more else None,
        previous_href=(
            _images_href(installation.id, max(0, offset - IMAGES_PAGE)) if offset else None
        ),
    )


def _images_back(installation_id: str, offset: int | None) -> RedirectResponse:
    safe = offset if offset is not None and 0 <= offset <= _OFFSET_LIMIT else 0
    return RedirectResponse(_images_href(installation_id, safe), 303)


@router.post("/installations/{installation_id}/photos/mailchimp/import")
async def import_image(
    installation_id: str,
    request: Request,
    state: State,
    tenant: Tenant,
    csrf_token: CsrfField = None,
    file_id: OptionalText = None,
    offset: Annotated[int | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf_token)
    try:
        installation = await tenant_installation(state, tenant.tenant_id, installation_id)
        await photo_library(state.connectors, installation)
    except ConnectError as exc:
        return _error(state, request, exc)
    chosen = _file_id(file_id)
    if chosen is None:
        return state.pages.message(
            request,
            title="This image cannot be imported",
            text="The form named no image of your File Manager, so nothing was imported. "
            "Reload the Mailchimp tab and try again.",
            status=400,
            actions=(
                Action("Mailchimp tab", _images_href(installation.id), "to-mailchimp"),
                BACK_HOME,
            ),
        )
    if _transfer_busy(state, installation.id):
        _busy_flash(request)
        return _images_back(installation.id, offset)
    try:
        report = await pull_files(
            state.services, installation.id, connectors=state.connectors, file_ids=[chosen]
        )
    except ConnectError as exc:
        return _error(state, request, exc)
    _log.info("web.image_imported", installation_id=installation.id, status=report.status.value)
    push_flash(request, *_one_result(report, f"file {chosen}"))
    return _images_back(installation.id, offset)


def _file_id(value: str | None) -> int | None:
    text = (value or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= _FILE_ID_LIMIT else None


@router.post("/installations/{installation_id}/photos/mailchimp/import-all")
async def import_all(
    installation_id: str,
    request: Request,
    state: State,
    tenant: Tenant,
    csrf_token: CsrfField = None,
) -> Response:
    check_csrf(request, csrf_token)
    try:
        installation = await tenant_installation(state, tenant.tenant_id, installation_id)
        await photo_library(state.connectors, installation)
    except ConnectError as exc:
        return _error(state, request, exc)
    if state.runner is None:
        return _no_background(state, request)
    if _transfer_busy(state, installation.id) or not _spawn_transfer(
        state, installation, TransferDirection.PULL, None
    ):
        _busy_flash(request)
    else:
        _log.info("web.photos_import_all", installation_id=installation.id)
        push_flash(request, "success", "Importing every image from Mailchimp has started.")
    return _images_back(installation.id, 0)
