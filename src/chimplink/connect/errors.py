"""What can go wrong in the installation lifecycle, in words an end user can act on.

```
ConnectError                  user_message, status (the HTTP status a web page should use)
├── NotConfigured             the OAuth client is not configured (operator's problem)
├── InvalidState              the callback's `state` is missing, unknown, used, expired or foreign
├── AccessDenied              the user chose Deny at Mailchimp
├── AuthorizationFailed       code exchange, metadata or identity failed; nothing was stored
├── InstallationMissing       no such installation for this tenant (web: 404)
├── NeedsReconnect            Mailchimp answered 401 (now or before): work is paused
└── MailchimpFailed           any other Mailchimp error; `user_message` is the client's
```

The web layer renders these and never looks at Mailchimp's errors itself;
`chimplink.mailchimp` errors are translated here, once.
"""

from __future__ import annotations

from typing import ClassVar

from chimplink.mailchimp import MailchimpError

__all__ = [
    "AccessDenied",
    "AuthorizationFailed",
    "ConnectError",
    "InstallationMissing",
    "InvalidState",
    "MailchimpFailed",
    "NeedsReconnect",
    "NotConfigured",
]


class ConnectError(Exception):
    title: ClassVar[str] = "Something went wrong"
    default_message: ClassVar[str] = "chimplink could not complete this. Please try again."
    status: ClassVar[int] = 400

    def __init__(self, user_message: str | None = None, *, reason: str | None = None) -> None:
        self.user_message = user_message or self.default_message
        self.reason = reason  # for logs: short, no secrets
        super().__init__(reason or self.user_message)


class NotConfigured(ConnectError):
    title = "Connecting is not set up"
    default_message = (
        "This chimplink server is not set up to connect Mailchimp accounts yet. "
        "Please tell the platform's support team."
    )
    status = 503


class InvalidState(ConnectError):
    title = "This connection attempt is no longer valid"
    default_message = (
        "This link to finish connecting Mailchimp has expired, was already used, or was "
        "started in another browser. Nothing was changed. Start again with Connect Mailchimp."
    )


class AccessDenied(ConnectError):
    title = "You did not allow access"
    default_message = (
        "You did not allow access to your Mailchimp account, so nothing was connected. "
        "You can connect it any time with Connect Mailchimp."
    )


class AuthorizationFailed(ConnectError):
    title = "Mailchimp did not confirm the connection"
    default_message = (
        "Mailchimp did not confirm the connection, so nothing was connected. "
        "Please try Connect Mailchimp again."
    )


class InstallationMissing(ConnectError):
    title = "Not found"
    default_message = "There is no such connected account."
    status = 404


class NeedsReconnect(ConnectError):
    title = "Reconnect your Mailchimp account"
    default_message = (
        "Mailchimp no longer accepts chimplink's access to this account (the app may have "
        "been removed in Mailchimp). chimplink has paused its work for this account. "
        "Reconnect your Mailchimp account to resume."
    )
    status = 409


class MailchimpFailed(ConnectError):
    title = "Mailchimp could not do this"
    status = 502

    @classmethod
    def from_error(cls, error: MailchimpError) -> MailchimpFailed:
        status = error.status if error.status is not None else "no response"
        return cls(error.user_message, reason=f"{type(error).__name__} ({status})")
