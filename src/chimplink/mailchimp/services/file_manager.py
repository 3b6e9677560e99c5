"""File Manager: files and folders (REFERENCE.md §9; the photo-editor example of §1).

Uploads stream their body: the base64 text of a file is produced piece by
piece as it is sent, so an upload holds the file once (the caller's bytes)
plus one piece, never the file's base64 and JSON copies besides.

Downloads of `full_size_url` go only to the API's own host (the emulator
serves files there) or to Mailchimp's file hosts, and never carry the token:
a URL in a response is data, and must not make chimplink fetch (or send a
credential to) an arbitrary host.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from chimplink.mailchimp._requestor import Requestor, StreamedBody
from chimplink.mailchimp.errors import InvalidRequestError, NotFoundError
from chimplink.mailchimp.models.file_manager import File, Folder
from chimplink.mailchimp.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, paginate
from chimplink.mailchimp.services._base import Service, compact

__all__ = [
    "CONTENT_HOSTS",
    "FILE_DOWNLOAD_OPERATION",
    "FileManagerService",
    "FilesService",
    "FoldersService",
    "check_download_url",
]

# The legacy help pages give 10 MB per file (§9); checking before upload
# saves sending a body Mailchimp would refuse.
MAX_FILE_BYTES = 10 * 1024 * 1024

# Where Mailchimp serves File Manager files besides the API host. Not in
# REFERENCE.md: these are the hosts of the public image URLs Mailchimp hands
# out (current and legacy); https only, exact host names.
CONTENT_HOSTS = frozenset({"mcusercontent.com", "gallery.mailchimp.com"})
FILE_DOWNLOAD_OPERATION = "GET {full_size_url}"

# Bytes encoded per piece of a streamed upload: a multiple of 3, so the
# pieces' base64 joins into the base64 of the whole.
_PIECE = 3 * 21_846


def _upload_body(name: str, data: bytes, folder_id: int | None) -> StreamedBody:
    """`{"name": …, "folder_id": …, "file_data": "<base64>"}` in pieces."""
    head = json.dumps(compact({"name": name, "folder_id": folder_id}))
    prefix = (head[:-1] + ', "file_data": "').encode("utf-8")
    suffix = b'"}'
    encoded = 4 * ((len(data) + 2) // 3)

    async def pieces() -> AsyncIterator[bytes]:
        yield prefix
        view = memoryview(data)
        for start in range(0, len(data), _PIECE):
            yield base64.b64encode(view[start : start + _PIECE])
        yield suffix

    return StreamedBody(length=len(prefix) + encoded + len(suffix), pieces=pieces)


def check_download_url(url: str, *, api_base: str) -> httpx.URL:
    """The URL, if chimplink may fetch it: the API's own origin, or a Mailchimp file host."""
    parsed = httpx.URL(url)
    api = httpx.URL(api_base)
    same_origin = (parsed.scheme, parsed.host, parsed.port) == (api.scheme, api.host, api.port)
    content_host = parsed.scheme == "https" and parsed.host in CONTENT_HOSTS
    if not parsed.host or not (same_origin or content_host):
        raise ValueError(
            f"refusing to download from {parsed.host or url!r}: files are fetched only from "
            "the Mailchimp API's host or Mailchimp's file hosts"
        )
    return parsed


class FilesService(Service):
    async def upload(self, name: str, data: bytes, *, folder_id: int | None = None) -> File:
        """`POST /file-manager/files` with base64 contents (§9).

        Never blindly retried: after a transport error or 5xx the caller gets
        `OutcomeUnknownError` and should look the file up by name first.
        """
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"{name}: files over {MAX_FILE_BYTES} bytes are refused by Mailchimp")
        result = await self._requestor.request(
            "POST", "/file-manager/files", body=_upload_body(name, data, folder_id)
        )
        return File.model_validate(result)

    async def download(self, file: File) -> bytes:
        """The bytes at the file's `full_size_url` (fetched without credentials).

        `NotFoundError` when the URL is refused (the file was deleted);
        `ValueError` when the URL is missing or on a host chimplink does not
        fetch from (`check_download_url`).
        """
        if not file.full_size_url:
            raise ValueError(f"file {file.id} has no full_size_url")
        url = check_download_url(file.full_size_url, api_base=self._requestor.base_url)
        try:
            return await self._requestor.download(str(url), operation=FILE_DOWNLOAD_OPERATION)
        except InvalidRequestError as exc:
            raise NotFoundError(
                f"{exc.status}: the file's full_size_url was refused (deleted or moved)",
                status=exc.status,
                title="File Unavailable",
                operation=FILE_DOWNLOAD_OPERATION,
            ) from None

    async def page(
        self,
        *,
        type: str | None = None,
        count: int = DEFAULT_PAGE_SIZE,
        offset: int = 0,
        sort_field: str | None = None,
        sort_dir: str | None = None,
    ) -> tuple[list[File], int]:
        """One page of `GET /file-manager/files` (for a UI) and the total count (§9)."""
        if not 1 <= count <= MAX_PAGE_SIZE or offset < 0:
            raise ValueError(f"count must be between 1 and {MAX_PAGE_SIZE}, offset >= 0")
        data = await self._requestor.request(
            "GET",
            "/file-manager/files",
            params={
                "type": type,
                "count": count,
                "offset": offset,
                "sort_field": sort_field,
                "sort_dir": sort_dir,
            },
        )
        page = data if isinstance(data, dict) else {}
        files = [File.model_validate(item) for item in page.get("files") or []]
        total = page.get("total_items")
        return files, total if isinstance(total, int) else len(files)

    async def get(self, file_id: int) -> File:
        data = await self._requestor.request(
            "GET", "/file-manager/files/{file_id}", path={"file_id": str(file_id)}
        )
        return File.model_validate(data)

    def iterate(
        self,
        *,
        type: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[File]:
        return paginate(
            self._requestor,
            "/file-manager/files",
            key="files",
            parse=File.model_validate,
            params={"type": type},
            page_size=page_size,
        )

    async def update(self, file_id: int, changes: Mapping[str, Any]) -> File:
        data = await self._requestor.request(
            "PATCH",
            "/file-manager/files/{file_id}",
            path={"file_id": str(file_id)},
            json_body=dict(changes),
        )
        return File.model_validate(data)

    async def delete(self, file_id: int) -> None:
        await self._requestor.request(
            "DELETE", "/file-manager/files/{file_id}", path={"file_id": str(file_id)}
        )


class FoldersService(Service):
    async def create(self, name: str) -> Folder:
        data = await self._requestor.request(
            "POST", "/file-manager/folders", json_body={"name": name}
        )
        return Folder.model_validate(data)

    async def get(self, folder_id: int) -> Folder:
        data = await self._requestor.request(
            "GET", "/file-manager/folders/{folder_id}", path={"folder_id": str(folder_id)}
        )
        return Folder.model_validate(data)

    def iterate(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[Folder]:
        return paginate(
            self._requestor,
            "/file-manager/folders",
            key="folders",
            parse=Folder.model_validate,
            page_size=page_size,
        )

    def iterate_files(
        self, folder_id: int, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[File]:
        return paginate(
            self._requestor,
            "/file-manager/folders/{folder_id}/files",
            key="files",
            parse=File.model_validate,
            path={"folder_id": str(folder_id)},
            page_size=page_size,
        )

    async def update(self, folder_id: int, name: str) -> Folder:
        data = await self._requestor.request(
            "PATCH",
            "/file-manager/folders/{folder_id}",
            path={"folder_id": str(folder_id)},
            json_body={"name": name},
        )
        return Folder.model_validate(data)

    async def delete(self, folder_id: int) -> None:
        await self._requestor.request(
            "DELETE", "/file-manager/folders/{folder_id}", path={"folder_id": str(folder_id)}
        )


class FileManagerService(Service):
    files: FilesService
    folders: FoldersService

    def __init__(self, requestor: Requestor) -> None:
        super().__init__(requestor)
        self.files = FilesService(requestor)
        self.folders = FoldersService(requestor)
