"""`chimplink demo`: the emulator, a demo platform and chimplink's web app, ready to click through.

Everything runs in this one process on the embedded defaults, in a fresh
temporary folder, and needs no environment variable:

- the emulator, seeded with the Demo Bakery account, its audience and the
  OAuth app (`cli/emulator.py: seed_demo_data`);
- the demo platform: an SQLite database of generated contacts (a few with
  invalid emails on purpose), handed to the web app as its connector;
- `chimplink serve`'s app on a fresh SQLite database, with the embedded job
  runner (it applies Mailchimp's webhooks to the platform).

The web app reaches the emulator over HTTP exactly as it would reach
Mailchimp, and the emulator's webhooks reach the web app the same way.
`chimplink demo` prints the link to open and what to click;
`chimplink demo --headless` plays the same story in code (`demo_story.py`)
and exits non-zero if any of its checks fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import signal
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer
import uvicorn
from fastapi import FastAPI
from rich.console import Console

from chimplink.cli.demo_story import DemoError, Mailchimp, member_hash, run_story
from chimplink.cli.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, seed_demo_data
from chimplink.config import ConfigError, JobsBackend, Settings, load_secrets, load_settings
from chimplink.connect import Services
from chimplink.emulator import EmulatorApp, EmulatorConfig
from chimplink.emulator import create_app as create_emulator
from chimplink.emulator.testing import free_port, quiet_injected_resets
from chimplink.logging import configure_logging
from chimplink.platforms import Connector, Consent, Contact
from chimplink.platforms.demo import DemoPlatform, generate_contacts
from chimplink.store import Installation, upgrade_async
from chimplink.web import create_app, mint_link

__all__ = [
    "DEMO_CONTACTS",
    "DEMO_SEED",
    "INVALID_SHARE",
    "DemoError",
    "DemoStack",
    "open_stack",
    "run",
    "run_headless",
    "subscribable_contacts",
]

DEMO_CONTACTS = 1_000
DEMO_SEED = 7  # the same contacts every run
INVALID_SHARE = 0.01  # invalid or fake emails, on purpose: per-record failures to show
DEMO_TENANT = "demo-user"
DEMO_USER_NAME = "Demo Bakery owner"


@dataclass(frozen=True)
class DemoStack:
    """What the demo runs, served and ready: every address, and the objects behind them."""

    data: Path
    emulator: EmulatorApp
    emulator_url: str
    web: FastAPI
    app_url: str
    settings: Settings
    platform: DemoPlatform
    contacts: int
    link: str  # the signed platform link: "you are this platform's user"

    def services(self) -> Services:
        """chimplink's `Services` as the running web app built them (its lifespan owns them)."""
        services: Services = self.web.state.chimplink.services
        return services

    def subscribable_keys(self) -> Iterator[str]:
        return subscribable_contacts(self.contacts)


def subscribable_contacts(platform_contacts: int) -> Iterator[str]:
    """Keys of contacts with recorded consent and an email as generated (not spoiled).

    These become `subscribed` members in the first sync, so they are the ones a
    subscriber can unsubscribe. The generator spoils emails from a separate
    random stream (generate.py), so the same contacts generated without
    spoiling tell which emails were left alone.
    """
    clean = generate_contacts(count=platform_contacts, seed=DEMO_SEED)
    spoiled = generate_contacts(
        count=platform_contacts, seed=DEMO_SEED, invalid_share=INVALID_SHARE
    )
    for original, made in zip(clean, spoiled, strict=True):
        if made.consent is Consent.GRANTED and made.email == original.email:
            yield str(made.id)


def _check_port(host: str, port: int) -> None:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise DemoError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                "choose other ports with --port and --emulator-port"
            ) from None


def _settings(data: Path, *, app_url: str, emulator_url: str, platform_secret: str) -> Settings:
    """The embedded defaults pointed at the emulator (these win over any environment variable)."""
    try:
        return load_settings(
            database_url=f"sqlite+aiosqlite:///{data / 'chimplink.db'}",
            key_file=data / "chimplink-keys",
            public_url=app_url,
            mailchimp_client_id=DEMO_CLIENT_ID,
            mailchimp_client_secret=DEMO_CLIENT_SECRET,
            mailchimp_login_url=emulator_url,
            mailchimp_api_url=emulator_url,
            platform_secret=platform_secret,
            jobs=JobsBackend.EMBEDDED,
        )
    except ConfigError as exc:
        raise DemoError(str(exc)) from None


class _Server(uvicorn.Server):
    """uvicorn, minus its signal handling: the demo stops both servers on one signal.

    Two uvicorn servers in one process would each install handlers, and only
    the last one installed would hear Ctrl-C.
    """

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def _serving(host: str, apps: list[tuple[Any, int]]) -> AsyncIterator[None]:
    servers = [
        _Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_config=None,
                access_log=False,
                lifespan="on",
                server_header=False,
            )
        )
        for app, port in apps
    ]
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    try:
        while not all(server.started for server in servers):
            if any(task.done() for task in tasks):
                # uvicorn has logged why (e.g. the web app's lifespan failed).
                raise DemoError("a server of the demo did not start; see the messages above")
            await asyncio.sleep(0.01)
        yield
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


@asynccontextmanager
async def open_stack(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    emulator_port: int | None = None,
    contacts: int = DEMO_CONTACTS,
    console: Console | None = None,
    data: Path | None = None,
) -> AsyncIterator[DemoStack]:
    """Create the demo's data, serve the emulator and the web app, yield; stop both after.

    `port` / `emulator_port` None: free ports. `data` None: a new temporary folder.
    """
    port = port or free_port(host)
    emulator_port = emulator_port or free_port(host)
    for chosen in (port, emulator_port):
        _check_port(host, chosen)
    console = console or Console(quiet=True)
    data = data or Path(tempfile.mkdtemp(prefix="chimplink-demo-"))
    app_url = f"http://{host}:{port}"
    emulator_url = f"http://{host}:{emulator_port}"
    platform_secret = secrets.token_urlsafe(32)
    settings = _settings(
        data, app_url=app_url, emulator_url=emulator_url, platform_secret=platform_secret
    )
    emulator = create_emulator(EmulatorConfig(seed=DEMO_SEED))
    await seed_demo_data(emulator, emulator_url, console, redirect_uri=f"{app_url}/oauth/callback")
    await upgrade_async(settings.database_url)
    platform = await DemoPlatform.create(
        data / "platform.db", contacts=contacts, seed=DEMO_SEED, invalid_share=INVALID_SHARE
    )
    connector = platform.connector()

    async def connectors(installation: Installation) -> Connector:
        # One platform, one connector, whoever the tenant is.
        return connector

    try:
        web = create_app(settings, secrets=load_secrets(settings), connectors=connectors)
        link = mint_link(
            public_url=app_url,
            platform_secret=platform_secret,
            tenant=DEMO_TENANT,
            name=DEMO_USER_NAME,
            ttl=timedelta(hours=24),
        )
        async with _serving(host, [(emulator, emulator_port), (web, port)]):
            yield DemoStack(
                data=data,
                emulator=emulator,
                emulator_url=emulator_url,
                web=web,
                app_url=app_url,
                settings=settings,
                platform=platform,
                contacts=contacts,
                link=link,
            )
    finally:
        await platform.aclose()
        await emulator.aclose()


def _quiet_logs() -> None:
    configure_logging(level="WARNING", json_output=False)
    # httpx logs every request at INFO; uvicorn's own errors still show.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    quiet_injected_resets()


@contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM set `stop` instead of raising in the middle of the work."""
    loop = asyncio.get_running_loop()
    handled = (signal.SIGINT, signal.SIGTERM)
    for sig in handled:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


def _print_steps(
    console: Console, stack: DemoStack, list_id: str, subscriber: Contact | None
) -> None:
    app, mailchimp = stack.app_url, stack.emulator_url
    console.print()
    console.print(f"chimplink demo: everything runs here, data in {stack.data} (fresh each run)")
    console.print(
        f"  the demo platform: {stack.contacts:,} contacts, a few with invalid emails on purpose"
    )
    console.print(f"  Mailchimp (the emulator): {mailchimp}    chimplink: {app}")
    console.print()
    console.print(f"  1. Open this link (you are a user of the demo platform):\n     {stack.link}")
    console.print("  2. Click [bold]Connect Mailchimp[/bold], choose Demo Bakery, click Allow.")
    console.print(
        "  3. Click [bold]Choose audience[/bold], pick Demo Bakery customers, click "
        "Use this audience: chimplink registers its webhook there."
    )
    console.print(
        f"  4. Sync settings ({app}/installations/<id>/sync/settings): choose the fields to "
        "sync and their merge tags, and the consent rule; [bold]Save and preview[/bold] shows "
        "what a sync would do and changes nothing."
    )
    console.print(
        f"  5. The sync page ({app}/installations/<id>/sync): click [bold]Sync now[/bold] and "
        f"watch the contacts arrive at {mailchimp}/_emulator/ui"
    )
    if subscriber is not None:
        target = member_hash(subscriber.email)
        console.print(
            f"  6. After the sync, unsubscribe {subscriber.email} in Mailchimp, as they would "
            "from an email:\n"
            f"     curl -X POST {mailchimp}/_emulator/lists/{list_id}/members/{target}/actions "
            "-H 'Content-Type: application/json' -d '{\"action\": \"unsubscribe\"}'\n"
            f"     Within seconds the platform's contact {subscriber.key} has marketing consent "
            f"withdrawn ({stack.data / 'platform.db'}, table contacts)."
        )
    console.print(
        "  7. Click [bold]Disconnect[/bold]: chimplink deletes its webhook and your token."
    )
    console.print(
        "  The same story without a browser, checked step by step: chimplink demo --headless"
    )
    console.print("Press Ctrl-C to stop.")


async def _interactive(*, host: str, port: int, emulator_port: int, contacts: int) -> None:
    console = Console(soft_wrap=True)
    async with open_stack(
        host=host, port=port, emulator_port=emulator_port, contacts=contacts, console=console
    ) as stack:
        async with Mailchimp.observe(stack.emulator_url) as mailchimp:
            list_id = mailchimp.list_id
        key = next(stack.subscribable_keys(), None)
        subscriber = await stack.platform.get(key) if key is not None else None
        _print_steps(console, stack, list_id, subscriber)
        stop = asyncio.Event()
        with _stop_on_signals(stop):
            await stop.wait()
    console.print("chimplink demo stopped.")


def run(*, host: str, port: int, emulator_port: int, contacts: int = DEMO_CONTACTS) -> None:
    """Serve the demo until Ctrl-C."""
    _quiet_logs()
    try:
        asyncio.run(
            _interactive(host=host, port=port, emulator_port=emulator_port, contacts=contacts)
        )
    except DemoError as exc:
        Console(stderr=True).print(f"[red]chimplink demo: {exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:  # Ctrl-C while starting, before the demo listens for it
        raise typer.Exit(130) from None


async def _headless(*, host: str, contacts: int, console: Console, data: Path) -> int:
    async with open_stack(host=host, contacts=contacts, data=data) as stack:
        console.print(
            f"chimplink demo --headless: {contacts:,} platform contacts; Mailchimp (emulator) "
            f"on {stack.emulator_url}, chimplink on {stack.app_url}; data in {data} "
            "(kept if a step fails)"
        )
        stop = asyncio.Event()
        story = asyncio.create_task(run_story(stack, console=console))
        stopped = asyncio.create_task(stop.wait())
        with _stop_on_signals(stop):
            await asyncio.wait({story, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not story.done():
            story.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await story
            console.print("[red]chimplink demo: interrupted[/red]")
            return 130
        return story.result().exit_code


def run_headless(*, host: str, contacts: int = DEMO_CONTACTS) -> int:
    """Play the demo's story in code; the exit status: 0 only if every check passed."""
    _quiet_logs()
    console = Console(soft_wrap=True, highlight=False)
    data = Path(tempfile.mkdtemp(prefix="chimplink-demo-"))
    try:
        code = asyncio.run(_headless(host=host, contacts=contacts, console=console, data=data))
    except DemoError as exc:
        Console(stderr=True).print(f"[red]chimplink demo: {exc}[/red]", highlight=False)
        return 2
    except KeyboardInterrupt:  # Ctrl-C while starting, before the demo listens for it
        return 130
    if code == 0:
        shutil.rmtree(data, ignore_errors=True)
    return code
