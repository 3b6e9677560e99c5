"""Storage: SQLAlchemy 2 (async) tables, repositories and Alembic migrations.

Imports no HTTP and nothing from `mailchimp/` or `web/`. Repositories are
keyword-only async functions taking an `AsyncSession`; they flush but never
commit, so the caller decides the transaction:

    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    cipher = TokenCipher(load_secrets(settings).secret_keys)
    async with sessions.begin() as session:
        saved = await save_installation(session=session, cipher=cipher, ...)

They return frozen dataclasses, never ORM rows; secrets come back as
`pydantic.SecretStr` so that printing a result cannot leak them.
"""

from chimplink.store.api_calls import (
    ACTIVE_USER_WINDOW,
    ApiCallRecord,
    active_users,
    delete_api_calls_before,
    record_api_calls,
)
from chimplink.store.audit import AuditEntry, AuditEvent, list_audit, record_audit
from chimplink.store.cleanup import (
    DueCleanup,
    abandon_expired_cleanups,
    claim_due_cleanups,
    complete_cleanup,
    count_pending_cleanups,
    fail_cleanup,
)
from chimplink.store.crypto import DecryptionError, Sealed, TokenCipher
from chimplink.store.db import make_engine, make_session_factory
from chimplink.store.installations import (
    Installation,
    InstallationNotFound,
    SavedInstallation,
    find_installation,
    get_access_token,
    get_installation,
    get_signing_secret,
    list_all_installations,
    list_installations,
    mark_needs_reconnect,
    save_installation,
    set_signing_secret,
    touch_last_used,
)
from chimplink.store.migrate import current_revision, head_revision, upgrade, upgrade_async
from chimplink.store.oauth_states import (
    ConsumedState,
    IssuedState,
    StateRejected,
    consume_oauth_state,
    delete_stale_oauth_states,
    issue_oauth_state,
)
from chimplink.store.remote_webhooks import (
    RemoteWebhook,
    forget_remote_webhook,
    list_remote_webhooks,
    record_remote_webhook,
)
from chimplink.store.rotation import RotationReport, count_secrets_by_key, rotate_secrets
from chimplink.store.tables import InstallationStatus
from chimplink.store.tenants import Tenant, ensure_tenant, get_tenant, get_tenant_by_external_id
from chimplink.store.uninstall import PurgeResult, purge_installation

__all__ = [
    "ACTIVE_USER_WINDOW",
    "ApiCallRecord",
    "AuditEntry",
    "AuditEvent",
    "ConsumedState",
    "DecryptionError",
    "DueCleanup",
    "Installation",
    "InstallationNotFound",
    "InstallationStatus",
    "IssuedState",
    "PurgeResult",
    "RemoteWebhook",
    "RotationReport",
    "SavedInstallation",
    "Sealed",
    "StateRejected",
    "Tenant",
    "TokenCipher",
    "abandon_expired_cleanups",
    "active_users",
    "claim_due_cleanups",
    "complete_cleanup",
    "consume_oauth_state",
    "count_pending_cleanups",
    "count_secrets_by_key",
    "current_revision",
    "delete_api_calls_before",
    "delete_stale_oauth_states",
    "ensure_tenant",
    "fail_cleanup",
    "find_installation",
    "forget_remote_webhook",
    "get_access_token",
    "get_installation",
    "get_signing_secret",
    "get_tenant",
    "get_tenant_by_external_id",
    "head_revision",
    "issue_oauth_state",
    "list_all_installations",
    "list_audit",
    "list_installations",
    "list_remote_webhooks",
    "make_engine",
    "make_session_factory",
    "mark_needs_reconnect",
    "purge_installation",
    "record_api_calls",
    "record_audit",
    "record_remote_webhook",
    "rotate_secrets",
    "save_installation",
    "set_signing_secret",
    "touch_last_used",
    "upgrade",
    "upgrade_async",
]
