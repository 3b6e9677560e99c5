"""The connected account: OAuth token and metadata (REFERENCE.md §3), the API root, ping (§2)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from chimplink.mailchimp.models._base import MailchimpModel, Timestamp

__all__ = ["AccountInfo", "MetadataLogin", "OAuthMetadata", "Ping", "TokenResponse"]


class TokenResponse(MailchimpModel):
    """`POST /oauth2/token`. Tokens never expire: Mailchimp sends `expires_in: 0, scope: null`."""

    access_token: SecretStr
    token_type: str | None = None
    expires_in: int | None = None
    scope: str | None = None


class MetadataLogin(MailchimpModel):
    email: str | None = None
    avatar: str | None = None
    login_id: str | int | None = None
    login_name: str | None = None
    login_email: str | None = None


class OAuthMetadata(MailchimpModel):
    """`GET /oauth2/metadata`: who authorized us, and where their API lives."""

    dc: str
    api_endpoint: str  # no "/3.0" suffix (§3)
    login_url: str | None = None
    role: str | None = None
    accountname: str | None = None
    user_id: str | int | None = None
    login: MetadataLogin | None = None


class AccountInfo(MailchimpModel):
    """`GET /` — the account behind the credential."""

    account_id: str | None = None
    login_id: str | None = None
    account_name: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    role: str | None = None
    pricing_plan_type: str | None = None
    account_timezone: str | None = None
    member_since: Timestamp = None
    total_subscribers: int | None = None
    pro_enabled: bool | None = None


class Ping(MailchimpModel):
    health_status: str = Field(default="")
