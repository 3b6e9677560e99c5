"""What a tenant sees of its connected accounts (no Mailchimp call: the database only)."""

from __future__ import annotations

from dataclasses import dataclass

from chimplink.connect.errors import InstallationMissing
from chimplink.connect.services import Services
from chimplink.store import (
    Installation,
    InstallationStatus,
    get_installation,
    list_installations,
    list_remote_webhooks,
)

__all__ = ["AccountCard", "get_tenant_installation", "list_accounts"]


@dataclass(frozen=True)
class AccountCard:
    installation: Installation
    audience_ids: tuple[str, ...]  # audiences with chimplink's webhook

    @property
    def needs_reconnect(self) -> bool:
        return self.installation.status is InstallationStatus.NEEDS_RECONNECT


async def list_accounts(services: Services, *, tenant_id: str) -> list[AccountCard]:
    async with services.sessions() as session:
        cards = []
        for installation in await list_installations(session=session, tenant_id=tenant_id):
            if installation.status is InstallationStatus.UNINSTALLED:
                continue
            hooks = await list_remote_webhooks(session=session, installation_id=installation.id)
            cards.append(
                AccountCard(
                    installation=installation,
                    audience_ids=tuple(dict.fromkeys(hook.list_id for hook in hooks)),
                )
            )
        return cards


async def get_tenant_installation(
    services: Services, *, tenant_id: str, installation_id: str
) -> Installation:
    """The tenant's installation; `InstallationMissing` for an unknown or foreign id alike."""
    async with services.sessions() as session:
        installation = await get_installation(
            session=session, tenant_id=tenant_id, installation_id=installation_id
        )
    if installation is None or installation.status is InstallationStatus.UNINSTALLED:
        raise InstallationMissing(reason="unknown or foreign installation id")
    return installation
