"""`chimplink uninstall INSTALLATION_ID`: the operator's uninstall (same steps as the web's)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from chimplink.cli.db import database_error
from chimplink.config import ConfigError, Secrets, Settings, load_secrets, load_settings
from chimplink.connect import (
    InstallationMissing,
    UninstallResult,
    find_uninstall_record,
    open_services,
    removal_instructions,
    uninstall,
)
from chimplink.logging import configure_from_settings
from chimplink.store import find_installation, get_tenant


@dataclass(frozen=True)
class _Found:
    account_name: str
    status: str
    tenant: str
    connected: str


async def _lookup(
    settings: Settings, secrets: Secrets, installation_id: str
) -> _Found | str | None:
    """The installation; or the date of an earlier uninstall; or None if never seen."""
    async with open_services(settings, secrets=secrets) as services:
        async with services.sessions() as session:
            installation = await find_installation(session=session, installation_id=installation_id)
            if installation is not None:
                tenant = await get_tenant(session=session, tenant_id=installation.tenant_id)
                return _Found(
                    account_name=installation.account_name,
                    status=installation.status.value,
                    tenant=tenant.external_id if tenant else installation.tenant_id,
                    connected=installation.created_at.date().isoformat(),
                )
        record = await find_uninstall_record(services, installation_id=installation_id)
        return record.at.isoformat(timespec="seconds") if record is not None else None


async def _uninstall(
    settings: Settings, secrets: Secrets, installation_id: str
) -> tuple[UninstallResult | None, str]:
    async with open_services(settings, secrets=secrets) as services:
        try:
            result = await uninstall(services, installation_id=installation_id, tenant_id=None)
        except InstallationMissing:
            result = None
        return result, services.config.app_name


def run(*, installation_id: str, yes: bool) -> None:
    console = Console(soft_wrap=True)
    try:
        settings = load_settings()
        secrets = load_secrets(settings)
    except ConfigError as exc:
        console.print(f"[red]chimplink: {exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    configure_from_settings(settings)
    try:
        found = asyncio.run(_lookup(settings, secrets, installation_id))
        if found is None:
            console.print(f"No installation {installation_id} exists.", highlight=False)
            raise typer.Exit(1)
        if isinstance(found, str):
            console.print(
                f"Installation {installation_id} was already uninstalled ({found}). Nothing to do.",
                highlight=False,
            )
            return
        console.print(
            f"Installation {installation_id}: Mailchimp account [bold]{found.account_name}"
            f"[/bold], tenant {found.tenant}, {found.status}, connected {found.connected}.",
            highlight=False,
        )
        if not yes and not typer.confirm(
            "Delete chimplink's webhooks at Mailchimp and everything chimplink stores "
            "for this account?"
        ):
            console.print("Nothing changed.")
            raise typer.Exit(1)
        result, app_name = asyncio.run(_uninstall(settings, secrets, installation_id))
    except (SQLAlchemyError, OSError) as exc:
        raise database_error(console, settings.database_url, exc) from None
    if result is None or not result.purged:
        console.print("Already uninstalled meanwhile. Nothing to do.")
        return
    console.print(
        f"Uninstalled. The token and settings are deleted; {result.webhooks_deleted} "
        "webhook(s) deleted at Mailchimp.",
        highlight=False,
    )
    if result.webhooks_pending:
        console.print(
            f"{result.webhooks_pending} webhook(s) could not be deleted at Mailchimp right now; "
            "the job runner of `chimplink serve` retries until they are gone.",
            highlight=False,
        )
    if result.webhooks_orphaned:
        console.print(
            f"[yellow]{result.webhooks_orphaned} webhook(s) cannot be deleted by chimplink "
            "(the token could not be decrypted); the account owner can remove them in "
            "Mailchimp (Audience → Settings → Webhooks).[/yellow]",
            highlight=False,
        )
    console.print(
        "Tell the account owner: " + removal_instructions(app_name) + " "
        "Their Mailchimp data (audiences, contacts, campaigns) stays as it is.",
        highlight=False,
    )
