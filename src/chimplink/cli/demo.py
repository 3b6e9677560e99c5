"""`chimplink demo`: the emulator and chimplink's web app together, ready to click through.

Everything runs in this one process on the embedded defaults: the emulator
(seeded with a demo account, an audience and the OAuth app), `chimplink serve`
on a fresh SQLite database in a temporary folder, and the embedded job runner.
It prints the signed platform link that opens the app as a demo platform user.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn
from rich.console import Console

from chimplink.cli.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, seed_demo_data
from chimplink.config import load_secrets, load_settings
from chimplink.emulator import EmulatorConfig
from chimplink.emulator import create_app as create_emulator
from chimplink.emulator.testing import quiet_injected_resets
from chimplink.logging import configure_logging
from chimplink.store import upgrade
from chimplink.web import create_app, mint_link


def run(*, host: str, port: int, emulator_port: int) -> None:
    console = Console(soft_wrap=True)
    data = Path(tempfile.mkdtemp(prefix="chimplink-demo-"))
    app_url = f"http://{host}:{port}"
    emulator_url = f"http://{host}:{emulator_port}"
    emulator = create_emulator(EmulatorConfig(seed=7))
    asyncio.run(
        seed_demo_data(emulator, emulator_url, console, redirect_uri=f"{app_url}/oauth/callback")
    )
    platform_secret = secrets.token_urlsafe(32)
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{data / 'chimplink.db'}",
        key_file=data / "chimplink-keys",
        public_url=app_url,
        mailchimp_client_id=DEMO_CLIENT_ID,
        mailchimp_client_secret=DEMO_CLIENT_SECRET,
        mailchimp_login_url=emulator_url,
        mailchimp_api_url=emulator_url,
        platform_secret=platform_secret,
    )
    configure_logging(level="WARNING", json_output=False)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    upgrade(settings.database_url)
    web = create_app(settings, secrets=load_secrets(settings))
    link = mint_link(
        public_url=app_url,
        platform_secret=platform_secret,
        tenant="demo-user",
        name="Demo Bakery owner",
        ttl=timedelta(hours=24),
    )
    console.print()
    console.print(f"chimplink demo: data in {data} (fresh each run)")
    console.print(f"  1. Open this link (you are a user of the demo platform):\n     {link}")
    console.print("  2. Click [bold]Connect Mailchimp[/bold], choose Demo Bakery, click Allow.")
    console.print("  3. Choose the audience: chimplink registers its webhook there.")
    console.print("  4. Click Disconnect: chimplink deletes its webhook and your token.")
    console.print(f"  Watch the emulator's side at {emulator_url}/_emulator/ui")
    console.print("Press Ctrl-C to stop.")
    quiet_injected_resets()
    asyncio.run(_serve_both(emulator, web, host=host, ports=(emulator_port, port)))


async def _serve_both(emulator: Any, web: Any, *, host: str, ports: tuple[int, int]) -> None:
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                app, host=host, port=port, log_config=None, access_log=False, lifespan="on"
            )
        )
        for app, port in ((emulator, ports[0]), (web, ports[1]))
    ]
    await asyncio.gather(*(server.serve() for server in servers))


__all__ = ["run"]
