"""Bulk work: batch subscribe (≤500 members a call) and `/batches` (REFERENCE.md §6-§8.3).

Batch subscribe (`POST /lists/{list_id}`) is synchronous and reports per
member. Input is cut into chunks of 500 that run concurrently — the account's
limiter, not this module, bounds how many are in flight — and every input
address gets exactly one `MemberOutcome`.

`/batches` is asynchronous: submit, poll, then download `response_body_url`,
a signed URL on another host valid for 10 minutes, holding a tar.gz of JSON
arrays whose `response` entries are JSON *strings* (§7.2). `POST /batches` is
never blindly retried (it would run the operations twice); a batch id that
was stored can be resumed with `wait()` + `results()` after a restart.
"""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from chimplink.mailchimp._requestor import Requestor
from chimplink.mailchimp.errors import (
    APIConnectionError,
    AuthenticationError,
    BatchNotFinishedError,
    InvalidRequestError,
    MailchimpError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    error_from_response,
)
from chimplink.mailchimp.models.batches import Batch, BatchSubscribeResponse
from chimplink.mailchimp.models.members import Member
from chimplink.mailchimp.pagination import DEFAULT_PAGE_SIZE, paginate
from chimplink.mailchimp.services._base import Service

__all__ = [
    "BATCH_SUBSCRIBE_LIMIT",
    "BatchOperation",
    "BatchResults",
    "BatchSubscribeResult",
    "BatchesService",
    "MemberOutcome",
    "OperationOutcome",
    "PollPolicy",
    "batch_subscribe",
    "parse_results_archive",
]

BATCH_SUBSCRIBE_LIMIT = 500  # "Up to 500 members may be added or updated with each API call" (§6)

# Errors that concern the whole account, not a chunk: no point reporting them
# per member, the caller must stop (reconnect, permissions).
_ACCOUNT_ERRORS = (AuthenticationError, PermissionDeniedError)


# -- batch subscribe ---------------------------------------------------------------


OutcomeStatus = Literal["created", "updated", "error", "unknown"]


@dataclass(frozen=True, slots=True)
class MemberOutcome:
    """What happened to one address of a batch subscribe.

    `unknown`: the chunk may or may not have been applied (transport error or
    5xx), or Mailchimp did not mention the address; read the member back.
    `exception` holds the chunk's error when the whole chunk failed.
    """

    email: str
    status: OutcomeStatus
    member: Member | None = None
    error: str | None = None
    error_code: str | None = None
    field: str | None = None
    field_message: str | None = None
    exception: MailchimpError | None = None


@dataclass
class BatchSubscribeResult:
    """Outcomes keyed by lowercased address, plus the raw per-chunk responses."""

    outcomes: dict[str, MemberOutcome]
    responses: list[BatchSubscribeResponse] = field(default_factory=list)

    def with_status(self, status: OutcomeStatus) -> list[MemberOutcome]:
        return [o for o in self.outcomes.values() if o.status == status]

    @property
    def created(self) -> list[MemberOutcome]:
        return self.with_status("created")

    @property
    def updated(self) -> list[MemberOutcome]:
        return self.with_status("updated")

    @property
    def errors(self) -> list[MemberOutcome]:
        return self.with_status("error")

    @property
    def unknown(self) -> list[MemberOutcome]:
        return self.with_status("unknown")


def _email_key(email: str) -> str:
    return email.strip().lower()


def _chunk_outcomes(
    chunk: Sequence[Mapping[str, Any]], response: BatchSubscribeResponse
) -> dict[str, MemberOutcome]:
    outcomes: dict[str, MemberOutcome] = {}
    for member in response.new_members:
        if member.email_address:
            key = _email_key(member.email_address)
            outcomes[key] = MemberOutcome(email=key, status="created", member=member)
    for member in response.updated_members:
        if member.email_address:
            key = _email_key(member.email_address)
            outcomes[key] = MemberOutcome(email=key, status="updated", member=member)
    for error in response.errors:
        if error.email_address:
            key = _email_key(error.email_address)
            outcomes[key] = MemberOutcome(
                email=key,
                status="error",
                error=error.error,
                error_code=error.error_code,
                field=error.field,
                field_message=error.field_message,
            )
    for item in chunk:
        key = _email_key(str(item["email_address"]))
        if key not in outcomes:
            outcomes[key] = MemberOutcome(
                email=key, status="unknown", error="Mailchimp did not report this address"
            )
    return outcomes


def _failed_chunk(
    chunk: Sequence[Mapping[str, Any]], exc: MailchimpError
) -> dict[str, MemberOutcome]:
    maybe_applied = isinstance(exc, APIConnectionError | ServerError)
    status: OutcomeStatus = "unknown" if maybe_applied else "error"
    outcomes: dict[str, MemberOutcome] = {}
    for item in chunk:
        key = _email_key(str(item["email_address"]))
        outcomes[key] = MemberOutcome(email=key, status=status, error=str(exc), exception=exc)
    return outcomes


# What `batch_subscribe` needs to report every address's outcome: pass as `fields`
# when the members' full records are not wanted.
BATCH_SUBSCRIBE_OUTCOME_FIELDS = (
    "new_members.email_address",
    "updated_members.email_address",
    "errors",
    "total_created",
    "total_updated",
    "error_count",
)


async def batch_subscribe(
    requestor: Requestor,
    *,
    list_id: str,
    members: Sequence[Mapping[str, Any]],
    update_existing: bool,
    sync_tags: bool = False,
    skip_merge_validation: bool = False,
    skip_duplicate_check: bool = False,
    chunk_size: int = BATCH_SUBSCRIBE_LIMIT,
    fields: Sequence[str] | None = None,
) -> BatchSubscribeResult:
    """Subscribe/update `members` (dicts as in `POST /lists/{id}`) in chunks of ≤500.

    `fields` asks Mailchimp for a partial response (§6): each chunk's answer
    otherwise carries every member in full (about 1 MB per 500), which costs
    both sides more than the write itself when only outcomes are needed.

    Retried only with `update_existing=True`: then a repeat converges to the
    same state; without it a repeat would report created members as errors.
    `sync_tags` replaces existing members' tags and needs `update_existing`
    (§8.3). Raises only for account-level errors (401, 403 with a body).
    """
    if not 1 <= chunk_size <= BATCH_SUBSCRIBE_LIMIT:
        raise ValueError(f"chunk_size must be between 1 and {BATCH_SUBSCRIBE_LIMIT}")
    if sync_tags and not update_existing:
        raise ValueError("sync_tags only works with update_existing=True (REFERENCE.md §8.3)")
    for item in members:
        address = item.get("email_address")
        if not isinstance(address, str) or not address.strip():
            raise ValueError("every member needs a non-empty 'email_address'")
    chunks = [members[i : i + chunk_size] for i in range(0, len(members), chunk_size)]
    params = {
        "skip_merge_validation": True if skip_merge_validation else None,
        "skip_duplicate_check": True if skip_duplicate_check else None,
        "fields": ",".join(fields) if fields else None,
    }

    async def send(
        chunk: Sequence[Mapping[str, Any]],
    ) -> tuple[BatchSubscribeResponse, dict[str, MemberOutcome]]:
        data = await requestor.request(
            "POST",
            "/lists/{list_id}",
            path={"list_id": list_id},
            params=params,
            json_body={
                "members": [dict(item) for item in chunk],
                "update_existing": update_existing,
                "sync_tags": sync_tags,
            },
            idempotent=update_existing,
        )
        response = BatchSubscribeResponse.model_validate(data or {})
        # Outcomes are read as each answer arrives, while other chunks are
        # still in flight, not all at once after the last one.
        return response, _chunk_outcomes(chunk, response)

    # gather, not a TaskGroup: one failed chunk must not cancel the others
    # mid-flight (that would turn their outcomes into "unknown" for nothing).
    settled = await asyncio.gather(*(send(chunk) for chunk in chunks), return_exceptions=True)
    result = BatchSubscribeResult(outcomes={})
    account_error: MailchimpError | None = None
    for chunk, outcome in zip(chunks, settled, strict=True):
        if isinstance(outcome, tuple):
            response, outcomes = outcome
            result.responses.append(response)
            result.outcomes.update(outcomes)
        elif isinstance(outcome, _ACCOUNT_ERRORS):
            account_error = account_error or outcome
        elif isinstance(outcome, MailchimpError):
            result.outcomes.update(_failed_chunk(chunk, outcome))
        else:
            raise outcome
    if account_error is not None:
        raise account_error
    return result


# -- /batches ----------------------------------------------------------------------


@dataclass(frozen=True)
class BatchOperation:
    """One operation of a batch (§7.1).

    `path` is relative to /3.0; `body` (any JSON value) is encoded to the
    string Mailchimp expects.
    """

    method: str
    path: str
    operation_id: str
    params: Mapping[str, str] | None = None
    body: Any = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "method": self.method.upper(),
            "path": self.path,
            "operation_id": self.operation_id,
        }
        if self.params:
            data["params"] = dict(self.params)
        if self.body is not None:
            # Mailchimp wants the body as a *string* containing JSON (§7.1).
            data["body"] = self.body if isinstance(self.body, str) else json.dumps(self.body)
        return data


@dataclass(frozen=True)
class OperationOutcome:
    """One entry of the results archive. `body` is the parsed `response` string."""

    operation_id: str | None
    status_code: int
    body: Any
    error: MailchimpError | None = None

    @property
    def ok(self) -> bool:
        return self.status_code < 400


@dataclass
class BatchResults:
    """Outcomes keyed by operation_id (the last entry wins for paged GETs, see `responses`)."""

    batch: Batch
    outcomes: dict[str, OperationOutcome]
    responses: list[OperationOutcome]

    @property
    def failed(self) -> dict[str, OperationOutcome]:
        return {key: outcome for key, outcome in self.outcomes.items() if not outcome.ok}


def _malformed(reason: str) -> ServerError:
    return ServerError(
        f"Malformed batch results: {reason}",
        title="Malformed Batch Results",
        detail=reason,
        operation="GET {response_body_url}",
    )


def _outcome(entry: Any) -> OperationOutcome:
    if not isinstance(entry, dict) or not isinstance(entry.get("status_code"), int):
        raise _malformed("an entry has no status_code")
    status: int = entry["status_code"]
    operation_id = entry.get("operation_id")
    operation_id = operation_id if isinstance(operation_id, str) and operation_id else None
    raw = entry.get("response")
    text = raw if isinstance(raw, str) else json.dumps(raw) if raw is not None else ""
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = text
    error = None
    if status >= 400:
        error = error_from_response(
            httpx.Response(
                status,
                content=text.encode("utf-8"),
                headers={"content-type": "application/problem+json"},
            ),
            operation=f"batch operation {operation_id}",
        )
    return OperationOutcome(operation_id=operation_id, status_code=status, body=body, error=error)


def parse_results_archive(
    data: bytes, *, max_bytes: int = 512 * 1024 * 1024
) -> list[OperationOutcome]:
    """Read the results tar.gz in memory (nothing touches disk: no path traversal).

    `max_bytes` bounds the uncompressed size read, against a decompression bomb.
    """
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            return _read_archive(archive, max_bytes=max_bytes)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise _malformed(f"not a readable tar.gz archive ({type(exc).__name__})") from None


def _read_archive(archive: tarfile.TarFile, *, max_bytes: int) -> list[OperationOutcome]:
    outcomes: list[OperationOutcome] = []
    total = 0
    for member in sorted(archive.getmembers(), key=lambda m: m.name):
        if not member.isfile():
            continue
        total += member.size
        if total > max_bytes:
            raise _malformed(f"more than {max_bytes} bytes uncompressed")
        handle = archive.extractfile(member)
        if handle is None:  # pragma: no cover - isfile() members always have data
            continue
        try:
            entries = json.loads(handle.read())
        except ValueError:
            raise _malformed(f"{member.name} is not JSON") from None
        if not isinstance(entries, list):
            raise _malformed(f"{member.name} is not a JSON array")
        outcomes.extend(_outcome(entry) for entry in entries)
    return outcomes


@dataclass(frozen=True, kw_only=True)
class PollPolicy:
    """How `wait()` polls: growing intervals, bounded total time; injectable for tests."""

    initial: float = 1.0
    factor: float = 1.5
    max_interval: float = 30.0
    timeout: float = 1800.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)


class BatchesService(Service):
    """`/batches`: submit, poll, fetch results; resumable from a stored batch id."""

    async def submit(self, operations: Sequence[BatchOperation]) -> Batch:
        """`POST /batches`. On an unknown outcome the caller gets `OutcomeUnknownError`
        and should look for the batch (`iterate()`, last 7 days) before resubmitting."""
        if not operations:
            raise ValueError("a batch needs at least one operation")
        ids = [op.operation_id for op in operations]
        if len(set(ids)) != len(ids):
            # Mailchimp does not check uniqueness (§7.1), but results are keyed by it.
            raise ValueError("operation_id values must be unique within a batch")
        data = await self._requestor.request(
            "POST", "/batches", json_body={"operations": [op.to_json() for op in operations]}
        )
        return Batch.model_validate(data)

    async def get(self, batch_id: str) -> Batch:
        data = await self._requestor.request(
            "GET", "/batches/{batch_id}", path={"batch_id": batch_id}
        )
        return Batch.model_validate(data)

    def iterate(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[Batch]:
        return paginate(
            self._requestor,
            "/batches",
            key="batches",
            parse=Batch.model_validate,
            page_size=page_size,
        )

    async def delete(self, batch_id: str) -> None:
        await self._requestor.request("DELETE", "/batches/{batch_id}", path={"batch_id": batch_id})

    async def wait(self, batch_id: str, *, poll: PollPolicy | None = None) -> Batch:
        """Poll until `finished`; `BatchNotFinishedError` after `poll.timeout` (resume later)."""
        policy = poll or PollPolicy()
        start = policy.clock()
        interval = policy.initial
        while True:
            batch = await self.get(batch_id)
            if batch.finished:
                return batch
            if policy.clock() - start + interval > policy.timeout:
                raise BatchNotFinishedError(batch_id, batch.status)
            await policy.sleep(interval)
            interval = min(interval * policy.factor, policy.max_interval)

    async def results(self, batch: Batch) -> BatchResults:
        """Download and parse a finished batch's results.

        The URL expires after 10 minutes (§7.2); if it was refused, the batch
        is read again once for a fresh URL.
        """
        if not batch.finished:
            raise ValueError(f"batch {batch.id} has not finished (status {batch.status!r})")
        try:
            data = await self._download(batch)
        except InvalidRequestError:
            batch = await self.get(batch.id)
            data = await self._download(batch)
        responses = parse_results_archive(data)
        outcomes = {o.operation_id: o for o in responses if o.operation_id is not None}
        return BatchResults(batch=batch, outcomes=outcomes, responses=responses)

    async def _download(self, batch: Batch) -> bytes:
        if not batch.response_body_url:
            raise NotFoundError(
                f"batch {batch.id} has no response_body_url",
                title="Batch Results Unavailable",
                operation="GET /batches/{batch_id}",
            )
        return await self._requestor.download(batch.response_body_url)

    async def run(
        self, operations: Sequence[BatchOperation], *, poll: PollPolicy | None = None
    ) -> BatchResults:
        """Submit, wait and fetch results. Store `batch.id` if the process may stop meanwhile."""
        batch = await self.submit(operations)
        finished = await self.wait(batch.id, poll=poll)
        return await self.results(finished)
