"""The public API of `chimplink.store` is explicit; this guards it against accidents."""

from __future__ import annotations

import chimplink.store as store

EXPECTED = {
    # database
    "make_engine",
    "make_session_factory",
    "upgrade",
    "upgrade_async",
    "current_revision",
    "head_revision",
    # secrets
    "TokenCipher",
    "Sealed",
    "DecryptionError",
    "RotationReport",
    "rotate_secrets",
    "count_secrets_by_key",
    # tenants and installations
    "Tenant",
    "ensure_tenant",
    "get_tenant",
    "get_tenant_by_external_id",
    "Installation",
    "InstallationStatus",
    "InstallationNotFound",
    "SavedInstallation",
    "save_installation",
    "get_installation",
    "find_installation",
    "list_installations",
    "list_all_installations",
    "get_access_token",
    "set_signing_secret",
    "get_signing_secret",
    "mark_needs_reconnect",
    "touch_last_used",
    # OAuth
    "IssuedState",
    "ConsumedState",
    "StateRejected",
    "issue_oauth_state",
    "consume_oauth_state",
    "delete_stale_oauth_states",
    # webhooks, uninstall, clean-up
    "RemoteWebhook",
    "record_remote_webhook",
    "list_remote_webhooks",
    "forget_remote_webhook",
    "PurgeResult",
    "purge_installation",
    "DueCleanup",
    "claim_due_cleanups",
    "complete_cleanup",
    "fail_cleanup",
    "abandon_expired_cleanups",
    "count_pending_cleanups",
    # logs
    "ApiCallRecord",
    "ACTIVE_USER_WINDOW",
    "record_api_calls",
    "active_users",
    "delete_api_calls_before",
    "AuditEntry",
    "AuditEvent",
    "record_audit",
    "list_audit",
}


def test_public_names() -> None:
    assert set(store.__all__) == EXPECTED
    for name in store.__all__:
        assert getattr(store, name) is not None
