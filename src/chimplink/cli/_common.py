"""What the commands that act on an installation (`chimplink sync`, `chimplink files`) share.

They load the configuration the same way, refuse a database that is not
migrated, open the platform connector the same way and turn the same
connection problems into the same messages and exit codes, so a user who
knows one command's failures knows the other's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from chimplink.cli.db import database_error, shown
from chimplink.config import ConfigError, Secrets, Settings, load_secrets, load_settings
from chimplink.connect import (
    ConnectError,
    InstallationMissing,
    NeedsReconnect,
    Services,
    open_services,
)
from chimplink.jobs.inbound_tasks import ConnectorFactory
from chimplink.logging import configure_from_settings
from chimplink.platforms import ConnectorError
from chimplink.platforms.registry import open_connectors
from chimplink.store import current_revision, head_revision

__all__ = [
    "BAD_USAGE",
    "FAILED",
    "OK",
    "Out",
    "connect_problem",
    "open_platform",
    "run_command",
]

OK, FAILED, BAD_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Out:
    """Where results go (stdout) and where problems go (stderr)."""

    console: Console
    errors: Console

    @classmethod
    def standard(cls) -> Out:
        return cls(Console(soft_wrap=True), Console(stderr=True, soft_wrap=True))

    def problem(self, text: str) -> None:
        self.errors.print(f"[red]chimplink: {text}[/red]", highlight=False)


def run_command(
    out: Out, main: Callable[[Settings, Secrets], Coroutine[Any, Any, int]], *, interrupted: str
) -> NoReturn:
    """Run `main` with the configuration and exit with its code.

    A bad configuration is bad usage; a database that cannot be reached gets
    `database_error`'s message; Ctrl-C says `interrupted` rather than a traceback.
    """
    try:
        settings = load_settings()
        secrets = load_secrets(settings)
    except ConfigError as exc:
        out.problem(str(exc))
        raise typer.Exit(BAD_USAGE) from None
    configure_from_settings(settings)
    if settings.log_level != "DEBUG":
        # httpx logs every request at INFO; the progress bar and the summary say enough.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        code = asyncio.run(main(settings, secrets))
    except (SQLAlchemyError, OSError) as exc:
        raise database_error(out.errors, settings.database_url, exc) from None
    except KeyboardInterrupt:
        out.problem(interrupted)
        raise typer.Exit(FAILED) from None
    raise typer.Exit(code)


@asynccontextmanager
async def open_platform(
    settings: Settings, secrets: Secrets, out: Out
) -> AsyncIterator[tuple[Services, ConnectorFactory | None]]:
    """The services and the platform's connectors (None when no platform is configured).

    Ends the command with BAD_USAGE, the problem said, when the database is not
    migrated or the configured connector cannot be opened: nothing has run yet.
    """
    revision, head = await current_revision(settings.database_url), head_revision()
    if revision != head:
        out.problem(
            f"the database {shown(settings.database_url)} is at revision {revision or 'none'}, "
            f"not {head}: run `chimplink db upgrade` first."
        )
        raise typer.Exit(BAD_USAGE)
    async with open_services(settings, secrets=secrets) as services, AsyncExitStack() as stack:
        try:
            connectors = await stack.enter_async_context(
                open_connectors(settings, sessions=services.sessions)
            )
        except ConnectorError as exc:
            out.problem(f"the platform connector cannot be opened: {exc}")
            raise typer.Exit(BAD_USAGE) from None
        yield services, connectors


def connect_problem(out: Out, installation_id: str, exc: ConnectError, *, nothing: str) -> int:
    """Say what stopped a run on an installation, and the exit code for it.

    `nothing` completes "nothing was …" for a lost access ("synced", "transferred").
    """
    if isinstance(exc, InstallationMissing):
        out.problem(f"no installation {installation_id} exists (see the web app's accounts).")
        return BAD_USAGE
    if isinstance(exc, NeedsReconnect):
        out.problem(
            f"installation {installation_id}: Mailchimp no longer accepts chimplink's access "
            f"to this account; nothing was {nothing}. The account owner must reconnect it."
        )
        return FAILED
    out.problem(f"installation {installation_id}: {exc.user_message}")
    return FAILED
