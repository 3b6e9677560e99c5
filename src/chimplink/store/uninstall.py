"""Uninstall: delete everything chimplink holds about an installation, in one transaction.

What goes: the token and signing secret, the installation row (and through
`ON DELETE CASCADE` every row of every table that references it — sync
settings, per-record state and inbox events when those tables exist), its
API-call log, its file state (folder, uploads, imports, runs: `store/files.py`;
the files themselves stay in the user's Mailchimp account), and its earlier
audit entries. What stays: one PII-free audit
entry (`uninstalled`, which carries the connection date and the number of
remote clean-ups owed), and for each webhook
chimplink created at Mailchimp a `pending_cleanups` row so the remote delete
is retried until done even if Mailchimp is down right now (`store/cleanup.py`).

Mailchimp has no token revocation endpoint (reliability.md §1.1): deleting
our copy is all we can do; the page must tell the user where to remove the
app in their Mailchimp account.

Recommended flow for `POST /installations/{id}/uninstall` and `chimplink
uninstall`: `purge_installation()` and commit, then run the due clean-ups at
once (`claim_due_cleanups()` …); whatever fails stays durable for the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chimplink.store._common import new_id, utc
from chimplink.store.audit import AuditEvent, record_audit
from chimplink.store.crypto import (
    DecryptionError,
    TokenCipher,
    access_token_context,
    cleanup_token_context,
)
from chimplink.store.files import delete_file_state
from chimplink.store.tables import (
    ApiCallRow,
    AuditRow,
    InstallationRow,
    InstallationSecretRow,
    InstallationStatus,
    PendingCleanupRow,
    RemoteWebhookRow,
)

__all__ = ["DEFAULT_CLEANUP_DEADLINE", "PurgeResult", "purge_installation"]

# How long a token may be kept, encrypted, to delete webhooks at Mailchimp.
DEFAULT_CLEANUP_DEADLINE = timedelta(days=3)


@dataclass(frozen=True)
class PurgeResult:
    purged: bool  # False: nothing to do (already uninstalled, or never existed)
    cleanup_ids: tuple[str, ...] = ()  # pending remote clean-ups created
    orphaned_webhooks: int = 0  # webhooks that cannot be cleaned up: the token was unreadable


async def purge_installation(
    *,
    session: AsyncSession,
    cipher: TokenCipher,
    installation_id: str,
    now: datetime | None = None,
    cleanup_deadline: timedelta = DEFAULT_CLEANUP_DEADLINE,
) -> PurgeResult:
    """Uninstall locally. Idempotent: a second call finds nothing and writes nothing.

    Callers check tenant ownership first (`get_installation`).
    """
    at = utc(now)
    # A write first: it takes the row lock (PostgreSQL) or the write lock
    # (SQLite) until commit, so of concurrent purges exactly one proceeds; the
    # others find the row gone once they get the lock.
    claimed = (
        await session.execute(
            update(InstallationRow)
            .where(InstallationRow.id == installation_id)
            .values(status=InstallationStatus.UNINSTALLED.value, updated_at=at)
            .returning(
                InstallationRow.tenant_id,
                InstallationRow.account_id,
                InstallationRow.api_base,
                InstallationRow.created_at,
            )
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if claimed is None:
        return PurgeResult(purged=False)
    tenant_id = claimed.tenant_id
    connected_at = claimed.created_at.isoformat()

    webhooks = (
        (
            await session.execute(
                select(RemoteWebhookRow)
                .where(RemoteWebhookRow.installation_id == installation_id)
                .order_by(RemoteWebhookRow.id)
            )
        )
        .scalars()
        .all()
    )
    secret = await session.get(InstallationSecretRow, installation_id, populate_existing=True)
    token: str | None = None
    if webhooks and secret is not None:
        try:
            token = cipher.decrypt(
                secret.token_ciphertext, context=access_token_context(installation_id)
            )
        except DecryptionError:
            token = None
    cleanup_ids: list[str] = []
    if token is not None:
        for webhook in webhooks:
            cleanup_id = new_id()
            sealed = cipher.encrypt(token, context=cleanup_token_context(cleanup_id))
            session.add(
                PendingCleanupRow(
                    id=cleanup_id,
                    tenant_id=tenant_id,
                    account_id=claimed.account_id,
                    api_base=claimed.api_base,
                    list_id=webhook.list_id,
                    webhook_id=webhook.webhook_id,
                    token_ciphertext=sealed.ciphertext,
                    token_key_id=sealed.key_id,
                    attempts=0,
                    next_attempt_at=at,
                    give_up_at=at + cleanup_deadline,
                    last_error=None,
                    created_at=at,
                )
            )
            cleanup_ids.append(cleanup_id)
    orphaned = len(webhooks) - len(cleanup_ids)

    # Explicit deletes for the tables known here; ON DELETE CASCADE covers them
    # too, and covers the tables added later. The earlier audit entries of the
    # installation collapse into the one written below.
    for table in (ApiCallRow, RemoteWebhookRow, InstallationSecretRow, AuditRow):
        await session.execute(
            delete(table)
            .where(table.installation_id == installation_id)
            .execution_options(synchronize_session=False)
        )
    await delete_file_state(session=session, installation_id=installation_id)
    await session.execute(
        delete(InstallationRow)
        .where(InstallationRow.id == installation_id)
        .execution_options(synchronize_session=False)
    )
    for loaded in (secret, *webhooks):
        if loaded is not None:
            session.expunge(loaded)
    await record_audit(
        session=session,
        event=AuditEvent.UNINSTALLED,
        tenant_id=tenant_id,
        installation_id=installation_id,
        details={
            "connected_at": connected_at,
            "remote_cleanups": len(cleanup_ids),
            "orphaned_webhooks": orphaned,
        },
        now=at,
    )
    return PurgeResult(purged=True, cleanup_ids=tuple(cleanup_ids), orphaned_webhooks=orphaned)
