"""What the installation lifecycle needs from the settings, resolved once.

Where the account's API lives (REFERENCE.md §2-§3) is decided here:

- `CHIMPLINK_MAILCHIMP_API_URL` unset: the classic form. The OAuth metadata
  names `api_endpoint`, pinned to `https://<dc>.api.mailchimp.com`.
- `CHIMPLINK_MAILCHIMP_API_URL=https://api.mailchimp.com` (the 2026 docs' single
  host): no metadata call; every account uses that host.
- any other value (the emulator, a proxy): the metadata is fetched and its
  `api_endpoint` may only point below that URL (`Settings.allowed_api_bases`).

In every mode the account is identified by the API root (`GET /3.0/`:
`account_id`, `login_id`, `account_name`, `email`), so an account keeps the
same identity whichever form is configured and reconnecting never duplicates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr

from chimplink.config import ConfigError, Settings
from chimplink.mailchimp import SINGLE_HOST

__all__ = ["DEFAULT_APP_NAME", "ConnectConfig", "OAuthApp"]

DEFAULT_APP_NAME = "chimplink"


@dataclass(frozen=True)
class OAuthApp:
    """The OAuth client registered at Mailchimp."""

    client_id: str
    client_secret: SecretStr = field(repr=False)
    login_url: str
    redirect_uri: str  # byte-identical in every authorization and token request


@dataclass(frozen=True)
class ConnectConfig:
    public_url: str  # no trailing slash
    oauth: OAuthApp | None  # None: connecting is not configured (uninstall still works)
    allowed_api_bases: tuple[str, ...]
    single_host_api: str | None  # set: identify accounts on this host, no metadata call
    app_name: str = DEFAULT_APP_NAME  # the name users look for in Mailchimp's app list

    @classmethod
    def from_settings(
        cls, settings: Settings, *, app_name: str = DEFAULT_APP_NAME
    ) -> ConnectConfig:
        try:
            client = settings.oauth_client()
        except ConfigError:
            oauth = None
        else:
            oauth = OAuthApp(
                client_id=client.client_id,
                client_secret=client.client_secret,
                login_url=client.login_url,
                redirect_uri=client.redirect_uri,
            )
        api_url = settings.mailchimp_api_url
        return cls(
            public_url=settings.public_url.rstrip("/"),
            oauth=oauth,
            allowed_api_bases=settings.allowed_api_bases,
            single_host_api=api_url if api_url == SINGLE_HOST else None,
            app_name=app_name,
        )
