"""Outgoing webhook deliveries: what Mailchimp POSTs when an audience changes.

`install(app)` connects a `Deliverer` to the backend's `ListEvent`s. For each
event, every webhook of that audience whose `events` and `sources` want it
gets one delivery (REFERENCE.md §4.1):

- a form-encoded POST (`payload.py`) with User-Agent `MailChimp.com`, signed
  with `X-Mailchimp-Signature` when the webhook has a signing secret; each
  attempt is signed afresh, since receivers reject timestamps older than 5 min;
- cancelled after `webhook_timeout_s` (Mailchimp: 10 s), and retried at
  `webhook_retry_delays_s` (Mailchimp: "increasing intervals over the course
  of 75 minutes") when the receiver fails: no response, or any status but 2xx;
- a 410 disables the webhook at once, without retries (changelog 2021-04-05).

Each delivery is recorded in the account's `DeliveriesStore` (so `--state`
snapshots keep them; the newest `MAX_RECORDS` per account are kept), with the
exact body sent, for `GET /_emulator/deliveries`.

`POST /_emulator/deliveries/flush` wakes every delivery waiting for its next
retry, so tests need not wait for the backoff. It also restarts deliveries
that were waiting when the state was saved and have no live task now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import BaseModel, Field

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, ListEvent, now_iso, register_store
from chimplink.emulator.lists.models import require_list
from chimplink.emulator.webhooks import models, payload

if TYPE_CHECKING:
    from chimplink.emulator.app import EmulatorApp

log = logging.getLogger("chimplink.emulator.webhooks")

# Per account. Old records go first; a record evicted while retrying stops retrying.
MAX_RECORDS = 10_000

Outcome = Literal["pending", "delivered", "retrying", "failed", "disabled", "cancelled"]
# Outcomes after which nothing more happens to a delivery.
FINAL: frozenset[str] = frozenset({"delivered", "failed", "disabled", "cancelled"})


class DeliveryRecord(BaseModel):
    """One event sent (or being sent) to one webhook."""

    id: str
    account_id: str
    list_id: str
    webhook_id: str
    url: str
    type: str
    source: str
    fired_at: str
    # The exact form body, as sent on every attempt.
    body: str
    signed: bool
    attempts: int = 0
    # None until an attempt got an HTTP response.
    last_status: int | None = None
    last_error: str | None = None
    # pending: first attempt not finished; retrying: waiting for next_attempt_at;
    # delivered: 2xx; failed: retries exhausted; disabled: 410 (webhook disabled);
    # cancelled: the webhook or its audience was gone or disabled before an attempt.
    outcome: Outcome = "pending"
    created_at: str = Field(default_factory=now_iso)
    updated_at: str = Field(default_factory=now_iso)
    next_attempt_at: str | None = None


@register_store("webhook_deliveries")
class DeliveriesStore(BaseModel):
    # delivery id → record, oldest first
    records: dict[str, DeliveryRecord] = Field(default_factory=dict)


def deliveries_of(account: Account) -> DeliveriesStore:
    return account.store(DeliveriesStore)


def _list_exists(account: Account, list_id: str) -> bool:
    try:
        require_list(account, list_id)
    except problems.ProblemError:
        return False
    return True


def _later_iso(seconds: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.replace(microsecond=0).isoformat()


class Deliverer:
    """The `ListEvent` sink. Runtime handles (tasks, the wake-up event) live here;
    everything that must survive a snapshot lives in the account stores.
    """

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app
        # Set (and replaced) by flush(): every sleeping retry wakes up.
        self._wake = asyncio.Event()
        # Delivery ids with a task running, so flush() can restart the others.
        self._live: set[str] = set()

    # -- the sink ---------------------------------------------------------------

    def __call__(self, event: ListEvent) -> None:
        account = self.app.backend.accounts.get(event.account_id)
        if account is None:
            return
        if not _list_exists(account, event.list_id):
            # Webhooks die with their audience.
            models.forget_list(account, event.list_id)
            return
        hooks = [
            hook
            for hook in models.iter_hooks(account, event.list_id)
            if hook.wants(event_type=event.type, source=event.source)
        ]
        if not hooks:
            return
        fired = payload.fired_at(event.fired_at)
        body = payload.encode_form(
            payload.form_fields(event_type=event.type, fired=fired, data=event.data)
        )
        for hook in hooks:
            record = DeliveryRecord(
                id=self.app.backend.new_id(16),
                account_id=account.account_id,
                list_id=event.list_id,
                webhook_id=hook.id,
                url=hook.url,
                type=event.type,
                source=event.source,
                fired_at=fired,
                body=body,
                signed=hook.signing_enabled,
            )
            self._remember(account, record)
            self._start(account.account_id, record.id)

    # -- control plane ----------------------------------------------------------

    def flush(self) -> dict[str, int]:
        """Retry now every delivery waiting for a retry; restart orphaned ones."""
        woken = 0
        resumed = 0
        for account in self.app.backend.iter_accounts():
            for record in list(deliveries_of(account).records.values()):
                if record.outcome in FINAL:
                    continue
                if record.id in self._live:
                    woken += record.outcome == "retrying"
                else:
                    resumed += 1
                    self._start(account.account_id, record.id)
        wake, self._wake = self._wake, asyncio.Event()
        wake.set()
        return {"woken": woken, "resumed": resumed}

    # -- delivery ---------------------------------------------------------------

    def _remember(self, account: Account, record: DeliveryRecord) -> None:
        records = deliveries_of(account).records
        records[record.id] = record
        while len(records) > MAX_RECORDS:
            del records[next(iter(records))]

    def _start(self, account_id: str, delivery_id: str) -> None:
        self._live.add(delivery_id)
        task = self.app.spawn(self._run(account_id, delivery_id))
        # A done callback, not `finally`: a task cancelled before it ever ran
        # (POST /_emulator/reset) never executes its body.
        task.add_done_callback(lambda _: self._live.discard(delivery_id))

    def _lookup(self, account_id: str, delivery_id: str) -> tuple[Account, DeliveryRecord] | None:
        account = self.app.backend.accounts.get(account_id)
        if account is None:
            return None
        record = deliveries_of(account).records.get(delivery_id)
        return None if record is None else (account, record)

    async def _run(self, account_id: str, delivery_id: str) -> None:
        try:
            await self._deliver(account_id, delivery_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug must not kill the event loop's other work
            log.exception("webhook delivery %s crashed", delivery_id)
            found = self._lookup(account_id, delivery_id)
            if found is not None:
                record = found[1]
                record.outcome = "failed"
                record.last_error = "emulator error"
                record.updated_at = now_iso()

    async def _deliver(self, account_id: str, delivery_id: str) -> None:
        delays = self.app.config.webhook_retry_delays_s
        while True:
            found = self._lookup(account_id, delivery_id)
            if found is None:  # reset, or evicted from the bounded store
                return
            account, record = found
            hook = models.find_webhook(account, record.list_id, record.webhook_id)
            if hook is None or hook.disabled or not _list_exists(account, record.list_id):
                record.outcome = "cancelled"
                record.next_attempt_at = None
                record.updated_at = now_iso()
                return
            secret = hook.signing_secret if record.signed else None
            status, error = await self._attempt(record, secret)
            record.attempts += 1
            record.last_status = status
            record.last_error = error
            record.updated_at = now_iso()
            record.next_attempt_at = None
            if status is not None and 200 <= status < 300:
                record.outcome = "delivered"
                return
            if status == 410:
                # "Returning 410 from an audience webhook will disable it" (§4.1).
                record.outcome = "disabled"
                models.disable(hook, reason="The receiver answered 410 Gone.")
                return
            if record.attempts > len(delays):
                record.outcome = "failed"
                return
            delay = delays[record.attempts - 1]
            record.outcome = "retrying"
            record.next_attempt_at = _later_iso(delay)
            await self._sleep(delay)

    async def _sleep(self, seconds: float) -> None:
        """Wait for the next retry, or until flush() wakes every waiting delivery."""
        wake = self._wake
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=seconds)

    async def _attempt(
        self, record: DeliveryRecord, secret: str | None
    ) -> tuple[int | None, str | None]:
        body = record.body.encode("utf-8")
        headers = {
            "User-Agent": payload.DELIVERY_USER_AGENT,
            "Content-Type": payload.FORM_CONTENT_TYPE,
        }
        if secret:
            headers[payload.SIGNATURE_HEADER] = payload.signature_header(
                secret, int(time.time()), body
            )
        try:
            response = await self.app.http_client().post(
                record.url,
                content=body,
                headers=headers,
                timeout=self.app.config.webhook_timeout_s,
            )
        except httpx.TimeoutException:
            return None, "timeout"
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            return None, f"connection error: {type(exc).__name__}"
        return response.status_code, None


def install(app: EmulatorApp) -> None:
    app.backend.list_event_sinks.append(Deliverer(app))


def deliverer_of(app: EmulatorApp) -> Deliverer:
    """The app's deliverer: it is the sink `install()` connected."""
    for sink in app.backend.list_event_sinks:
        if isinstance(sink, Deliverer):
            return sink
    raise RuntimeError("webhook deliveries are not installed")  # pragma: no cover


def iter_records(
    app: EmulatorApp,
    *,
    account_id: str | None = None,
    list_id: str | None = None,
    webhook_id: str | None = None,
) -> list[DeliveryRecord]:
    """Delivery records matching the filters, oldest first within each account."""
    found: list[DeliveryRecord] = []
    for account in app.backend.iter_accounts():
        if account_id is not None and account.account_id != account_id:
            continue
        for record in deliveries_of(account).records.values():
            if list_id is not None and record.list_id != list_id:
                continue
            if webhook_id is not None and record.webhook_id != webhook_id:
                continue
            found.append(record)
    return found


def record_json(record: DeliveryRecord) -> dict[str, Any]:
    return record.model_dump(mode="json")
