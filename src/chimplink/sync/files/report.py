"""What a push or pull of files tells its caller: options, progress, a report."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chimplink.store.files import TransferDirection
from chimplink.store.sync_state import RunStatus

__all__ = [
    "FileAction",
    "FileOptions",
    "FileOutcome",
    "FileProgress",
    "FileProgressCallback",
    "FileReport",
]


@dataclass(frozen=True, kw_only=True)
class FileOptions:
    """Tuning and test seams. The defaults are what production uses."""

    # Files in hand at once. None: twice the client limiter's per-account slots
    # (Mailchimp allows 10 connections per user, REFERENCE.md §6; the limiter
    # keeps requests within them). Each worker holds one file in memory.
    workers: int | None = None
    page_size: int = 100  # photos read from the platform per page
    # In-run rounds for uploads whose outcome is unknown (5xx, a lost answer):
    # the folder is listed, and what is not there is sent again.
    retry_rounds: int = 2
    # When a photo edited on the platform is uploaded again (Mailchimp files
    # cannot be replaced), delete the previous file in Mailchimp. Off by
    # default: campaigns may still show the old image.
    delete_replaced: bool = False
    folder_name: str | None = None  # default: named after the platform (folder.py)
    outcome_limit: int = 200  # per-file lines kept in the report (failures first)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.page_size < 1 or self.retry_rounds < 0 or self.outcome_limit < 0:
            raise ValueError("page_size >= 1; retry_rounds, outcome_limit >= 0")


class FileAction(StrEnum):
    """What happened (or, in a dry run, would happen) to one file."""

    UPLOAD = "upload"  # a new photo
    REPLACE = "replace"  # an edited photo: a new file, linked to the previous one
    RECONCILED = "found in Mailchimp"  # an unconfirmed upload that had arrived
    UNCHANGED = "unchanged"
    IMPORT = "import"
    SKIP = "skip"
    REJECTED = "rejected"  # over a limit, or refused by Mailchimp: final until it changes
    FAILED = "failed"  # will be tried again on the next run


@dataclass(frozen=True)
class FileOutcome:
    """One line of the report: `key` is the platform's key (push) or Mailchimp's file id (pull)."""

    key: str
    name: str
    action: FileAction
    detail: str | None = None


@dataclass(frozen=True)
class FileProgress:
    """Sent after each file (for the CLI's progress bar and the UI)."""

    done: int  # files handled this run (whatever the outcome)
    total: int | None  # files to handle, when known
    transferred: int  # uploaded or imported this run
    failed: int  # rejected or failed this run
    bytes: int  # bytes uploaded or downloaded this run
    rate: float  # files per second so far


FileProgressCallback = Callable[[FileProgress], None]


@dataclass
class FileReport:
    """Counts of one push or pull. In a dry run they are what *would* happen.

    `rejected` counts final failures by limit or reason (sent again only once
    the photo changes); `failed` counts files left for the next run by reason.
    """

    installation_id: str
    direction: TransferDirection
    run_id: str | None = None
    status: RunStatus = RunStatus.RUNNING
    dry_run: bool = False
    folder_id: int | None = None
    read: int = 0
    uploaded: int = 0
    replaced: int = 0  # of `uploaded`: new versions of edited photos
    reconciled: int = 0  # unconfirmed uploads found in the folder instead of sent again
    deleted_old: int = 0  # previous versions deleted in Mailchimp (`delete_replaced`)
    imported: int = 0
    unchanged: int = 0
    skipped: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    api_calls: int = 0
    message: str | None = None  # why the run stopped, in plain words
    outcomes: list[FileOutcome] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def transferred(self) -> int:
        return self.uploaded + self.imported

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    def counts(self) -> dict[str, Any]:
        """The JSON kept with the run (no file names)."""
        return {
            "read": self.read,
            "uploaded": self.uploaded,
            "replaced": self.replaced,
            "reconciled": self.reconciled,
            "deleted_old": self.deleted_old,
            "imported": self.imported,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "rejected": dict(self.rejected),
            "failed": dict(self.failed),
            "bytes": self.bytes,
            "api_calls": self.api_calls,
            "elapsed_s": round(self.elapsed, 3),
        }
