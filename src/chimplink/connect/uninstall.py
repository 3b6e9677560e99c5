"""Uninstall: remove chimplink's webhooks at Mailchimp, then everything chimplink holds.

Order and guarantees (reliability.md T9, REFERENCE.md §3):

1. Each webhook chimplink created is deleted at Mailchimp with the
   installation's token — one attempt each, no backoff: a user is waiting,
   and whatever fails is retried durably in step 3. A 404 counts as deleted.
2. `store.purge_installation` deletes the token, the settings, the call log
   and the earlier audit entries in one transaction, keeping one PII-free
   audit row. For each webhook still left at Mailchimp it writes a
   `pending_cleanups` row (with the only remaining copy of the token,
   re-encrypted), so local secrets are gone at once even when Mailchimp is
   unreachable.
3. The job runner retries those rows (`cleanup.run_due_cleanups`) until the
   webhook is gone or the deadline passes.

Mailchimp has no token revocation endpoint: the user must remove the app in
their Mailchimp account themselves, and the UI says where
(`removal_instructions`). Running uninstall twice is harmless: the second
run finds nothing and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from chimplink.connect.errors import InstallationMissing
from chimplink.connect.services import Services
from chimplink.mailchimp import (
    MailchimpClient,
    MailchimpError,
    NotFoundError,
    OAuthError,
    RetryPolicy,
    check_api_endpoint,
)
from chimplink.store import (
    AuditEntry,
    DecryptionError,
    Installation,
    InstallationNotFound,
    find_installation,
    forget_remote_webhook,
    get_access_token,
    get_installation,
    list_audit,
    list_remote_webhooks,
    purge_installation,
)

__all__ = ["UninstallResult", "find_uninstall_record", "removal_instructions", "uninstall"]

_log = structlog.get_logger("chimplink.connect")


@dataclass(frozen=True)
class UninstallResult:
    installation_id: str
    account_name: str  # for the confirmation page; not stored anywhere any more
    purged: bool  # False: a concurrent uninstall got there first
    webhooks_deleted: int  # deleted at Mailchimp during this call
    webhooks_pending: int  # left to the clean-up worker
    webhooks_orphaned: int  # cannot be deleted by chimplink (token unreadable)


def removal_instructions(app_name: str) -> str:
    """What the user has to do in Mailchimp: no API can revoke an app's access (§3)."""
    return (
        f"In Mailchimp, open your profile → Account → Integrations/Connected apps "
        f"and remove {app_name}."
    )


async def _delete_remote(services: Services, installation: Installation) -> int:
    async with services.sessions() as session:
        hooks = await list_remote_webhooks(session=session, installation_id=installation.id)
        if not hooks:
            return 0
        try:
            token = await get_access_token(
                session=session, cipher=services.cipher, installation_id=installation.id
            )
        except (InstallationNotFound, DecryptionError):
            return 0
    try:
        api_base = check_api_endpoint(
            installation.api_base, allowed_api_bases=services.config.allowed_api_bases
        )
    except OAuthError:
        return 0
    client = MailchimpClient(
        access_token=token.get_secret_value(),
        api_endpoint=api_base,
        account_key=installation.id,
        http_client=services.http,
        limiter=services.limiter,
        retry=RetryPolicy.never(),
    )
    deleted = 0
    for hook in hooks:
        try:
            await client.webhooks.delete(hook.list_id, hook.webhook_id)
        except NotFoundError:
            pass
        except MailchimpError as exc:
            _log.warning(
                "connect.uninstall.remote_delete_deferred",
                installation_id=installation.id,
                webhook_id=hook.webhook_id,
                error=type(exc).__name__,
                status=exc.status,
            )
            continue
        async with services.sessions.begin() as session:
            await forget_remote_webhook(
                session=session,
                installation_id=installation.id,
                list_id=hook.list_id,
                webhook_id=hook.webhook_id,
            )
        deleted += 1
    return deleted


async def uninstall(
    services: Services, *, installation_id: str, tenant_id: str | None
) -> UninstallResult:
    """Uninstall one installation (see the module docstring).

    `tenant_id` scopes the lookup (web: another tenant's id is `InstallationMissing`,
    exactly like an unknown one); `None` acts for the operator (CLI).
    """
    async with services.sessions() as session:
        if tenant_id is None:
            installation = await find_installation(session=session, installation_id=installation_id)
        else:
            installation = await get_installation(
                session=session, tenant_id=tenant_id, installation_id=installation_id
            )
    if installation is None:
        raise InstallationMissing(reason="unknown or foreign installation id")
    deleted = await _delete_remote(services, installation)
    async with services.sessions.begin() as session:
        purged = await purge_installation(
            session=session,
            cipher=services.cipher,
            installation_id=installation.id,
            now=services.clock(),
        )
    _log.info(
        "connect.uninstalled",
        tenant_id=installation.tenant_id,
        installation_id=installation.id,
        purged=purged.purged,
        webhooks_deleted=deleted,
        webhooks_pending=len(purged.cleanup_ids),
    )
    return UninstallResult(
        installation_id=installation.id,
        account_name=installation.account_name,
        purged=purged.purged,
        webhooks_deleted=deleted,
        webhooks_pending=len(purged.cleanup_ids),
        webhooks_orphaned=purged.orphaned_webhooks,
    )


async def find_uninstall_record(services: Services, *, installation_id: str) -> AuditEntry | None:
    """The audit entry of an earlier uninstall of this id, if any (so a rerun can say so)."""
    async with services.sessions() as session:
        for entry in await list_audit(session=session, installation_id=installation_id, limit=10):
            if entry.event == "uninstalled":
                return entry
    return None
