"""`chimplink push-key`: the push API's keys and webhook endpoint, per tenant.

    chimplink push-key create  --tenant T [--name N]      a new key, shown once
    chimplink push-key list    --tenant T
    chimplink push-key revoke  KEY --tenant T              by id or by its shown prefix
    chimplink push-key webhook --tenant T --url U [--new-secret]
    chimplink push-key webhook --tenant T --remove
    chimplink push-key deliveries --tenant T [--status dead]

`--tenant` is the platform's own id of the user (as for `platform-link`).
Keys and webhook secrets are printed once, to stdout, and never logged: the
database keeps a key's SHA-256 and the secret encrypted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

import typer
from pydantic import SecretStr
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chimplink.cli.db import database_error, shown
from chimplink.config import ConfigError, Settings, load_secrets, load_settings
from chimplink.platforms.push import check_webhook_url
from chimplink.store.crypto import TokenCipher
from chimplink.store.db import make_engine, make_session_factory
from chimplink.store.migrate import current_revision, head_revision
from chimplink.store.push import (
    IssuedPushKey,
    PushKey,
    create_push_key,
    get_push_webhook,
    list_push_keys,
    remove_push_webhook,
    revoke_push_key,
    set_push_webhook,
)
from chimplink.store.push_outbox import (
    DeliveryStatus,
    PushDelivery,
    count_push_deliveries,
    list_push_deliveries,
)
from chimplink.store.tenants import ensure_tenant, get_tenant_by_external_id

app = typer.Typer(
    name="push-key",
    help="The push API: per-tenant API keys and the webhook endpoint Mailchimp's changes go to.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_TENANT = typer.Option(..., "--tenant", help="The platform's id of the user (tenant).")
_DATABASE_URL = typer.Option(
    None, "--database-url", help="SQLAlchemy URL (default: CHIMPLINK_DATABASE_URL)."
)

T = TypeVar("T")
Sessions = async_sessionmaker[AsyncSession]


class _Refused(Exception):
    """Nothing was done; the message says why (printed as is)."""


class StatusFilter(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


def _console() -> Console:
    return Console(soft_wrap=True, highlight=False)


def _settings(console: Console, database_url: str | None) -> Settings:
    try:
        return load_settings(**({"database_url": database_url} if database_url else {}))
    except ConfigError as exc:
        console.print(f"[red]chimplink: {exc}[/red]")
        raise typer.Exit(2) from None


def _cipher(console: Console, settings: Settings) -> TokenCipher:
    try:
        return TokenCipher(load_secrets(settings).secret_keys)
    except (ConfigError, ValueError) as exc:
        console.print(f"[red]chimplink: {exc}[/red]")
        raise typer.Exit(2) from None


def _run(console: Console, url: str, work: Callable[[Sessions], Awaitable[T]]) -> T:
    """Run `work` on a migrated database; a clear message and exit 1 for anything wrong."""

    async def main() -> T:
        engine = make_engine(url)
        try:
            revision = await current_revision(engine)
            if revision != head_revision():
                raise _Refused(
                    f"database {shown(url)} is at revision {revision or 'none'}, not "
                    f"{head_revision()}: run `chimplink db upgrade` first"
                )
            return await work(make_session_factory(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except _Refused as exc:
        console.print(f"[red]chimplink: {exc}[/red]")
        raise typer.Exit(1) from None
    except (SQLAlchemyError, OSError) as exc:
        raise database_error(console, url, exc) from None


async def _tenant_id(session: AsyncSession, external_id: str) -> str:
    tenant = await get_tenant_by_external_id(session=session, external_id=external_id)
    if tenant is None:
        raise _Refused(f"no tenant {external_id!r}: create a key for it first")
    return tenant.id


def _check_tenant(console: Console, tenant: str) -> str:
    tenant = tenant.strip()
    if not tenant or len(tenant) > 255:
        console.print("[red]chimplink: --tenant must be 1 to 255 characters[/red]")
        raise typer.Exit(2)
    return tenant


@app.command()
def create(
    tenant: str = _TENANT,
    name: str = typer.Option("", "--name", help="A label to tell keys apart (≤ 100 characters)."),
    database_url: str | None = _DATABASE_URL,
) -> None:
    """Create an API key for a tenant; it is shown once."""
    console = _console()
    tenant = _check_tenant(console, tenant)
    if len(name) > 100:
        console.print("[red]chimplink: --name has at most 100 characters[/red]")
        raise typer.Exit(2)
    settings = _settings(console, database_url)

    async def work(sessions: Sessions) -> IssuedPushKey:
        async with sessions.begin() as session:
            found = await ensure_tenant(session=session, external_id=tenant)
            return await create_push_key(session=session, tenant_id=found.id, name=name or None)

    issued = _run(console, settings.database_url, work)
    console.print(
        f"Created key {issued.info.id} ({issued.info.prefix}…) for tenant {tenant}. "
        "It is shown once: store it in the platform's secrets now."
    )
    typer.echo(issued.key.get_secret_value())


@app.command("list")
def list_keys(tenant: str = _TENANT, database_url: str | None = _DATABASE_URL) -> None:
    """List a tenant's keys (never the keys themselves: only their first characters)."""
    console = _console()
    tenant = _check_tenant(console, tenant)
    settings = _settings(console, database_url)

    async def work(sessions: Sessions) -> list[PushKey]:
        async with sessions() as session:
            return await list_push_keys(
                session=session, tenant_id=await _tenant_id(session, tenant)
            )

    keys = _run(console, settings.database_url, work)
    if not keys:
        console.print(f"Tenant {tenant} has no push API key.")
        return
    # One line per key, never wrapped: the id is what `revoke` takes.
    console.print(f"Push API keys of tenant {tenant} (id, first characters, name, state):")
    for key in keys:
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        state = "active" if key.active else f"revoked {key.revoked_at:%Y-%m-%d %H:%M}"
        console.print(
            f"  {key.id}  {key.prefix}…  {key.name or '-'}  "
            f"created {key.created_at:%Y-%m-%d %H:%M}  last used {used}  {state}"
        )


@app.command()
def revoke(
    key: str = typer.Argument(..., help="The key's id, or the first characters `list` shows."),
    tenant: str = _TENANT,
    database_url: str | None = _DATABASE_URL,
) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    console = _console()
    tenant = _check_tenant(console, tenant)
    settings = _settings(console, database_url)
    wanted = key.strip().removesuffix("…")

    async def work(sessions: Sessions) -> PushKey:
        async with sessions.begin() as session:
            found = await revoke_push_key(
                session=session, tenant_id=await _tenant_id(session, tenant), key_id=wanted
            )
        if found is None:
            raise _Refused(
                f"tenant {tenant} has no key {wanted!r} (use the id from `chimplink push-key list`)"
            )
        return found

    revoked = _run(console, settings.database_url, work)
    console.print(f"Key {revoked.id} ({revoked.prefix}…) of tenant {tenant} is revoked.")


@app.command()
def webhook(
    tenant: str = _TENANT,
    url: str | None = typer.Option(
        None, "--url", help="Where Mailchimp's changes are POSTed (https)."
    ),
    new_secret: bool = typer.Option(
        False, "--new-secret", help="Make a new signing secret (the old one stops working)."
    ),
    remove: bool = typer.Option(False, "--remove", help="Stop sending webhooks to the tenant."),
    database_url: str | None = _DATABASE_URL,
) -> None:
    """Set (or remove) the tenant's webhook endpoint; a new signing secret is shown once."""
    console = _console()
    tenant = _check_tenant(console, tenant)
    if remove == (url is not None):
        console.print("[red]chimplink: give either --url or --remove[/red]")
        raise typer.Exit(2)
    if remove and new_secret:
        console.print("[red]chimplink: --new-secret goes with --url[/red]")
        raise typer.Exit(2)
    checked = None
    if url is not None:
        try:
            checked = check_webhook_url(url)
        except ValueError as exc:
            console.print(f"[red]chimplink: --url {exc}[/red]")
            raise typer.Exit(2) from None
    settings = _settings(console, database_url)
    cipher = _cipher(console, settings)

    async def work(sessions: Sessions) -> SecretStr | bool | None:
        async with sessions.begin() as session:
            if checked is None:
                tenant_id = await _tenant_id(session, tenant)
                return await remove_push_webhook(session=session, tenant_id=tenant_id)
            found = await ensure_tenant(session=session, external_id=tenant)
            return await set_push_webhook(
                session=session,
                cipher=cipher,
                tenant_id=found.id,
                url=checked,
                new_secret=new_secret,
            )

    result = _run(console, settings.database_url, work)
    if checked is None:
        console.print(
            f"Webhooks to tenant {tenant} are removed."
            if result
            else f"Tenant {tenant} had no webhook endpoint."
        )
        return
    if isinstance(result, SecretStr):
        console.print(
            f"Webhooks for tenant {tenant} go to {checked}. Their signing secret, shown once "
            "(verify `webhook-signature` with it, per Standard Webhooks):"
        )
        typer.echo(result.get_secret_value())
    else:
        console.print(f"Webhooks for tenant {tenant} go to {checked} (the secret is unchanged).")


@app.command()
def deliveries(
    tenant: str = _TENANT,
    status: StatusFilter | None = typer.Option(None, "--status", help="Only this status."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="At most this many rows."),
    database_url: str | None = _DATABASE_URL,
) -> None:
    """Show the tenant's outgoing webhooks: pending, delivered, and given up (with why)."""
    console = _console()
    tenant = _check_tenant(console, tenant)
    settings = _settings(console, database_url)
    cipher = _cipher(console, settings)

    async def work(
        sessions: Sessions,
    ) -> tuple[str | None, dict[DeliveryStatus, int], list[PushDelivery]]:
        async with sessions() as session:
            tenant_id = await _tenant_id(session, tenant)
            endpoint = await get_push_webhook(session=session, cipher=cipher, tenant_id=tenant_id)
            counts = await count_push_deliveries(session=session, tenant_id=tenant_id)
            rows = await list_push_deliveries(
                session=session,
                tenant_id=tenant_id,
                statuses=[DeliveryStatus(status.value)] if status is not None else None,
                limit=limit,
            )
        return (endpoint.url if endpoint else None), counts, rows

    url, counts, rows = _run(console, settings.database_url, work)
    console.print(f"Endpoint: {url or 'none (set one with `chimplink push-key webhook`)'}")
    console.print(", ".join(f"{status.value}: {count}" for status, count in counts.items()))
    for row in rows:  # one line each, never wrapped
        error = f"  {row.last_error}" if row.last_error else ""
        console.print(
            f"  {row.message_id}  {row.event_type}  {row.status.value}  "
            f"attempts {row.attempts}  created {row.created_at:%Y-%m-%d %H:%M:%S}{error}"
        )
