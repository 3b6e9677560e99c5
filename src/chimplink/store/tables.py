"""The tables (SQLAlchemy declarative models). Repositories map rows to dataclasses.

Rules every table follows, so that uninstall stays complete as tables are added:

- a table holding anything about one installation references
  `installations.id` with `ON DELETE CASCADE` (tests/store check this for every
  table), so deleting the installation row deletes it;
- personal data (the login email, later contacts) lives only in rows that
  cascade that way; `audit_log` keeps ids and PII-free details only;
- secrets are stored only as ciphertext (`store/crypto.py`) next to the id of
  the key that encrypted them, or as a SHA-256 when only equality is needed
  (OAuth `state`, session binding).

Times are timezone-aware UTC in Python (`UtcDateTime`), whatever the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ApiCallRow",
    "AuditRow",
    "Base",
    "InstallationRow",
    "InstallationSecretRow",
    "InstallationStatus",
    "OAuthStateRow",
    "PendingCleanupRow",
    "RemoteWebhookRow",
    "TenantRow",
    "UtcDateTime",
]

# Deterministic constraint names: migrations can drop and alter them by name on
# both databases (SQLite batch mode needs names too).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 36  # uuid4 as text: portable, and not enumerable in URLs
KEY_ID_LENGTH = 16
# BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out. SQLite has no time zones: it stores naive UTC text."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass timezone-aware UTC times to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class InstallationStatus(StrEnum):
    ACTIVE = "active"
    # A 401: the user removed the app at Mailchimp (tokens never expire otherwise).
    NEEDS_RECONNECT = "needs_reconnect"
    UNINSTALLED = "uninstalled"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UtcDateTime()}


class TenantRow(Base):
    """A platform user (the platform's own id); installations belong to one."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]


class InstallationRow(Base):
    """One Mailchimp account connected by one tenant. Reconnecting updates this row."""

    __tablename__ = "installations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "account_id"),
        CheckConstraint("status IN ('active', 'needs_reconnect', 'uninstalled')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    login_id: Mapped[str] = mapped_column(String(64))
    login_email: Mapped[str] = mapped_column(String(320))  # PII: only here
    account_name: Mapped[str] = mapped_column(String(255))
    dc: Mapped[str] = mapped_column(String(32))
    api_base: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default=InstallationStatus.ACTIVE.value)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class InstallationSecretRow(Base):
    """The access token (and webhook signing secret) of an installation, encrypted.

    Kept apart from `installations` so that listing installations never loads
    a ciphertext, and deleting secrets is one row.
    """

    __tablename__ = "installation_secrets"

    installation_id: Mapped[str] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    token_ciphertext: Mapped[str] = mapped_column(Text)
    token_key_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH))
    signing_secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    signing_secret_key_id: Mapped[str | None] = mapped_column(String(KEY_ID_LENGTH))
    updated_at: Mapped[datetime]


class OAuthStateRow(Base):
    """A pending authorization request: single use, expiring, bound to a browser session.

    Only SHA-256 digests of the `state` and of the session binding are stored:
    a database reader cannot complete someone else's flow. The PKCE verifier
    must be sent in clear to the token endpoint, so it is encrypted instead.
    """

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    code_verifier_ciphertext: Mapped[str] = mapped_column(Text)
    code_verifier_key_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH))
    return_to: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class RemoteWebhookRow(Base):
    """A webhook chimplink created at Mailchimp; uninstall must delete it there."""

    __tablename__ = "remote_webhooks"
    __table_args__ = (UniqueConstraint("installation_id", "list_id", "webhook_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    installation_id: Mapped[str] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), index=True
    )
    list_id: Mapped[str] = mapped_column(String(64))
    webhook_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class PendingCleanupRow(Base):
    """Remote clean-up still owed after an uninstall (delete one webhook at Mailchimp).

    Deliberately carries no installation id and no email: the installation is
    gone. The token is the one thing kept, re-encrypted and bound to this row,
    because Mailchimp will not delete a webhook without it; the row (and so the
    token) is deleted as soon as the webhook is gone, or at `give_up_at`.
    """

    __tablename__ = "pending_cleanups"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))  # plain id: audit only
    account_id: Mapped[str] = mapped_column(String(64))
    api_base: Mapped[str] = mapped_column(String(255))
    list_id: Mapped[str] = mapped_column(String(64))
    webhook_id: Mapped[str] = mapped_column(String(64))
    token_ciphertext: Mapped[str] = mapped_column(Text)
    token_key_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    give_up_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]


class ApiCallRow(Base):
    """One HTTP attempt to Mailchimp: active users (Partner Program) and metrics.

    `operation` is the path *template* (`PUT /lists/{list_id}/members/{subscriber_hash}`),
    never a concrete path, so a row carries no personal data. Rows of an
    installation are deleted with it; calls made before an installation exists
    (token exchange, metadata) have no installation id.
    """

    __tablename__ = "api_calls"
    __table_args__ = (Index(None, "at", "installation_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    installation_id: Mapped[str | None] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), index=True
    )
    operation: Mapped[str] = mapped_column(String(200))
    status: Mapped[int | None]  # None: no response (transport failure)
    duration_ms: Mapped[int]
    attempt: Mapped[int] = mapped_column(default=1)
    at: Mapped[datetime]


class AuditRow(Base):
    """Who connected, reconnected, uninstalled, rotated keys — with ids only, never PII.

    No foreign keys: the row outlives the tenant and the installation it names.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    tenant_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    installation_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    event: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
