"""Audience webhooks: state and Mailchimp's rules (REFERENCE.md §4.1).

A webhook belongs to one audience. It says which events (`subscribe`,
`unsubscribe`, `profile`, `cleaned`, `upemail`, `campaign`) it wants and from
which sources (`user`, `admin`, `api`) those events must come. Campaign events
are never filtered by source: the legacy docs say that option "can not be
limited by source" (REFERENCE.md §4.1, "Source meanings").

Defaults chosen by the emulator: Mailchimp does not document what an omitted
event or source resolves to (REFERENCE.md §4.1, "Defaults when `sources` is
omitted"), so an omitted flag is `false`. That is the safe reading: the
emulator never delivers something the client did not ask for, and a client
that forgets a flag finds out here rather than in production.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, now_iso, register_store

EVENTS = ("subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign")
SOURCES = ("user", "admin", "api")

# Events that Mailchimp does not filter by source (REFERENCE.md §4.1).
UNFILTERED_BY_SOURCE = frozenset({"campaign"})


class Webhook(BaseModel):
    id: str
    list_id: str
    url: str
    events: dict[str, bool]
    sources: dict[str, bool]
    # Kept to sign deliveries; shown once, in the create response (REFERENCE.md §4.1).
    signing_secret: str
    signing_enabled: bool = True
    created_at: str = Field(default_factory=now_iso)
    # Set when the receiver answered 410: Mailchimp then stops delivering (§4.1).
    disabled: bool = False
    disabled_at: str | None = None
    disabled_reason: str | None = None

    def wants(self, *, event_type: str, source: str) -> bool:
        """Whether an event of this type from this source is delivered to this webhook."""
        if self.disabled or not self.events.get(event_type, False):
            return False
        return event_type in UNFILTERED_BY_SOURCE or self.sources.get(source, False)


@register_store("webhooks")
class WebhooksStore(BaseModel):
    # list_id → webhook_id → webhook (insertion order = creation order)
    webhooks: dict[str, dict[str, Webhook]] = Field(default_factory=dict)


def webhooks_of(account: Account) -> WebhooksStore:
    return account.store(WebhooksStore)


def hooks_of_list(account: Account, list_id: str) -> dict[str, Webhook]:
    return webhooks_of(account).webhooks.get(list_id, {})


def iter_hooks(account: Account, list_id: str) -> Iterator[Webhook]:
    return iter(list(hooks_of_list(account, list_id).values()))


def find_webhook(account: Account, list_id: str, webhook_id: str) -> Webhook | None:
    return hooks_of_list(account, list_id).get(webhook_id)


def require_webhook(account: Account, list_id: str, webhook_id: str) -> Webhook:
    found = find_webhook(account, list_id, webhook_id)
    if found is None:
        raise problems.not_found("The requested resource could not be found.")
    return found


def forget_list(account: Account, list_id: str) -> None:
    """Drop the webhooks of an audience that no longer exists (they die with it)."""
    webhooks_of(account).webhooks.pop(list_id, None)


def flags(
    given: Mapping[str, Any] | None,
    *,
    names: tuple[str, ...],
    current: Mapping[str, bool] | None = None,
) -> dict[str, bool]:
    """Merge the booleans of a request over the current ones (omitted → current, else false).

    The request body was validated against the spec (booleans only), so the
    values here are already `bool`.
    """
    merged = {name: bool((current or {}).get(name, False)) for name in names}
    for name in names:
        if given is not None and name in given:
            merged[name] = bool(given[name])
    return merged


def check_url(url: str) -> None:
    """An http(s) URL with a host: anything else cannot be validated with a GET."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise problems.field_error("url", "Please enter a valid URL.")


def _url_key(url: str) -> tuple[str, str, str]:
    """Scheme, host[:port] and path: Mailchimp refuses two webhooks of an audience
    whose URLs differ only by their query string (REFERENCE.md §4.1, "Validation on create").
    """
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/") or "/"


def check_unique_url(account: Account, list_id: str, url: str, *, except_id: str = "") -> None:
    key = _url_key(url)
    for hook in iter_hooks(account, list_id):
        if hook.id != except_id and _url_key(hook.url) == key:
            # The wording is the emulator's: no source gives Mailchimp's text.
            raise problems.invalid_resource(
                "A webhook with this URL already exists for this list.",
                errors=[
                    {
                        "field": "url",
                        "message": "A webhook with this URL already exists for this list.",
                    }
                ],
            )


def add_webhook(
    account: Account,
    *,
    webhook_id: str,
    list_id: str,
    url: str,
    events: dict[str, bool],
    sources: dict[str, bool],
    signing_secret: str,
) -> Webhook:
    hook = Webhook(
        id=webhook_id,
        list_id=list_id,
        url=url,
        events=events,
        sources=sources,
        signing_secret=signing_secret,
    )
    webhooks_of(account).webhooks.setdefault(list_id, {})[webhook_id] = hook
    return hook


def delete_webhook(account: Account, list_id: str, webhook_id: str) -> None:
    hooks = webhooks_of(account).webhooks.get(list_id)
    if hooks is None or hooks.pop(webhook_id, None) is None:
        raise problems.not_found("The requested resource could not be found.")
    if not hooks:
        del webhooks_of(account).webhooks[list_id]


def disable(hook: Webhook, *, reason: str) -> None:
    hook.disabled = True
    hook.disabled_at = now_iso()
    hook.disabled_reason = reason


def enable(hook: Webhook) -> None:
    hook.disabled = False
    hook.disabled_at = None
    hook.disabled_reason = None
