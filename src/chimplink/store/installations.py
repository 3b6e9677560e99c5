"""Installations: Mailchimp accounts connected by tenants, and their encrypted secrets.

Tenant isolation starts here: `get_installation` and `list_installations`
take the tenant id and never return another tenant's row, so a web handler
that uses them answers 404 for someone else's installation id. The unscoped
`find_installation` is for the CLI and background jobs, which act for the
operator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import SecretStr
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chimplink.store._common import dialect_insert, new_id, utc
from chimplink.store.audit import AuditEvent, record_audit
from chimplink.store.crypto import TokenCipher, access_token_context, signing_secret_context
from chimplink.store.tables import InstallationRow, InstallationSecretRow, InstallationStatus

__all__ = [
    "Installation",
    "InstallationNotFound",
    "SavedInstallation",
    "find_installation",
    "get_access_token",
    "get_installation",
    "get_signing_secret",
    "list_all_installations",
    "list_installations",
    "mark_needs_reconnect",
    "save_installation",
    "set_signing_secret",
    "touch_last_used",
]


class InstallationNotFound(LookupError):
    """No such installation (or no stored token for it)."""


@dataclass(frozen=True)
class Installation:
    id: str
    tenant_id: str
    account_id: str  # Mailchimp account id
    login_id: str
    login_email: str = field(repr=False)  # personal data: kept out of repr (and so of logs)
    account_name: str
    dc: str
    api_base: str  # pinned API base the token is sent to
    status: InstallationStatus
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class SavedInstallation:
    installation: Installation
    created: bool  # False: an existing installation of the same account was reconnected


def _installation(row: InstallationRow) -> Installation:
    return Installation(
        id=row.id,
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        login_id=row.login_id,
        login_email=row.login_email,
        account_name=row.account_name,
        dc=row.dc,
        api_base=row.api_base,
        status=InstallationStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_used_at=row.last_used_at,
    )


def _secret_text(value: str | SecretStr) -> str:
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not text:
        raise ValueError("an empty secret cannot be stored")
    return text


async def save_installation(
    *,
    session: AsyncSession,
    cipher: TokenCipher,
    tenant_id: str,
    account_id: str,
    login_id: str,
    login_email: str,
    account_name: str,
    dc: str,
    api_base: str,
    access_token: str | SecretStr,
    now: datetime | None = None,
) -> SavedInstallation:
    """Store a connected account; reconnecting the same account updates it, never duplicates.

    The pair (tenant, Mailchimp account) is unique. A reconnect replaces the
    token and the account details, and sets the status back to active. One
    audit entry (`connected` or `reconnected`) is written in the same transaction.
    """
    token = _secret_text(access_token)
    at = utc(now)
    candidate = new_id()
    # Insert-or-nothing, then read back: whoever inserted first wins, and a
    # concurrent reconnect of the same account finds the winner's row.
    await session.execute(
        dialect_insert(session, InstallationRow)
        .values(
            id=candidate,
            tenant_id=tenant_id,
            account_id=account_id,
            login_id=login_id,
            login_email=login_email,
            account_name=account_name,
            dc=dc,
            api_base=api_base,
            status=InstallationStatus.ACTIVE.value,
            created_at=at,
            updated_at=at,
            last_used_at=None,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "account_id"])
    )
    row = (
        await session.execute(
            select(InstallationRow)
            .where(InstallationRow.tenant_id == tenant_id, InstallationRow.account_id == account_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    created = row.id == candidate
    if not created:
        row.login_id = login_id
        row.login_email = login_email
        row.account_name = account_name
        row.dc = dc
        row.api_base = api_base
        row.status = InstallationStatus.ACTIVE.value
        row.updated_at = at
    sealed = cipher.encrypt(token, context=access_token_context(row.id))
    await session.execute(
        dialect_insert(session, InstallationSecretRow)
        .values(
            installation_id=row.id,
            token_ciphertext=sealed.ciphertext,
            token_key_id=sealed.key_id,
            updated_at=at,
        )
        .on_conflict_do_update(
            index_elements=["installation_id"],
            set_={
                "token_ciphertext": sealed.ciphertext,
                "token_key_id": sealed.key_id,
                "updated_at": at,
            },
        )
    )
    await session.flush()
    await record_audit(
        session=session,
        event=AuditEvent.CONNECTED if created else AuditEvent.RECONNECTED,
        tenant_id=tenant_id,
        installation_id=row.id,
        now=at,
    )
    return SavedInstallation(installation=_installation(row), created=created)


async def get_installation(
    *, session: AsyncSession, tenant_id: str, installation_id: str
) -> Installation | None:
    """The tenant's installation, or None — also when it belongs to another tenant."""
    row = (
        await session.execute(
            select(InstallationRow)
            .where(InstallationRow.id == installation_id, InstallationRow.tenant_id == tenant_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    return None if row is None else _installation(row)


async def find_installation(*, session: AsyncSession, installation_id: str) -> Installation | None:
    """Any tenant's installation (CLI, jobs). Web handlers use `get_installation`."""
    row = await session.get(InstallationRow, installation_id, populate_existing=True)
    return None if row is None else _installation(row)


async def list_installations(*, session: AsyncSession, tenant_id: str) -> list[Installation]:
    rows = (
        await session.execute(
            select(InstallationRow)
            .where(InstallationRow.tenant_id == tenant_id)
            .order_by(InstallationRow.created_at, InstallationRow.id)
            .execution_options(populate_existing=True)
        )
    ).scalars()
    return [_installation(row) for row in rows]


async def list_all_installations(
    *, session: AsyncSession, status: InstallationStatus | None = None
) -> list[Installation]:
    query = (
        select(InstallationRow)
        .order_by(InstallationRow.created_at, InstallationRow.id)
        .execution_options(populate_existing=True)
    )
    if status is not None:
        query = query.where(InstallationRow.status == status.value)
    return [_installation(row) for row in (await session.execute(query)).scalars()]


async def get_access_token(
    *, session: AsyncSession, cipher: TokenCipher, installation_id: str
) -> SecretStr:
    """The decrypted token. InstallationNotFound if none; DecryptionError if it cannot be opened."""
    secret = await session.get(InstallationSecretRow, installation_id, populate_existing=True)
    if secret is None:
        raise InstallationNotFound(installation_id)
    return SecretStr(
        cipher.decrypt(secret.token_ciphertext, context=access_token_context(installation_id))
    )


async def set_signing_secret(
    *,
    session: AsyncSession,
    cipher: TokenCipher,
    installation_id: str,
    signing_secret: str | SecretStr | None,
    now: datetime | None = None,
) -> None:
    """Store (encrypted) or clear the webhook signing secret Mailchimp returned, if any."""
    secret = await session.get(InstallationSecretRow, installation_id, populate_existing=True)
    if secret is None:
        raise InstallationNotFound(installation_id)
    if signing_secret is None:
        secret.signing_secret_ciphertext = None
        secret.signing_secret_key_id = None
    else:
        sealed = cipher.encrypt(
            _secret_text(signing_secret), context=signing_secret_context(installation_id)
        )
        secret.signing_secret_ciphertext = sealed.ciphertext
        secret.signing_secret_key_id = sealed.key_id
    secret.updated_at = utc(now)
    await session.flush()


async def get_signing_secret(
    *, session: AsyncSession, cipher: TokenCipher, installation_id: str
) -> SecretStr | None:
    secret = await session.get(InstallationSecretRow, installation_id, populate_existing=True)
    if secret is None or secret.signing_secret_ciphertext is None:
        return None
    return SecretStr(
        cipher.decrypt(
            secret.signing_secret_ciphertext, context=signing_secret_context(installation_id)
        )
    )


async def mark_needs_reconnect(
    *, session: AsyncSession, installation_id: str, now: datetime | None = None
) -> bool:
    """After a 401: flag the installation. True only for the call that changed it.

    Idempotent and cheap, so every worker that sees a 401 may call it; only
    the first writes the audit entry.
    """
    at = utc(now)
    result = await session.execute(
        update(InstallationRow)
        .where(
            InstallationRow.id == installation_id,
            InstallationRow.status == InstallationStatus.ACTIVE.value,
        )
        .values(status=InstallationStatus.NEEDS_RECONNECT.value, updated_at=at)
        .returning(InstallationRow.tenant_id)
        .execution_options(synchronize_session=False)
    )
    tenant_id = result.scalar_one_or_none()
    if tenant_id is None:
        return False
    await record_audit(
        session=session,
        event=AuditEvent.NEEDS_RECONNECT,
        tenant_id=tenant_id,
        installation_id=installation_id,
        now=at,
    )
    return True


async def touch_last_used(
    *, session: AsyncSession, installation_id: str, at: datetime | None = None
) -> None:
    """Move `last_used_at` forward to `at` (never backwards)."""
    when = utc(at)
    await session.execute(
        update(InstallationRow)
        .where(
            InstallationRow.id == installation_id,
            or_(InstallationRow.last_used_at.is_(None), InstallationRow.last_used_at < when),
        )
        .values(last_used_at=when)
        .execution_options(synchronize_session=False)
    )
