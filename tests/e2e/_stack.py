"""What the end-to-end tests share: the served stack and the browser.

Each test registers chimplink as an OAuth client with the served emulator,
creates the Mailchimp account it connects, serves chimplink's web app on a
real socket (uvicorn in a thread, an embedded SQLite database in tmp_path)
and drives Debian's Chromium through it (`apt-get install chromium`;
Playwright never downloads a browser here). Only the journey and what it
checks differ between the tests.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Page, sync_playwright

from chimplink.config import Settings, load_settings
from chimplink.store import TokenCipher, upgrade

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 30_000


def fresh_shots(folder: Path) -> Path:
    """`folder`, made, without the screenshots of an earlier run."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


def url(base: str, path: str) -> re.Pattern[str]:
    """The page at `base` + `path`, with or without a query string."""
    return re.compile(rf"^{re.escape(base + path)}(\?.*)?$")


def mailchimp_account(
    mc: httpx.Client,
    *,
    client_id: str,
    client_secret: str,
    public_url: str,
    account_name: str,
    email: str,
) -> dict[str, Any]:
    """Register chimplink with the emulator as an OAuth client and create the account the
    browser connects (its access token is the test's own, to look at the account)."""
    mc.post(
        "/_emulator/oauth-clients",
        json={
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uris": [f"{public_url}/oauth/callback"],
        },
    ).raise_for_status()
    account: dict[str, Any] = mc.post(
        "/_emulator/accounts", json={"account_name": account_name, "email": email}
    ).json()
    return account


def served_settings(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    *,
    public_url: str,
    emulator_url: str,
    **given: Any,
) -> Settings:
    """chimplink's settings against the served emulator, on a migrated SQLite database in
    `tmp_path`; `given` names the rest (client id and secret, platform, secrets)."""
    for name in [name for name in os.environ if name.startswith("CHIMPLINK_")]:
        monkeypatch.delenv(name)  # load_settings reads the environment too
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'chimplink.db'}"
    settings = load_settings(
        database_url=database_url,
        public_url=public_url,
        mailchimp_login_url=emulator_url,
        mailchimp_api_url=emulator_url,
        secret_keys=TokenCipher.generate_key(),
        key_file=tmp_path / "keys",
        **given,
    )
    upgrade(database_url)  # what `chimplink serve` does for an embedded SQLite
    return settings


@contextmanager
def serve_web_app(app: FastAPI, port: int) -> Iterator[None]:
    """chimplink's web app under uvicorn on 127.0.0.1:`port`, in a background thread."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_config=None,  # leave the process's logging alone
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"chimplink:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # uvicorn has no readiness event to wait on
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("chimplink's web app did not start (see the log above)")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def chromium_page(shots: Path) -> Iterator[Page]:
    """A page in headless Chromium; on a failure, `failure.png` in `shots` shows where the
    browser was."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_context().new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.set_default_navigation_timeout(TIMEOUT_MS)
            try:
                yield page
            except BaseException:
                with contextlib.suppress(Exception):  # never hide the real failure
                    page.screenshot(path=str(shots / "failure.png"), full_page=True)
                raise
        finally:
            browser.close()
