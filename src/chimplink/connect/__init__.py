"""The installation lifecycle, shared by the web app and the CLI.

Connect (OAuth 2 with state, PKCE and host pinning), see an account, choose
its audience (registers chimplink's webhook), use it through
`installation_client` (call accounting; a 401 pauses the installation),
uninstall (remote webhooks first, then every local secret), and the remote
clean-up worker that finishes what an uninstall could not.

Every Mailchimp call goes through `chimplink.mailchimp`; every row through
`chimplink.store`. Errors come out as `ConnectError`s carrying a message for
the end user, so adapters (web, CLI) render and never interpret.
"""

from chimplink.connect.access import installation_client
from chimplink.connect.accounts import AccountCard, get_tenant_installation, list_accounts
from chimplink.connect.audiences import (
    WEBHOOK_EVENTS,
    WEBHOOK_SOURCES,
    Audience,
    choose_audience,
    list_audiences,
)
from chimplink.connect.cleanup import CleanupReport, run_due_cleanups
from chimplink.connect.config import DEFAULT_APP_NAME, ConnectConfig, OAuthApp
from chimplink.connect.errors import (
    AccessDenied,
    AuthorizationFailed,
    ConnectError,
    InstallationMissing,
    InvalidState,
    MailchimpFailed,
    NeedsReconnect,
    NotConfigured,
)
from chimplink.connect.oauth_flow import Connected, finish_connect, pkce_challenge, start_connect
from chimplink.connect.services import Services, open_services, ping_database
from chimplink.connect.uninstall import (
    UninstallResult,
    find_uninstall_record,
    removal_instructions,
    uninstall,
)
from chimplink.connect.webhook_paths import (
    WEBHOOK_PATH_PREFIX,
    is_valid_webhook_secret,
    webhook_secret,
    webhook_url,
)

__all__ = [
    "DEFAULT_APP_NAME",
    "WEBHOOK_EVENTS",
    "WEBHOOK_PATH_PREFIX",
    "WEBHOOK_SOURCES",
    "AccessDenied",
    "AccountCard",
    "Audience",
    "AuthorizationFailed",
    "CleanupReport",
    "ConnectConfig",
    "ConnectError",
    "Connected",
    "InstallationMissing",
    "InvalidState",
    "MailchimpFailed",
    "NeedsReconnect",
    "NotConfigured",
    "OAuthApp",
    "Services",
    "UninstallResult",
    "choose_audience",
    "find_uninstall_record",
    "finish_connect",
    "get_tenant_installation",
    "installation_client",
    "is_valid_webhook_secret",
    "list_accounts",
    "list_audiences",
    "open_services",
    "ping_database",
    "pkce_challenge",
    "removal_instructions",
    "run_due_cleanups",
    "start_connect",
    "uninstall",
    "webhook_secret",
    "webhook_url",
]
