"""`chimplink serve` (the web app under uvicorn) and `chimplink platform-link`."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import typer
import uvicorn
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from chimplink.cli.db import database_error
from chimplink.config import ConfigError, Secrets, Settings, load_secrets, load_settings
from chimplink.logging import configure_from_settings
from chimplink.platforms import ConnectorError
from chimplink.platforms.registry import open_connectors
from chimplink.store import upgrade
from chimplink.web import create_app, mint_link


def _settings(console: Console) -> tuple[Settings, Secrets]:
    try:
        settings = load_settings()
        settings.oauth_client()
        settings.require_platform_secret()
        secrets = load_secrets(settings)
        asyncio.run(_check_connector(settings))
        return settings, secrets
    except (ConfigError, ConnectorError) as exc:
        console.print(f"[red]chimplink: {exc}[/red]", highlight=False)
        raise typer.Exit(2) from None


async def _check_connector(settings: Settings) -> None:
    """Open the platform's connector once, so a broken mapping stops here with its message.

    (`push` has nothing to check: it reads chimplink's own database.)
    """
    if settings.connector == "push":
        return
    async with open_connectors(settings):
        pass


def run(*, host: str, port: int) -> None:
    """Serve the web app; upgrade an embedded SQLite database first."""
    console = Console(stderr=True, soft_wrap=True)
    settings, secrets = _settings(console)
    # Before anything logs: every line, uvicorn's included, goes through the redactor.
    configure_from_settings(settings)
    if settings.log_level != "DEBUG":
        # httpx logs every request at INFO; chimplink's call log already records them.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    if settings.embedded:
        try:
            upgrade(settings.database_url)
        except (SQLAlchemyError, OSError) as exc:
            raise database_error(console, settings.database_url, exc) from None
    app = create_app(settings, secrets=secrets)
    console.print(
        f"chimplink on [bold]{settings.public_url}[/bold] (listening on {host}:{port}); "
        "users arrive through platform links (`chimplink platform-link`). Ctrl-C stops.",
        highlight=False,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,  # keep our logging setup: uvicorn's lines are redacted too
        access_log=False,  # the app logs requests by route template, never by raw path
        server_header=False,
    )


def platform_link(*, tenant: str, name: str, ttl_minutes: int) -> None:
    """Print a signed link that opens a session for `tenant`."""
    console = Console(stderr=True, soft_wrap=True)
    try:
        settings = load_settings()
        secret = settings.require_platform_secret()
        link = mint_link(
            public_url=settings.public_url,
            platform_secret=secret,
            tenant=tenant,
            name=name,
            ttl=timedelta(minutes=ttl_minutes),
        )
    except (ConfigError, ValueError) as exc:
        console.print(f"[red]chimplink: {exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    typer.echo(link)
