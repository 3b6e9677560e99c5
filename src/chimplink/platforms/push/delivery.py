"""Delivering the outbox: signed POSTs to the platform, retried with backoff, then given up.

Signing follows the Standard Webhooks specification (through the
`standardwebhooks` package): each POST carries

    webhook-id:         the message id, the same on every attempt (deduplicate on it)
    webhook-timestamp:  seconds since the epoch, of this attempt
    webhook-signature:  v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">

keyed with the tenant's secret (`whsec_<base64 key>`, made by `chimplink
push-key webhook`). The timestamp is the attempt's own, so a receiver that
refuses old timestamps (replays) still accepts a late retry.

A 2xx answer delivers. Anything else — another status, a redirect (not
followed: the endpoint is configured, not discovered), a timeout, a refused
connection — is retried after `DeliveryPolicy.retry_delay`, until
`max_attempts`; then the delivery is kept as dead with the last reason. A
410 Gone is final at once: the receiver says the endpoint no longer exists.
The body of the answer is never read, so a receiver cannot make chimplink
hold a large one.

`deliver_due` is what the job runs (`jobs/push_tasks.py`). It derives its
work from the outbox, so running it twice, or on two workers, is safe.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from chimplink.store.crypto import DecryptionError, TokenCipher
from chimplink.store.push import PushWebhook, get_push_webhook
from chimplink.store.push_outbox import (
    PushDelivery,
    claim_push_deliveries,
    kill_push_delivery,
    mark_push_delivered,
    retry_push_delivery,
)

__all__ = ["DeliveryPolicy", "DeliveryReport", "deliver_due", "sign", "webhook_headers"]

_log = structlog.get_logger("chimplink.platforms")

USER_AGENT = "chimplink-webhooks/1"


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard to try. The defaults spread 10 attempts over two to four hours."""

    max_attempts: int = 10
    first_retry: timedelta = timedelta(seconds=30)
    max_retry: timedelta = timedelta(hours=2)
    timeout: float = 10.0  # seconds, per attempt
    batch: int = 50  # deliveries claimed at once
    max_per_run: int = 1000  # deliveries one `deliver_due` call attempts at most
    concurrency: int = 8  # POSTs in flight at once
    # In [0, 1): spreads retries (a receiver back up is not hit by all of them at once).
    random: Callable[[], float] = field(default=random.random, repr=False)

    def retry_delay(self, attempts: int) -> timedelta:
        """After `attempts` failed attempts: first_retry doubling, capped, jittered to 50–100 %."""
        exponent = min(max(attempts - 1, 0), 30)
        delay = min(self.first_retry * (1 << exponent), self.max_retry)
        return delay * (0.5 + self.random() / 2)


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0

    def counts(self) -> dict[str, int]:
        return {"delivered": self.delivered, "retrying": self.retrying, "dead": self.dead}


def sign(secret: str, *, message_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` value for one attempt."""
    return Webhook(secret).sign(message_id, datetime.fromtimestamp(timestamp, UTC), body)


def webhook_headers(secret: str, *, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id=message_id, timestamp=timestamp, body=body),
    }


@dataclass(frozen=True)
class _Outcome:
    delivered: bool
    final: bool = False  # give up now, whatever the attempt count
    status: int | None = None
    error: str = ""


async def _post(
    http: httpx.AsyncClient, endpoint: PushWebhook, delivery: PushDelivery, now: datetime
) -> _Outcome:
    headers = webhook_headers(
        endpoint.secret.get_secret_value(),
        message_id=delivery.message_id,
        timestamp=int(now.timestamp()),
        body=delivery.payload,
    )
    try:
        async with http.stream(
            "POST", endpoint.url, content=delivery.payload.encode("utf-8"), headers=headers
        ) as response:
            status = response.status_code
    except httpx.TimeoutException:
        return _Outcome(False, error="no answer in time")
    except httpx.HTTPError as exc:
        return _Outcome(False, error=f"connection failed ({type(exc).__name__})")
    if 200 <= status < 300:
        return _Outcome(True, status=status)
    if status == 410:
        return _Outcome(False, final=True, status=status, error="the endpoint answered 410 Gone")
    if 300 <= status < 400:
        return _Outcome(False, status=status, error=f"HTTP {status}: redirects are not followed")
    return _Outcome(False, status=status, error=f"HTTP {status}")


async def _attempt(
    http: httpx.AsyncClient,
    endpoint: PushWebhook | _Outcome,
    delivery: PushDelivery,
    limit: asyncio.Semaphore,
    now: Callable[[], datetime],
) -> _Outcome:
    if isinstance(endpoint, _Outcome):
        return endpoint
    async with limit:
        return await _post(http, endpoint, delivery, now())


async def _endpoints(
    sessions: async_sessionmaker[AsyncSession], cipher: TokenCipher, tenants: Iterable[str]
) -> dict[str, PushWebhook | _Outcome]:
    """Each tenant's endpoint, or the outcome of an attempt without one."""
    found: dict[str, PushWebhook | _Outcome] = {}
    async with sessions() as session:
        for tenant_id in tenants:
            try:
                endpoint = await get_push_webhook(
                    session=session, cipher=cipher, tenant_id=tenant_id
                )
            except DecryptionError:
                # Retried: the operator may yet restore the key (`chimplink keys`).
                found[tenant_id] = _Outcome(
                    False, error="the webhook secret cannot be decrypted with the configured keys"
                )
                continue
            # Removed since the change was queued: nowhere to deliver, ever.
            found[tenant_id] = endpoint or _Outcome(
                False, final=True, error="no webhook endpoint is configured"
            )
    return found


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    policy: DeliveryPolicy,
    results: list[tuple[PushDelivery, _Outcome]],
    now: datetime,
    report: DeliveryReport,
) -> None:
    async with sessions.begin() as session:
        for delivery, outcome in results:
            log = {
                "tenant_id": delivery.tenant_id,
                "message_id": delivery.message_id,
                "attempt": delivery.attempts,
                "status": outcome.status,
            }
            if outcome.delivered:
                assert outcome.status is not None
                await mark_push_delivered(
                    session=session, delivery=delivery, status=outcome.status, now=now
                )
                report.delivered += 1
                _log.info("push.webhook_delivered", **log)
            elif outcome.final or delivery.attempts >= policy.max_attempts:
                reason = (
                    outcome.error
                    if outcome.final
                    else f"gave up after {delivery.attempts} attempts; last: {outcome.error}"
                )
                await kill_push_delivery(
                    session=session,
                    delivery=delivery,
                    error=reason,
                    status=outcome.status,
                    now=now,
                )
                report.dead += 1
                _log.warning("push.webhook_dead", reason=reason, **log)
            else:
                await retry_push_delivery(
                    session=session,
                    delivery=delivery,
                    at=now + policy.retry_delay(delivery.attempts),
                    error=outcome.error,
                    status=outcome.status,
                )
                report.retrying += 1
                _log.info("push.webhook_retrying", error=outcome.error, **log)


async def deliver_due(
    *,
    sessions: async_sessionmaker[AsyncSession],
    cipher: TokenCipher,
    http: httpx.AsyncClient,
    policy: DeliveryPolicy | None = None,
    clock: Callable[[], datetime] | None = None,
) -> DeliveryReport:
    """Attempt every delivery due now (at most `policy.max_per_run`), and record each outcome."""
    policy = policy or DeliveryPolicy()
    now = clock or (lambda: datetime.now(UTC))
    report = DeliveryReport()
    limit = asyncio.Semaphore(policy.concurrency)
    attempted = 0
    while attempted < policy.max_per_run:
        async with sessions.begin() as session:
            claimed = await claim_push_deliveries(
                session=session, now=now(), limit=min(policy.batch, policy.max_per_run - attempted)
            )
        if not claimed:
            break
        attempted += len(claimed)
        endpoints = await _endpoints(sessions, cipher, {d.tenant_id for d in claimed})
        outcomes = await asyncio.gather(
            *(_attempt(http, endpoints[d.tenant_id], d, limit, now) for d in claimed)
        )
        await _record(sessions, policy, list(zip(claimed, outcomes, strict=True)), now(), report)
        if len(claimed) < policy.batch:
            break
    return report
