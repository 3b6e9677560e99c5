"""`chimplink db`: database maintenance (migrations)."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from chimplink.config import ConfigError, load_settings
from chimplink.store.migrate import current_revision, head_revision, upgrade_async

app = typer.Typer(
    name="db",
    help="Database maintenance: apply migrations, show the schema revision.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_DATABASE_URL_HELP = "SQLAlchemy URL (default: CHIMPLINK_DATABASE_URL, else ./chimplink.db)."


def _database_url(console: Console, override: str | None) -> str:
    try:
        settings = load_settings(**({"database_url": override} if override else {}))
    except ConfigError as exc:
        console.print(f"[red]chimplink: {exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    return settings.database_url


def shown(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def database_error(console: Console, url: str, exc: Exception) -> typer.Exit:
    """Print a one-line, password-free description of a database failure."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    console.print(f"[red]chimplink: database {shown(url)}: {reason}[/red]", highlight=False)
    return typer.Exit(1)


@app.command()
def upgrade(
    database_url: str | None = typer.Option(None, "--database-url", help=_DATABASE_URL_HELP),
) -> None:
    """Create or migrate the database schema to the newest revision."""
    console = Console()
    url = _database_url(console, database_url)
    try:
        asyncio.run(upgrade_async(url))
        revision = asyncio.run(current_revision(url))
    except (SQLAlchemyError, OSError) as exc:
        raise database_error(console, url, exc) from None
    console.print(f"Database {shown(url)} is at revision {revision} (newest).", highlight=False)


@app.command()
def current(
    database_url: str | None = typer.Option(None, "--database-url", help=_DATABASE_URL_HELP),
) -> None:
    """Show the schema revision of the database; exit 1 if it needs `chimplink db upgrade`."""
    console = Console()
    url = _database_url(console, database_url)
    try:
        revision = asyncio.run(current_revision(url))
    except (SQLAlchemyError, OSError) as exc:
        raise database_error(console, url, exc) from None
    head = head_revision()
    if revision == head:
        console.print(f"Database {shown(url)} is at revision {revision} (newest).", highlight=False)
        return
    console.print(
        f"Database {shown(url)} is at revision {revision or 'none'}; newest is {head}. "
        "Run `chimplink db upgrade`.",
        highlight=False,
    )
    raise typer.Exit(1)
