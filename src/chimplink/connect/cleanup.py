"""The remote clean-up worker: delete at Mailchimp the webhooks an uninstall left behind.

Runs from the job runner (chimplink.jobs). Each due `pending_cleanups` row is
claimed (a lease, so two workers never act on one row), then one DELETE is
made — no in-call retries: the row's own schedule is the backoff
(store/cleanup.py: 30 s doubling to 1 h, until the deadline):

- 2xx or 404: the webhook is gone; the row and its token copy are deleted;
- 401: the user removed the app at Mailchimp, so this token will never work
  again; the row is dropped with a `cleanup_abandoned` audit entry rather
  than retried for days;
- anything else (5xx, 429, no response): recorded, retried later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from chimplink.connect.services import Services
from chimplink.mailchimp import (
    AuthenticationError,
    MailchimpClient,
    MailchimpError,
    NotFoundError,
    RetryPolicy,
    check_api_endpoint,
)
from chimplink.store import (
    AuditEvent,
    DueCleanup,
    abandon_expired_cleanups,
    claim_due_cleanups,
    complete_cleanup,
    fail_cleanup,
    record_audit,
)

__all__ = ["CleanupReport", "run_due_cleanups"]

_log = structlog.get_logger("chimplink.connect")


@dataclass(frozen=True)
class CleanupReport:
    completed: int = 0
    failed: int = 0  # will be retried
    abandoned: int = 0  # dropped: token revoked, untrusted host, or past the deadline


async def _abandon(services: Services, item: DueCleanup, reason: str) -> None:
    async with services.sessions.begin() as session:
        await record_audit(
            session=session,
            event=AuditEvent.CLEANUP_ABANDONED,
            details={
                "reason": reason,
                "list_id": item.list_id,
                "webhook_id": item.webhook_id,
                "attempts": item.attempts + 1,
            },
            now=services.clock(),
        )
        await complete_cleanup(session=session, cleanup_id=item.id)


async def _attempt(services: Services, item: DueCleanup, now: datetime) -> str:
    """One DELETE; returns "completed", "failed" or "abandoned"."""
    try:
        api_base = check_api_endpoint(
            item.api_base, allowed_api_bases=services.config.allowed_api_bases
        )
        client = MailchimpClient(
            access_token=item.access_token.get_secret_value(),
            api_endpoint=api_base,
            account_key=f"account:{item.account_id}",
            http_client=services.http,
            limiter=services.limiter,
            retry=RetryPolicy.never(),
        )
        await client.webhooks.delete(item.list_id, item.webhook_id)
    except NotFoundError:
        pass
    except AuthenticationError:
        # Also OAuthError from check_api_endpoint: the stored base is not trusted.
        await _abandon(services, item, "Mailchimp refused the token (401) or untrusted host")
        return "abandoned"
    except MailchimpError as exc:
        status = exc.status if exc.status is not None else "no response"
        async with services.sessions.begin() as session:
            await fail_cleanup(
                session=session,
                cleanup_id=item.id,
                error=f"{status} {exc.title or type(exc).__name__}",
                now=now,
            )
        return "failed"
    async with services.sessions.begin() as session:
        await complete_cleanup(session=session, cleanup_id=item.id)
    return "completed"


async def run_due_cleanups(
    services: Services, *, now: datetime | None = None, limit: int = 20
) -> CleanupReport:
    """Work through the clean-ups due at `now` (default: the services' clock)."""
    at = now or services.clock()
    async with services.sessions.begin() as session:
        expired = await abandon_expired_cleanups(session=session, now=at)
    async with services.sessions.begin() as session:
        due = await claim_due_cleanups(session=session, cipher=services.cipher, now=at, limit=limit)
    outcomes = {"completed": 0, "failed": 0, "abandoned": 0}
    for item in due:
        outcome = await _attempt(services, item, at)
        outcomes[outcome] += 1
        _log.info(
            "connect.cleanup." + outcome,
            cleanup_id=item.id,
            webhook_id=item.webhook_id,
            attempts=item.attempts + 1,
        )
    return CleanupReport(
        completed=outcomes["completed"],
        failed=outcomes["failed"],
        abandoned=outcomes["abandoned"] + expired,
    )
