"""`chimplink keys`: make keys and rotate the encryption of stored secrets.

Rotation, with keys in the environment:
  1. `chimplink keys generate`, put the new key first in CHIMPLINK_SECRET_KEYS;
  2. restart chimplink (it now encrypts with the new key, still reads the old);
  3. `chimplink keys rotate` re-encrypts every stored secret with the new key;
  4. remove the old keys from CHIMPLINK_SECRET_KEYS and restart.
With the embedded key file, `chimplink keys rotate --new-key --retire-old-keys`
does all of it (stop `chimplink serve` first: it holds the keys in memory).
"""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from chimplink.cli.db import database_error, shown
from chimplink.config import (
    ConfigError,
    Secrets,
    Settings,
    generate_fernet_key,
    load_secrets,
    load_settings,
    replace_key_file_keys,
)
from chimplink.store.crypto import TokenCipher
from chimplink.store.db import make_engine, make_session_factory
from chimplink.store.migrate import current_revision, head_revision
from chimplink.store.rotation import (
    SECRET_KINDS,
    RotationReport,
    count_secrets_by_key,
    rotate_secrets,
)

app = typer.Typer(
    name="keys",
    help="Encryption keys for stored tokens: generate one, rotate to the newest.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _NotMigrated(Exception):
    pass


@app.command()
def generate() -> None:
    """Print a new random key for CHIMPLINK_SECRET_KEYS (put it first in the list)."""
    typer.echo(generate_fernet_key())


def _load(console: Console, database_url: str | None) -> tuple[Settings, Secrets]:
    try:
        settings = load_settings(**({"database_url": database_url} if database_url else {}))
        return settings, load_secrets(settings)
    except ConfigError as exc:
        console.print(f"[red]chimplink: {exc}[/red]", highlight=False)
        raise typer.Exit(2) from None


def _from_key_file(settings: Settings, secrets: Secrets) -> bool:
    return secrets.key_file is not None and settings.secret_keys is None


async def _rotate(url: str, cipher: TokenCipher) -> tuple[RotationReport, dict[str, int]]:
    engine = make_engine(url)
    try:
        revision = await current_revision(engine)
        if revision != head_revision():
            raise _NotMigrated(revision or "none")
        sessions = make_session_factory(engine)
        async with sessions.begin() as session:
            report = await rotate_secrets(session=session, cipher=cipher)
        async with sessions() as session:
            by_key = await count_secrets_by_key(session=session)
        return report, by_key
    finally:
        await engine.dispose()


def _print_report(console: Console, report: RotationReport) -> None:
    table = Table(title=f"Secrets re-encrypted with key {report.key_id}")
    table.add_column("secret")
    table.add_column("re-encrypted", justify="right")
    table.add_column("current", justify="right")
    table.add_column("changed", justify="right")
    table.add_column("failed", justify="right")
    counts = (report.rotated, report.current, report.changed, report.failed)
    for kind in SECRET_KINDS:
        table.add_row(kind, *(str(count.get(kind, 0)) for count in counts))
    table.add_row("total", *(str(sum(count.values())) for count in counts), style="bold")
    console.print(table)


@app.command()
def rotate(
    database_url: str | None = typer.Option(
        None, "--database-url", help="SQLAlchemy URL (default: CHIMPLINK_DATABASE_URL)."
    ),
    new_key: bool = typer.Option(
        False, "--new-key", help="Key file only: add a new key first, then rotate to it."
    ),
    retire_old_keys: bool = typer.Option(
        False,
        "--retire-old-keys",
        help="Key file only: after a complete rotation, remove the older keys from the file.",
    ),
) -> None:
    """Re-encrypt every stored token and signing secret with the newest key."""
    console = Console()
    settings, secrets = _load(console, database_url)
    keys = [key.get_secret_value() for key in secrets.secret_keys]
    if (new_key or retire_old_keys) and not _from_key_file(settings, secrets):
        console.print(
            "[red]chimplink: --new-key and --retire-old-keys work on the key file only; the "
            "keys come from CHIMPLINK_SECRET_KEYS here: edit that list instead.[/red]",
            highlight=False,
        )
        raise typer.Exit(2)
    if new_key:
        assert secrets.key_file is not None
        keys.insert(0, generate_fernet_key())
        replace_key_file_keys(secrets.key_file, secret_keys=keys)
        console.print(f"Added a new key to {secrets.key_file}.", highlight=False)
    cipher = TokenCipher(keys)
    url = settings.database_url
    try:
        report, by_key = asyncio.run(_rotate(url, cipher))
    except _NotMigrated as exc:
        console.print(
            f"[red]chimplink: database {shown(url)} is at revision {exc}, not "
            f"{head_revision()}: run `chimplink db upgrade` first.[/red]",
            highlight=False,
        )
        raise typer.Exit(1) from None
    except (SQLAlchemyError, OSError) as exc:
        raise database_error(console, url, exc) from None
    _print_report(console, report)
    if report.total_failed:
        console.print(
            f"[red]{report.total_failed} secret(s) could not be decrypted with the configured "
            "keys; they were left as they are. Keep every old key until this is resolved."
            "[/red]",
            highlight=False,
        )
        raise typer.Exit(1)
    others = set(by_key) - {cipher.current_key_id}
    if others:  # written concurrently by a process that still had the old keys
        console.print(
            f"[yellow]{sum(by_key[k] for k in others)} secret(s) still use an older key "
            "(written meanwhile by a running process?). Run the rotation again.[/yellow]",
            highlight=False,
        )
        raise typer.Exit(1)
    if len(keys) == 1:
        console.print("Every stored secret uses the only configured key.")
    elif retire_old_keys:
        assert secrets.key_file is not None
        replace_key_file_keys(secrets.key_file, secret_keys=keys[:1])
        console.print(
            f"Removed {len(keys) - 1} older key(s) from {secrets.key_file}.", highlight=False
        )
    else:
        console.print(
            f"Every stored secret uses key {cipher.current_key_id}. You can now remove the "
            f"{len(keys) - 1} older key(s)"
            + (
                " from the key file."
                if _from_key_file(settings, secrets)
                else " from CHIMPLINK_SECRET_KEYS."
            ),
            highlight=False,
        )
