"""Audiences (lists): state and the lookups every other resource uses.

Other resource packages reach an audience only through `require_list()`,
which raises Mailchimp's 404 for an unknown id.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, now_iso, register_store


class MailingList(BaseModel):
    id: str
    web_id: int
    name: str
    contact: dict[str, Any]
    permission_reminder: str
    use_archive_bar: bool = False
    campaign_defaults: dict[str, Any]
    notify_on_subscribe: str = ""
    notify_on_unsubscribe: str = ""
    date_created: str = Field(default_factory=now_iso)
    list_rating: int = 0
    email_type_option: bool
    subscribe_url_short: str = ""
    subscribe_url_long: str = ""
    beamer_address: str = ""
    visibility: str = "pub"
    double_optin: bool = False
    has_welcome: bool = False
    marketing_permissions: bool = False
    modules: list[str] = Field(default_factory=list)


@register_store("lists")
class ListsStore(BaseModel):
    lists: dict[str, MailingList] = Field(default_factory=dict)


def lists_of(account: Account) -> ListsStore:
    return account.store(ListsStore)


def require_list(account: Account, list_id: str) -> MailingList:
    """The audience, or Mailchimp's 404 "Resource Not Found"."""
    found = lists_of(account).lists.get(list_id)
    if found is None:
        raise problems.not_found("The requested resource could not be found.")
    return found
