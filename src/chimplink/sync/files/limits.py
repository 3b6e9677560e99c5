"""Mailchimp's File Manager limits, checked before any call (REFERENCE.md §9).

The API reference states no limits; the legacy help pages give "a 10MB limit
for individual files" and a list of allowed extensions (§9). A file over a
limit is refused here, per file, with a message naming the limit, and is
never sent: Mailchimp would refuse it anyway, after a 10 MB upload.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ALLOWED_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "MAX_FILE_BYTES",
    "Limit",
    "LimitViolation",
    "check_limits",
    "extension",
]

# "There's a 10MB limit for individual files in your MailChimp File Manager" (§9).
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILE_LABEL = "10 MB"

# The legacy KB's list (§9): images first (what photos are), then the other groups.
IMAGE_EXTENSIONS = (
    "jpg", "jpe", "jpeg", "gif", "png", "bmp", "psd", "tif", "tiff", "svg", "indd", "ai", "eps",
)  # fmt: skip
ALLOWED_EXTENSIONS = frozenset((
    *IMAGE_EXTENSIONS,
    "txt", "csv", "log", "css", "ics",
    "doc", "docx", "rtf", "odt", "ott", "pdf", "pub", "pages", "mobi", "epub",
    "mp3", "m4a", "m4v", "wma", "ogg", "flac", "wav", "aif", "aifc", "aiff",
    "mp4", "mov", "avi", "mkv", "mpeg", "mpg", "wmv",
    "xls", "xlsx", "ods", "numbers",
    "odp", "ppt", "pptx", "pps", "key",
    "zip", "tar", "gz", "7z", "vcf",
))  # fmt: skip
_IMAGE_LIST = ", ".join(f".{e}" for e in IMAGE_EXTENSIONS)


class Limit(StrEnum):
    """Which limit a file breaks (keys the report's "rejected" counts)."""

    SIZE = "over 10 MB"
    TYPE = "file type not accepted"
    EMPTY = "empty file"


@dataclass(frozen=True)
class LimitViolation:
    limit: Limit
    message: str  # names the file and the limit, for the user


def extension(name: str) -> str:
    """The lowercased extension of a file name ("" when it has none)."""
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem.strip() else ""


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def check_limits(name: str, size: int) -> LimitViolation | None:
    """The first File Manager limit `name` (as it would be uploaded) of `size` bytes breaks."""
    ext = extension(name)
    if not ext:
        return LimitViolation(
            Limit.TYPE,
            f"{name} has no file type: Mailchimp's File Manager accepts only files whose name "
            f"ends in an accepted type (images: {_IMAGE_LIST}).",
        )
    if ext not in ALLOWED_EXTENSIONS:
        return LimitViolation(
            Limit.TYPE,
            f"{name}: Mailchimp's File Manager does not accept .{ext} files "
            f"(images it accepts: {_IMAGE_LIST}).",
        )
    if size <= 0:
        return LimitViolation(
            Limit.EMPTY, f"{name} is empty: Mailchimp's File Manager does not accept empty files."
        )
    if size > MAX_FILE_BYTES:
        return LimitViolation(
            Limit.SIZE,
            f"{name} is {_megabytes(size)} ({size:,} bytes): Mailchimp's File Manager accepts "
            f"files of up to {MAX_FILE_LABEL} ({MAX_FILE_BYTES:,} bytes).",
        )
    return None
