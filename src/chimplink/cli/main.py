"""`chimplink`: one Typer app; each command is a thin adapter over a package."""

from __future__ import annotations

from pathlib import Path

import typer

from chimplink.cli import db as db_cmd
from chimplink.cli import emulator as emulator_cmd
from chimplink.cli import files as files_cmd
from chimplink.cli import keys as keys_cmd
from chimplink.cli import push as push_cmd
from chimplink.cli import serve as serve_cmd
from chimplink.cli import uninstall as uninstall_cmd

app = typer.Typer(
    name="chimplink",
    help="A Mailchimp integration, and a faithful local Mailchimp emulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db_cmd.app, name="db")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(files_cmd.app, name="files")
app.add_typer(push_cmd.app, name="push-key")


@app.command()
def emulator(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8900, min=0, max=65535, help="Port to listen on."),
    latency_ms: float = typer.Option(0.0, min=0, help="Fixed latency of every API request."),
    latency_per_item_ms: float = typer.Option(
        0.0, min=0, help="Extra latency per member/operation in a request body."
    ),
    max_connections: int = typer.Option(
        10, min=1, help="Simultaneous requests allowed per account; more get 429."
    ),
    fault_rate: float = typer.Option(
        0.0, min=0.0, max=1.0, help="Share of API requests that get an injected fault."
    ),
    seed: int | None = typer.Option(None, help="Seed for ids and faults (reproducible runs)."),
    state: Path | None = typer.Option(
        None, help="JSON file to load state from at start and save it to at exit."
    ),
    public_url: str | None = typer.Option(
        None, help="Base URL to advertise (default: the URL each request arrived on)."
    ),
    seed_demo: bool = typer.Option(
        False, "--seed-demo", help="Create a demo account, audience and OAuth client at start."
    ),
) -> None:
    """Serve the local Mailchimp (OAuth + Marketing API 3.0 + control plane)."""
    emulator_cmd.run(
        host=host,
        port=port,
        latency_ms=latency_ms,
        latency_per_item_ms=latency_per_item_ms,
        max_connections=max_connections,
        fault_rate=fault_rate,
        seed=seed,
        state=state,
        public_url=public_url,
        seed_demo=seed_demo,
    )


@app.command()
def demo(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port of chimplink's web app."),
    emulator_port: int = typer.Option(8900, min=1, max=65535, help="Port of the emulator."),
    contacts: int = typer.Option(
        1_000, min=10, max=1_000_000, help="Contacts the demo platform starts with."
    ),
    headless: bool = typer.Option(
        False,
        "--headless",
        help="Play the whole story in code on free ports, print each step's figures, "
        "exit non-zero if a check fails.",
    ),
) -> None:
    """The demo: the emulator (seeded), a demo platform and chimplink's web app, with the link
    to open; or, with --headless, the same story checked step by step without a browser."""
    from chimplink.cli import demo as demo_cmd

    if headless:
        raise typer.Exit(demo_cmd.run_headless(host=host, contacts=contacts))
    demo_cmd.run(host=host, port=port, emulator_port=emulator_port, contacts=contacts)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=0, max=65535, help="Port to listen on."),
) -> None:
    """Serve the web app: platform sign-in, connect, audience, disconnect, webhooks."""
    serve_cmd.run(host=host, port=port)


@app.command("platform-link")
def platform_link(
    tenant: str = typer.Option(..., "--tenant", help="The platform's id of the user."),
    name: str = typer.Option("", "--name", help="The name chimplink shows for the user."),
    ttl_minutes: int = typer.Option(5, "--ttl-minutes", min=1, max=1440, help="Validity."),
) -> None:
    """Print a signed link that opens a chimplink session for one platform user."""
    serve_cmd.platform_link(tenant=tenant, name=name, ttl_minutes=ttl_minutes)


@app.command()
def sync(
    installation: str | None = typer.Argument(
        None, help="The installation to sync (default: every active one with sync settings)."
    ),
    full: bool = typer.Option(
        False,
        "--full",
        help="Re-read and re-send every contact, failed ones too (not only changes).",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be sent; write nothing anywhere."
    ),
) -> None:
    """Sync platform contacts to Mailchimp now (Mailchimp's pending changes are applied first)."""
    from chimplink.cli import sync as sync_cmd

    sync_cmd.run(installation=installation, full=full, dry_run=dry_run)


@app.command()
def uninstall(
    installation_id: str = typer.Argument(..., help="The installation to uninstall."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Disconnect a Mailchimp account: delete its webhooks at Mailchimp, then its data."""
    uninstall_cmd.run(installation_id=installation_id, yes=yes)


if __name__ == "__main__":  # pragma: no cover
    app()
