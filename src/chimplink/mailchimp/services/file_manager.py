"""File Manager: files and folders (REFERENCE.md §9; the photo-editor example of §1)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from typing import Any

from chimplink.mailchimp._requestor import Requestor
from chimplink.mailchimp.models.file_manager import File, Folder
from chimplink.mailchimp.pagination import DEFAULT_PAGE_SIZE, paginate
from chimplink.mailchimp.services._base import Service, compact

__all__ = ["FileManagerService", "FilesService", "FoldersService"]

# The legacy help pages give 10 MB per file (§9); checking before upload
# saves sending a body Mailchimp would refuse.
MAX_FILE_BYTES = 10 * 1024 * 1024


class FilesService(Service):
    async def upload(self, name: str, data: bytes, *, folder_id: int | None = None) -> File:
        """`POST /file-manager/files` with base64 contents (§9).

        Never blindly retried: after a transport error or 5xx the caller gets
        `OutcomeUnknownError` and should look the file up by name first.
        """
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"{name}: files over {MAX_FILE_BYTES} bytes are refused by Mailchimp")
        body = compact(
            {
                "name": name,
                "file_data": base64.b64encode(data).decode("ascii"),
                "folder_id": folder_id,
            }
        )
        result = await self._requestor.request("POST", "/file-manager/files", json_body=body)
        return File.model_validate(result)

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
