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
    "SyncCheckpointRow",
    "SyncConfigRow",
    "SyncRecordRow",
    "SyncRunRow",
    "SyncSuppressionRow",
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


# -- outbound sync (sync/; repositories in store/sync_config.py and store/sync_state.py) ---


class SyncConfigRow(Base):
    """How one installation syncs: the audience, the field mapping, tag and consent rules.

    `managed_tags` is every tag name chimplink has ever set from a platform
    label: only those are ever removed, so tags the user adds in Mailchimp
    are never touched (a `sync_tags` batch would remove them, REFERENCE.md §8.3).
    """

    __tablename__ = "sync_configs"
    __table_args__ = (
        CheckConstraint("no_consent IN ('transactional', 'skip')", name="no_consent"),
    )

    installation_id: Mapped[str] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    list_id: Mapped[str] = mapped_column(String(64))
    # platform field name → merge tag ("" = derive a tag from the field name)
    field_map: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # merge tag → its Mailchimp type, and the audience's double opt-in flag, as the
    # last run resolved them: enough to rebuild the member payload offline
    field_types: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    audience_double_optin: Mapped[bool] = mapped_column(default=False)
    sync_labels: Mapped[bool] = mapped_column(default=True)
    # label → tag name; None: every label becomes a tag of the same name
    label_tags: Mapped[dict[str, Any] | None] = mapped_column(Json)
    managed_tags: Mapped[list[Any]] = mapped_column(Json, default=list)
    no_consent: Mapped[str] = mapped_column(String(20), default="transactional")
    double_optin: Mapped[bool] = mapped_column(default=False)
    erase_permanently: Mapped[bool] = mapped_column(default=False)
    plan_contact_limit: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SyncRecordRow(Base):
    """What chimplink last did with one platform contact, and why.

    `email` is personal data: it lives only here, and goes with the
    installation (ON DELETE CASCADE) or with an erasure. `subscriber_hash` is
    the Mailchimp member this contact is linked to (NULL until one exists);
    `content_hash` is the hash of exactly what was last sent (NULL: send again).
    """

    __tablename__ = "sync_records"
    __table_args__ = (
        CheckConstraint("outcome IN ('synced', 'failed', 'parked', 'skipped')", name="outcome"),
        Index(None, "installation_id", "subscriber_hash"),
        Index(None, "installation_id", "outcome"),
    )

    installation_id: Mapped[str] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    platform_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    subscriber_hash: Mapped[str | None] = mapped_column(String(32))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(default=0)
    tags: Mapped[list[Any]] = mapped_column(Json, default=list)  # managed tags last set
    updated_at: Mapped[datetime]


class SyncSuppressionRow(Base):
    """An address erased on the platform: never sent to Mailchimp again.

    Only the subscriber hash (MD5 of the lowercased address, REFERENCE.md §8.1)
    is kept, never the address (reliability.md §3.3: record a local
    suppression by hash).
    """

    __tablename__ = "sync_suppressions"

    installation_id: Mapped[str] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    subscriber_hash: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]


class SyncCheckpointRow(Base):
    """Per stream, the cursor of the last platform change Mailchimp acknowledged."""

    __tablename__ = "sync_checkpoints"

    installation_id: Mapped[str] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    stream: Mapped[str] = mapped_column(String(40), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class SyncRunRow(Base):
    """One sync run (or dry run) and its counts; `message` is for the user, PII-free."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('running', 'completed', 'failed', 'needs_reconnect')", name="status"
        ),
        Index(None, "installation_id", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    installation_id: Mapped[str] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20))
    dry_run: Mapped[bool] = mapped_column(default=False)
    full: Mapped[bool] = mapped_column(default=False)
    counts: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    message: Mapped[str | None] = mapped_column(String(1000))


# -- inbound: webhook inbox (store/inbox.py; sync/inbound.py, sync/reconcile.py) -----------

__all__ += ["DeadLetterRow", "InboundMemberRow", "InboxRow"]


class InboxRow(Base):
    """One webhook delivery, stored by the receiver before it answers 200 (a hint to process).

    `body` is the raw form body: personal data (address, names). It is deleted
    with the installation (ON DELETE CASCADE), set to NULL as soon as the
    delivery is processed, and the row itself (kept only so late retries of
    the same delivery are recognised by `dedupe_key`) is pruned after
    `inbox.PROCESSED_RETENTION`. `note` says what processing concluded, PII-free.
    """

    __tablename__ = "webhook_inbox"
    __table_args__ = (
        UniqueConstraint("installation_id", "dedupe_key"),
        CheckConstraint("status IN ('pending', 'processed', 'failed')", name="status"),
        Index(None, "installation_id", "status", "next_attempt_at"),
        Index(None, "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    installation_id: Mapped[str] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime]
    body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(String(500))


class DeadLetterRow(Base):
    """A delivery the receiver refused as malformed (answered 400), kept to diagnose it.

    The body is cut to `inbox.DEAD_LETTER_BODY_LIMIT` bytes and may hold
    personal data: it cascades with the installation and is pruned after
    `inbox.DEAD_LETTER_RETENTION`.
    """

    __tablename__ = "webhook_dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    installation_id: Mapped[str] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    body_size: Mapped[int]  # bytes received (the stored body may be cut)


class InboundMemberRow(Base):
    """What the inbound side last saw of one Mailchimp member.

    - `last_changed`: the newest Mailchimp version applied to the platform, a
      monotonic guard (reliability.md §2.4): a re-read older than this is a
      stale answer and is not applied;
    - `contact_id`: Mailchimp's id of the contact, which survives an address
      change, so reconciliation can follow an email change whose webhook was
      lost (the subscriber hash changes with the address, REFERENCE.md §8.1).

    Keyed by subscriber hash, never by address.
    """

    __tablename__ = "inbound_members"
    __table_args__ = (Index(None, "installation_id", "contact_id"),)

    installation_id: Mapped[str] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    subscriber_hash: Mapped[str] = mapped_column(String(32), primary_key=True)
    contact_id: Mapped[str | None] = mapped_column(String(64))
    last_changed: Mapped[datetime | None]
    updated_at: Mapped[datetime]


# -- the push connector: what platforms push to /api/v1 (store/push.py, platforms/push/) ----

__all__ += ["PushApiKeyRow", "PushContactRow", "PushDeliveryRow", "PushErasureRow", "PushTenantRow"]


class PushTenantRow(Base):
    """A tenant's push-API settings, and the counter that numbers its changes.

    `last_seq` is the change cursor's source: every change to the tenant's
    contacts or erasures takes the next value. A writer's first statement
    updates this row, which locks it until commit (a row lock on PostgreSQL,
    the database's write lock on SQLite), so values commit in the order they
    are taken and a reader's cursor never passes a change that commits later.

    These rows (and every other push table) belong to the tenant, not to an
    installation: the platform's contacts stay when a Mailchimp account is
    disconnected, and go with the tenant (ON DELETE CASCADE).
    """

    __tablename__ = "push_tenants"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    fields: Mapped[list[Any]] = mapped_column(Json, default=list)  # [{name, type, label}]
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    webhook_secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    webhook_secret_key_id: Mapped[str | None] = mapped_column(String(KEY_ID_LENGTH))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PushApiKeyRow(Base):
    """A tenant's API key for /api/v1: only its SHA-256 is kept (shown once, at creation)."""

    __tablename__ = "push_api_keys"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # its first characters: tells keys apart
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class PushContactRow(Base):
    """One contact a platform pushed; `seq` is its change cursor (unique per tenant).

    Personal data (email, fields): it goes with the tenant, or with a delete
    or an erasure through the API.
    """

    __tablename__ = "push_contacts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq"),
        CheckConstraint("consent IN ('granted', 'withdrawn', 'unknown')", name="consent"),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    consent: Mapped[str] = mapped_column(String(20))
    fields: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    labels: Mapped[list[Any]] = mapped_column(Json, default=list)
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PushErasureRow(Base):
    """A tombstone: a contact the platform erased, in the erasure feed at `seq`.

    The address is kept because the sync engine needs it to suppress the
    member and, when the operator enables it, to delete it permanently at
    Mailchimp (`platforms.base.Erasure`).
    """

    __tablename__ = "push_erasures"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320))
    erased_at: Mapped[datetime]


class PushDeliveryRow(Base):
    """One outgoing webhook to the platform (the outbox), written with the change it reports.

    `message_id` is the Standard Webhooks `webhook-id`: the same on every
    attempt, so the platform can drop repeats. `payload` is the exact JSON
    body that is signed and sent (personal data): it goes with the tenant, and
    the row is pruned after delivery or after it was given up (`status` dead,
    `last_error` says why).
    """

    __tablename__ = "push_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="status"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "tenant_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))


# -- files: the File Manager sync (store/files.py; sync/files/) ------------------------------

__all__ += ["FileFolderRow", "FileImportRow", "FileRunRow", "FileUploadRow"]


class FileFolderRow(Base):
    """The File Manager folder chimplink puts an installation's uploads in (made on demand)."""

    __tablename__ = "file_folders"

    installation_id: Mapped[str] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    folder_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class FileUploadRow(Base):
    """One version of one platform photo, sent (or to be sent) to the File Manager.

    The row is written with status `pending` BEFORE the upload (an intent):
    `POST /file-manager/files` is not idempotent, so a pending row found later
    means "maybe uploaded", and the folder is listed before sending it again.
    `name` is the name sent, which embeds a token of the key and content hash
    so the file can be recognised in that listing. An edited photo gets a new
    row whose `replaces_id` is the row of the version it replaces (the link is
    kept whether or not the old file is deleted in Mailchimp). The photo's
    current state is its newest row.
    """

    __tablename__ = "file_uploads"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'uploaded', 'failed', 'rejected', 'superseded', 'deleted', "
            "'abandoned')",
            name="status",
        ),
        Index(None, "installation_id", "platform_key"),
        Index(None, "installation_id", "status"),
        Index(None, "installation_id", "file_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    installation_id: Mapped[str] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    platform_key: Mapped[str] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    file_id: Mapped[int | None] = mapped_column(BigInteger)  # Mailchimp's, once known
    url: Mapped[str | None] = mapped_column(String(2048))
    width: Mapped[int | None]
    height: Mapped[int | None]
    message: Mapped[str | None] = mapped_column(String(500))  # for the user, PII-free
    attempts: Mapped[int] = mapped_column(default=0)
    replaces_id: Mapped[int | None] = mapped_column(BigInteger)  # an earlier row of the key
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FileImportRow(Base):
    """A File Manager file imported into the platform: pulling it again is skipped."""

    __tablename__ = "file_imports"

    installation_id: Mapped[str] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    file_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    platform_key: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))  # the name in Mailchimp when imported
    size: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime]


class FileRunRow(Base):
    """One push or pull of files (or its dry run) and its counts; `message` is PII-free."""

    __tablename__ = "file_runs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('running', 'completed', 'failed', 'needs_reconnect')", name="status"
        ),
        CheckConstraint("direction IN ('push', 'pull')", name="direction"),
        Index(None, "installation_id", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    installation_id: Mapped[str] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20))
    dry_run: Mapped[bool] = mapped_column(default=False)
    counts: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    message: Mapped[str | None] = mapped_column(String(1000))
