"""`chimplink emulator`: serve the emulator with uvicorn."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import httpx
import typer
import uvicorn
from rich.console import Console

from chimplink.emulator import EmulatorConfig, create_app
from chimplink.emulator.testing import quiet_injected_resets

DEMO_CLIENT_ID = "chimplink-demo"
DEMO_CLIENT_SECRET = "chimplink-demo-secret"  # an emulator-only credential, printed on purpose


def run(
    *,
    host: str,
    port: int,
    latency_ms: float = 0.0,
    latency_per_item_ms: float = 0.0,
    max_connections: int = 10,
    fault_rate: float = 0.0,
    seed: int | None = None,
    state: Path | None = None,
    public_url: str | None = None,
    seed_demo: bool = False,
) -> None:
    console = Console()
    try:
        config = EmulatorConfig(
            latency_ms=latency_ms,
            latency_per_item_ms=latency_per_item_ms,
            max_connections=max_connections,
            fault_rate=fault_rate,
            seed=seed,
            state_file=state,
            public_url=public_url,
        )
        app = create_app(config)
    except (ValueError, OSError) as exc:
        console.print(f"[red]chimplink emulator: {exc}[/red]")
        raise typer.Exit(2) from None
    base = public_url or f"http://{host}:{port}"
    if seed_demo:
        asyncio.run(seed_demo_data(app, base, console))
    console.print(f"Mailchimp emulator on [bold]{base}[/bold]")
    console.print(f"  API (single host):  {base}/3.0/")
    console.print(f"  OAuth:              {base}/oauth2/authorize")
    console.print(f"  Control plane:      {base}/_emulator/  (see README)")
    console.print(f"  Browse its state:   {base}/_emulator/ui")
    console.print("Press Ctrl-C to stop.")
    quiet_injected_resets()
    # Everything built so far lives as long as the process: keep it out of the
    # collector's full passes, which otherwise stall the loop longer as state grows.
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level="warning", backlog=2048)


async def seed_demo_data(
    app: object,
    base: str,
    console: Console,
    *,
    redirect_uri: str = "http://127.0.0.1:8000/oauth/callback",
) -> None:
    """A demo account with an audience, and the OAuth app `chimplink serve` uses in the demo."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url=base) as client:
        account = (
            await client.post(
                "/_emulator/accounts",
                json={"account_name": "Demo Bakery", "email": "owner@demo-bakery.example"},
            )
        ).json()
        await client.post(
            "/_emulator/oauth-clients",
            json={
                "client_id": DEMO_CLIENT_ID,
                "client_secret": DEMO_CLIENT_SECRET,
                "redirect_uris": [redirect_uri],
            },
        )
        headers = {"Authorization": f"Bearer {account['access_token']}"}
        created = await client.post(
            "/3.0/lists",
            headers=headers,
            json={
                "name": "Demo Bakery customers",
                "permission_reminder": "You bought bread from us.",
                "email_type_option": False,
                "contact": {
                    "company": "Demo Bakery",
                    "address1": "1 Crumb Street",
                    "city": "Atlanta",
                    "state": "GA",
                    "zip": "30308",
                    "country": "US",
                },
                "campaign_defaults": {
                    "from_name": "Demo Bakery",
                    "from_email": "hello@demo-bakery.example",
                    "subject": "Fresh bread",
                    "language": "en",
                },
            },
        )
        console.print(f"Seeded account [bold]Demo Bakery[/bold] (dc {account['dc']})")
        console.print(f"  access token: {account['access_token']}  (emulator-only)")
        if created.status_code == 200:
            console.print(f"  audience:     {created.json()['id']}")
        console.print(f"  OAuth client: {DEMO_CLIENT_ID} / {DEMO_CLIENT_SECRET}")
