"""Handlers of /file-manager/files, /file-manager/folders and the public file URLs."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from chimplink.emulator import problems
from chimplink.emulator.backend import Account
from chimplink.emulator.context import ApiContext
from chimplink.emulator.file_manager import images
from chimplink.emulator.file_manager.models import (
    FILE_TYPES,
    FileManagerStore,
    Folder,
    StoredFile,
    check_folder_id,
    check_name,
    decode_file_data,
    file_count,
    files_of,
    iter_files,
    parse_id,
    require_file,
    require_folder,
    unfile,
)
from chimplink.emulator.links import link, self_links
from chimplink.emulator.params import enum_param, page, time_param

_SORT_FIELDS = ("added_date", "name", "size")
_SORT_DIRS = ("ASC", "DESC")


# -- rendering ------------------------------------------------------------------------


def file_url(ctx: ApiContext, account: Account, item: StoredFile) -> str:
    """Where the emulator serves the bytes; stable across renames (the name is cosmetic)."""
    segment = quote(item.name.replace("/", "_"), safe="")
    return ctx.url(f"/files/{account.account_id}/{item.id}/{segment}")


def _render_file(ctx: ApiContext, item: StoredFile) -> dict[str, Any]:
    url = file_url(ctx, ctx.account, item)
    href = ctx.api_url(f"/file-manager/files/{item.id}")
    return {
        "id": item.id,
        "folder_id": item.folder_id,
        "type": item.type,
        "name": item.name,
        "full_size_url": url,
        # No resized previews: an image's thumbnail is the image; files have none.
        "thumbnail_url": url if item.type == "image" else "",
        "size": item.size,
        "created_at": item.created_at,
        "created_by": item.created_by,
        "width": item.width,
        "height": item.height,
        "_links": [
            link("self", href, "GET", "FileManager/Files/Instance"),
            link(
                "parent",
                ctx.api_url("/file-manager/files"),
                "GET",
                "FileManager/Files/CollectionResponse",
            ),
            link("update", href, "PATCH", "FileManager/Files/Instance"),
            link("delete", href, "DELETE"),
        ],
    }


def _render_folder(ctx: ApiContext, store: FileManagerStore, folder: Folder) -> dict[str, Any]:
    href = ctx.api_url(f"/file-manager/folders/{folder.id}")
    return {
        "id": folder.id,
        "name": folder.name,
        "file_count": file_count(store, folder.id),
        "created_at": folder.created_at,
        "created_by": folder.created_by,
        "_links": [
            link("self", href, "GET", "FileManager/Folders/Instance"),
            link(
                "parent",
                ctx.api_url("/file-manager/folders"),
                "GET",
                "FileManager/Folders/CollectionResponse",
            ),
            link("update", href, "PATCH", "FileManager/Folders/Instance"),
            link("delete", href, "DELETE"),
            link("files", f"{href}/files", "GET", "FileManager/Files/CollectionResponse"),
        ],
    }


# -- query filters ----------------------------------------------------------------------


def _created_filter(query: Mapping[str, str], items: list[Any]) -> list[Any]:
    """`created_by`, `since_created_at` (inclusive) and `before_created_at` (exclusive)."""
    created_by = query.get("created_by")
    since = time_param(query, "since_created_at")
    before = time_param(query, "before_created_at")
    kept = []
    for item in items:
        if created_by and item.created_by != created_by:
            continue
        created = datetime.fromisoformat(item.created_at)
        if since is not None and created < since:
            continue
        if before is not None and created >= before:
            continue
        kept.append(item)
    return kept


def _list_files(ctx: ApiContext, *, folder_id: int | None, href: str) -> dict[str, Any]:
    query = ctx.query
    kind = enum_param(query, "type", FILE_TYPES)
    sort_field = enum_param(query, "sort_field", _SORT_FIELDS) or "added_date"
    sort_dir = enum_param(query, "sort_dir", _SORT_DIRS) or "ASC"
    store = files_of(ctx.account)
    found = [
        f
        for f in iter_files(store)
        if (kind is None or f.type == kind) and (folder_id is None or f.folder_id == folder_id)
    ]
    found = _created_filter(query, found)
    if sort_field == "name":
        found.sort(key=lambda f: (f.name.casefold(), f.seq))
    elif sort_field == "size":
        found.sort(key=lambda f: (f.size, f.seq))
    else:
        found.sort(key=lambda f: f.seq)
    if sort_dir == "DESC":
        found.reverse()
    return {
        "files": [_render_file(ctx, f) for f in page(query, found)],
        "total_file_size": sum(f.size for f in found),
        "total_items": len(found),
        "_links": self_links(href, "FileManager/Files/CollectionResponse"),
    }


# -- files ------------------------------------------------------------------------------


async def upload_file(ctx: ApiContext) -> dict[str, Any]:
    body = await ctx.validated_json()
    name: str = body["name"]
    check_name(name)
    folder_id: int = body.get("folder_id", 0)
    check_folder_id(ctx.account, folder_id)
    data = decode_file_data(body["file_data"])
    found = images.inspect(data, name)
    store = files_of(ctx.account)
    file_id = ctx.backend.new_int_id()
    while str(file_id) in store.files:
        file_id = ctx.backend.new_int_id()
    item = StoredFile(
        id=file_id,
        folder_id=folder_id,
        type=found.type,
        name=found.name,
        size=len(data),
        content_type=found.content_type,
        width=found.width,
        height=found.height,
        created_by=ctx.account.record.username,
        seq=store.take_seq(),
        data_b64=base64.b64encode(data).decode("ascii"),
    )
    store.files[str(item.id)] = item
    return _render_file(ctx, item)


async def list_files(ctx: ApiContext) -> dict[str, Any]:
    return _list_files(ctx, folder_id=None, href=ctx.api_url("/file-manager/files"))


async def get_file(ctx: ApiContext) -> dict[str, Any]:
    return _render_file(ctx, require_file(ctx.account, ctx.params["file_id"]))


async def update_file(ctx: ApiContext) -> dict[str, Any]:
    item = require_file(ctx.account, ctx.params["file_id"])
    body = await ctx.validated_json()
    name = body.get("name")
    if name is not None:
        check_name(name)
    folder_id = body.get("folder_id")
    if folder_id is not None:
        # "Setting folder_id to 0 will remove a file from its current folder" (spec).
        check_folder_id(ctx.account, folder_id)
    if name is not None:
        item.name = name
    if folder_id is not None:
        item.folder_id = folder_id
    return _render_file(ctx, item)


async def delete_file(ctx: ApiContext) -> None:
    item = require_file(ctx.account, ctx.params["file_id"])
    del files_of(ctx.account).files[str(item.id)]


# -- folders ----------------------------------------------------------------------------


def _folder_name(body: Mapping[str, Any]) -> str:
    name: str = body["name"]
    if not name.strip():
        raise problems.field_error("name", "The folder name cannot be empty.")
    return name


async def create_folder(ctx: ApiContext) -> dict[str, Any]:
    body = await ctx.validated_json()
    name = _folder_name(body)
    store = files_of(ctx.account)
    folder_id = ctx.backend.new_int_id()
    while str(folder_id) in store.folders:
        folder_id = ctx.backend.new_int_id()
    folder = Folder(
        id=folder_id, name=name, created_by=ctx.account.record.username, seq=store.take_seq()
    )
    store.folders[str(folder.id)] = folder
    return _render_folder(ctx, store, folder)


async def list_folders(ctx: ApiContext) -> dict[str, Any]:
    store = files_of(ctx.account)
    folders = sorted(store.folders.values(), key=lambda f: f.seq)
    found = _created_filter(ctx.query, folders)
    return {
        "folders": [_render_folder(ctx, store, f) for f in page(ctx.query, found)],
        "total_items": len(found),
        "_links": self_links(
            ctx.api_url("/file-manager/folders"), "FileManager/Folders/CollectionResponse"
        ),
    }


async def get_folder(ctx: ApiContext) -> dict[str, Any]:
    folder = require_folder(ctx.account, ctx.params["folder_id"])
    return _render_folder(ctx, files_of(ctx.account), folder)


async def update_folder(ctx: ApiContext) -> dict[str, Any]:
    folder = require_folder(ctx.account, ctx.params["folder_id"])
    body = await ctx.validated_json()
    folder.name = _folder_name(body)
    return _render_folder(ctx, files_of(ctx.account), folder)


async def delete_folder(ctx: ApiContext) -> None:
    folder = require_folder(ctx.account, ctx.params["folder_id"])
    store = files_of(ctx.account)
    unfile(store, folder.id)
    del store.folders[str(folder.id)]


async def list_folder_files(ctx: ApiContext) -> dict[str, Any]:
    folder = require_folder(ctx.account, ctx.params["folder_id"])
    return _list_files(
        ctx,
        folder_id=folder.id,
        href=ctx.api_url(f"/file-manager/folders/{folder.id}/files"),
    )


# -- public file URLs ---------------------------------------------------------------------


async def serve_file(ctx: ApiContext) -> Response:
    """GET /files/{account_id}/{file_id}/{file_name}: the exact bytes, no credentials."""
    account = ctx.backend.accounts.get(ctx.params["account_id"])
    file_id = parse_id(ctx.params["file_id"])
    item = None
    if account is not None and file_id is not None:
        item = files_of(account).files.get(str(file_id))
    if item is None:
        raise problems.not_found()
    return Response(
        item.data(),
        media_type=item.content_type,
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
