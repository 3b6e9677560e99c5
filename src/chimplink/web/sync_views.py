"""How the sync pages show runs, records and a preview's planned changes, in plain words.

Stored reasons read "<reason>: <Mailchimp's words>" (sync/classify.py); the
pages show the reason as a category and Mailchimp's words beside it, with
what happens next for the record's outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from chimplink.store.sync_state import RecordOutcome, RunStatus, SyncRecord, SyncRun
from chimplink.sync import PlannedChange

__all__ = [
    "OUTCOME_LABELS",
    "SAMPLE_SIZE",
    "Change",
    "RecordView",
    "RunView",
    "Sample",
    "record_view",
    "run_view",
    "samples",
    "split_reason",
]

SAMPLE_SIZE = 10  # preview lines shown per kind of change

OUTCOME_LABELS = {
    RecordOutcome.SYNCED: "Synced",
    RecordOutcome.PARKED: "Not synced: needs a fix",
    RecordOutcome.FAILED: "Will be retried",
    RecordOutcome.SKIPPED: "Left out",
}
_OUTCOME_ADVICE = {
    RecordOutcome.SYNCED: "Mailchimp has this contact as your platform holds it.",
    RecordOutcome.PARKED: (
        "chimplink does not send this contact again until it changes on your platform."
    ),
    RecordOutcome.FAILED: "chimplink sends this contact again on the next sync.",
    RecordOutcome.SKIPPED: "Not sent to Mailchimp, on purpose.",
}
_SAMPLE_TITLES = {
    "create": "Would be added",
    "update": "Would be updated",
    "create or update": "Would be added or updated",
    "email change": "Would get their new email address",
    "skip": "Would be left out",
    "fail": "Would fail",
    "erase": "Erased on your platform",
}
# The status a new member gets (the engine's `status_if_new`), in plain words.
_NEW_STATUS = {
    "subscribed": "Subscribed (your platform recorded their consent)",
    "pending": "Gets Mailchimp's confirmation email; subscribed once they confirm",
    "transactional": "Not subscribed: order and account emails only",
}
# How the engine and Mailchimp name the address field in a reason ("email: …").
_ADDRESS_FIELDS = frozenset({"email", "email_address"})
_RUN_RESULTS = {
    RunStatus.RUNNING: "Running",
    RunStatus.COMPLETED: "Completed",
    RunStatus.FAILED: "Stopped",
    RunStatus.NEEDS_RECONNECT: "Stopped: reconnect needed",
}


@dataclass(frozen=True)
class Change:
    platform_key: str
    email: str = field(repr=False)  # personal data: shown on the page, kept out of logs
    detail: str | None


@dataclass(frozen=True)
class Sample:
    id: str
    title: str
    changes: list[Change]


def _change(change: PlannedChange) -> Change:
    detail = change.detail
    if detail and change.action == "fail":
        category, words = split_reason(detail)
        detail = f"{category}: {words}" if words else category
    elif detail and change.action == "create":
        detail = _NEW_STATUS.get(detail.removeprefix("status "), detail)
    return Change(platform_key=change.platform_key, email=change.email, detail=detail)


def samples(preview: Sequence[PlannedChange]) -> list[Sample]:
    """The first few planned changes of each kind (the engine keeps the first 100)."""
    groups: dict[str, list[Change]] = {}
    for change in preview:
        group = groups.setdefault(change.action, [])
        if len(group) < SAMPLE_SIZE:
            group.append(_change(change))
    return [
        Sample(
            id=action.replace(" ", "-"),
            title=_SAMPLE_TITLES.get(action, action.capitalize()),
            changes=changes,
        )
        for action, changes in groups.items()
    ]


@dataclass(frozen=True)
class RunView:
    status: str
    started_at: datetime
    kind: str
    result: str
    created: int
    updated: int
    unchanged: int
    skipped: int
    failed: int
    message: str | None
    reasons: list[tuple[str, int]]


def run_view(run: SyncRun) -> RunView:
    counts = dict(run.counts)
    failed = {str(k): int(v) for k, v in (counts.get("failed") or {}).items()}
    retrying = {str(k): int(v) for k, v in (counts.get("retrying") or {}).items()}
    reasons = sorted(failed.items()) + [
        (f"will retry: {reason}", n) for reason, n in sorted(retrying.items())
    ]
    kind = "Preview" if run.dry_run else ("Full sync" if run.full else "Sync")
    return RunView(
        status=run.status.value,
        started_at=run.started_at,
        kind=kind,
        result=_RUN_RESULTS[run.status],
        created=int(counts.get("created", 0)) + int(counts.get("create_or_update", 0)),
        updated=int(counts.get("updated", 0)),
        unchanged=int(counts.get("unchanged", 0)),
        skipped=int(counts.get("skipped", 0)),
        failed=sum(failed.values()),
        message=run.message,
        reasons=reasons,
    )


@dataclass(frozen=True)
class RecordView:
    key: str
    email: str = field(repr=False)
    outcome: str
    outcome_label: str
    category: str | None
    detail: str | None
    advice: str
    updated_at: datetime


def split_reason(reason: str) -> tuple[str, str | None]:
    """A stored reason, "<reason>: <Mailchimp's words>" (sync/classify.py), as a
    capitalized category and the words, without the API's name of the field."""
    head, sep, rest = reason.partition(": ")
    detail = rest if sep else None
    if detail is not None:
        name, colon, words = detail.partition(": ")
        if colon and name in _ADDRESS_FIELDS:
            detail = words
    return head[:1].upper() + head[1:], detail or None


def record_view(record: SyncRecord) -> RecordView:
    category, detail = split_reason(record.reason) if record.reason else (None, None)
    return RecordView(
        key=record.platform_key,
        email=record.email,
        outcome=record.outcome.value,
        outcome_label=OUTCOME_LABELS[record.outcome],
        category=category,
        detail=detail,
        advice=_OUTCOME_ADVICE[record.outcome],
        updated_at=record.updated_at,
    )
