"""A `MailchimpClient` for one installation, with its calls accounted and 401s handled.

    async with installation_client(services, installation) as client:
        audiences = [a async for a in client.lists.iterate()]

- Work is paused for an installation that is not active: `NeedsReconnect` is
  raised before any request, so a revoked token costs no further calls.
- Every HTTP attempt becomes an `api_calls` row (active users, metrics) and
  moves `last_used_at`; rows are written when the block ends.
- A 401 means the user removed the app at Mailchimp (tokens never expire,
  REFERENCE.md §3): the installation is marked `needs_reconnect` and the
  block raises `NeedsReconnect`. The client never retries a 401, so one
  revoked token costs exactly one failing call.
- Any other Mailchimp error becomes `MailchimpFailed` with the client's
  `user_message`.

The API base is checked against the pinned hosts again before the token is
sent: a tampered row cannot redirect a token elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import structlog

from chimplink.connect.errors import MailchimpFailed, NeedsReconnect
from chimplink.connect.services import Services
from chimplink.mailchimp import (
    ApiCall,
    AuthenticationError,
    MailchimpClient,
    MailchimpError,
    OAuthError,
    RetryPolicy,
    check_api_endpoint,
)
from chimplink.store import (
    ApiCallRecord,
    DecryptionError,
    Installation,
    InstallationNotFound,
    InstallationStatus,
    get_access_token,
    mark_needs_reconnect,
    record_api_calls,
)

__all__ = ["installation_client"]

_log = structlog.get_logger("chimplink.connect")


@dataclass
class _CallLog:
    """The observer: buffers calls (observers must not block) until the block ends."""

    services: Services
    installation_id: str
    records: list[ApiCallRecord] = field(default_factory=list)
    unauthorized: bool = False

    def __call__(self, call: ApiCall) -> None:
        self.records.append(
            ApiCallRecord(
                installation_id=self.installation_id,
                operation=call.operation,
                status=call.status,
                duration_ms=round(call.duration * 1000),
                at=self.services.clock(),
                attempt=call.attempt,
            )
        )
        if call.status == 401:
            self.unauthorized = True


async def _flush(log: _CallLog) -> bool:
    """Write the calls; mark needs_reconnect after a 401. True if this call changed the status."""
    changed = False
    async with log.services.sessions.begin() as session:
        if log.records:
            await record_api_calls(session=session, calls=log.records)
        if log.unauthorized:
            changed = await mark_needs_reconnect(
                session=session, installation_id=log.installation_id, now=log.services.clock()
            )
    log.records.clear()
    return changed


@asynccontextmanager
async def installation_client(
    services: Services,
    installation: Installation,
    *,
    retry: RetryPolicy | None = None,
) -> AsyncIterator[MailchimpClient]:
    """A client for `installation` (see the module docstring for what it adds)."""
    if installation.status is not InstallationStatus.ACTIVE:
        raise NeedsReconnect(reason=f"installation is {installation.status.value}")
    try:
        api_base = check_api_endpoint(
            installation.api_base, allowed_api_bases=services.config.allowed_api_bases
        )
    except OAuthError:
        _log.error("connect.untrusted_api_base", installation_id=installation.id)
        raise NeedsReconnect(reason="stored API base is not a trusted host") from None
    async with services.sessions() as session:
        try:
            token = await get_access_token(
                session=session, cipher=services.cipher, installation_id=installation.id
            )
        except (InstallationNotFound, DecryptionError):
            # No usable token: only a new authorization can help.
            raise NeedsReconnect(reason="no readable token") from None
    log = _CallLog(services=services, installation_id=installation.id)
    client = MailchimpClient(
        access_token=token.get_secret_value(),
        api_endpoint=api_base,
        account_key=installation.id,
        http_client=services.http,
        limiter=services.limiter,
        retry=retry or services.interactive_retry,
        observer=log,
    )
    try:
        yield client
    except AuthenticationError as exc:
        log.unauthorized = True
        if await _flush(log):
            _log.warning("connect.needs_reconnect", installation_id=installation.id)
        raise NeedsReconnect(reason="Mailchimp answered 401") from exc
    except MailchimpError as exc:
        await _flush(log)
        raise MailchimpFailed.from_error(exc) from exc
    except Exception:
        await _flush(log)
        raise
    else:
        await _flush(log)
