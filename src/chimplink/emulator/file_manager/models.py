"""File Manager: files, folders and Mailchimp's size and type limits (REFERENCE.md §9).

The API reference states no limits; the legacy help pages do: "There's a 10MB
limit for individual files", and a list of allowed extensions, which the
emulator enforces (§9). Mailchimp "will inspect each file and change
extensions to reflect the original format": an image whose content is, say, a
PNG while its name says `.jpg` is stored as `.png` (see `images.py`).

File bytes are kept base64-encoded in the store, so `--state` snapshots stay
JSON. Deleting a folder leaves its files unfiled (`folder_id` 0), which is how
`folder_id: 0` is described ("will remove a file from its current folder");
the spec's text for the delete says only "Delete a specific folder", and
keeping the files is the choice that loses no data.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator

from pydantic import BaseModel, Field

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, now_iso, register_store

# "There's a 10MB limit for individual files in your MailChimp File Manager" (§9).
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILE_LABEL = "10MB"

# Allowed extensions, from the legacy KB list (§9), grouped as it groups them.
ALLOWED_EXTENSIONS: tuple[str, ...] = (
    # text
    "txt", "csv", "log", "css", "ics",
    # images
    "jpg", "jpe", "jpeg", "gif", "png", "bmp", "psd", "tif", "tiff", "svg", "indd", "ai", "eps",
    # documents
    "doc", "docx", "rtf", "odt", "ott", "pdf", "pub", "pages", "mobi", "epub",
    # audio
    "mp3", "m4a", "m4v", "wma", "ogg", "flac", "wav", "aif", "aifc", "aiff",
    # video
    "mp4", "mov", "avi", "mkv", "mpeg", "mpg", "wmv",
    # spreadsheets
    "xls", "xlsx", "ods", "numbers",
    # presentations
    "odp", "ppt", "pptx", "pps", "key",
    # archives
    "zip", "tar", "gz", "7z", "vcf",
)  # fmt: skip
_ALLOWED = frozenset(ALLOWED_EXTENSIONS)

FILE_TYPES = ("image", "file")


class StoredFile(BaseModel):
    id: int
    folder_id: int = 0
    type: str  # image | file
    name: str
    size: int
    content_type: str
    width: int = 0
    height: int = 0
    created_at: str = Field(default_factory=now_iso)
    created_by: str
    # Creation order: created_at has one-second resolution.
    seq: int
    data_b64: str

    def data(self) -> bytes:
        return base64.b64decode(self.data_b64)


class Folder(BaseModel):
    id: int
    name: str
    created_at: str = Field(default_factory=now_iso)
    created_by: str
    seq: int


@register_store("file_manager")
class FileManagerStore(BaseModel):
    # Keyed by str(id): JSON object keys are strings in snapshots.
    files: dict[str, StoredFile] = Field(default_factory=dict)
    folders: dict[str, Folder] = Field(default_factory=dict)
    next_seq: int = 0

    def take_seq(self) -> int:
        self.next_seq += 1
        return self.next_seq


def files_of(account: Account) -> FileManagerStore:
    return account.store(FileManagerStore)


def extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def check_name(name: str) -> None:
    """A non-empty name whose extension is on Mailchimp's list (§9)."""
    if not name.strip():
        raise problems.field_error("name", "The file name cannot be empty.")
    ext = extension(name)
    if not ext:
        raise problems.field_error(
            "name", "The file name must have an extension, such as .png or .pdf."
        )
    if ext not in _ALLOWED:
        raise problems.field_error(
            "name",
            f"Files of type .{ext} cannot be uploaded to the File Manager. "
            f"Allowed types: {', '.join('.' + e for e in ALLOWED_EXTENSIONS)}.",
        )


def _too_big(size_hint: str) -> problems.ProblemError:
    return problems.field_error(
        "file_data",
        f"The file is {size_hint}; files in the File Manager are limited to "
        f"{MAX_FILE_LABEL} ({MAX_FILE_BYTES} bytes).",
    )


def decode_file_data(file_data: str) -> bytes:
    """The bytes of `file_data` (base64), within the 10MB limit (§9)."""
    compact = "".join(file_data.split())
    # Refuse an oversized upload before decoding it: base64 is 4 chars per 3 bytes.
    if len(compact) > (MAX_FILE_BYTES + 2) // 3 * 4:
        raise _too_big(f"about {len(compact) * 3 // 4} bytes")
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise problems.field_error(
            "file_data", "The file data must be a base64-encoded string."
        ) from None
    if not data:
        raise problems.field_error("file_data", "The file is empty.")
    if len(data) > MAX_FILE_BYTES:
        raise _too_big(f"{len(data)} bytes")
    return data


def parse_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def require_file(account: Account, raw_id: str) -> StoredFile:
    file_id = parse_id(raw_id)
    found = files_of(account).files.get(str(file_id)) if file_id is not None else None
    if found is None:
        raise problems.not_found()
    return found


def require_folder(account: Account, raw_id: str) -> Folder:
    folder_id = parse_id(raw_id)
    found = files_of(account).folders.get(str(folder_id)) if folder_id is not None else None
    if found is None:
        raise problems.not_found()
    return found


def check_folder_id(account: Account, folder_id: int) -> None:
    """A folder_id in a body must name an existing folder, or be 0 (no folder).

    An unknown folder is refused as an Invalid Resource naming `folder_id`
    rather than a 404: the URL (`/file-manager/files`) exists, and a 404 would
    read as "the file is gone" to clients that map 404 to a missing resource.
    """
    if folder_id != 0 and str(folder_id) not in files_of(account).folders:
        raise problems.field_error("folder_id", f"The folder {folder_id} does not exist.")


def file_count(store: FileManagerStore, folder_id: int) -> int:
    return sum(1 for f in store.files.values() if f.folder_id == folder_id)


def unfile(store: FileManagerStore, folder_id: int) -> None:
    """Files of a deleted folder stay, unfiled (module docstring)."""
    for item in store.files.values():
        if item.folder_id == folder_id:
            item.folder_id = 0


def iter_files(store: FileManagerStore) -> Iterator[StoredFile]:
    return iter(list(store.files.values()))
