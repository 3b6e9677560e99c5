"""No secret in clear anywhere after the whole web flow; swapped ciphertexts; key rotation.

Issue 4, "Done when", end to end. `tests/store/test_secrets_at_rest.py` proves
the same properties for the storage functions with secrets the test chose;
here the secrets are the ones a real flow produces — the access token the
emulator issued at the code exchange, the signing secret it returned when
chimplink registered its webhook, the OAuth `state`, code and PKCE verifier —
and they travel through every layer: the web app, the Mailchimp client, the
store, the durable clean-up record, logging.

- Every log line is captured: chimplink's redacting handler (what an operator
  gets) at DEBUG, with SQLAlchemy statements, parameters and result rows,
  aiosqlite / psycopg, httpx and httpcore at DEBUG too; and pytest's `caplog`
  (the raw records, before any formatter).
- The database is read the way an attacker with a copy reads it: the SQLite
  file with its `-wal` / `-shm` (while the app runs and after it stopped), or
  `pg_dump` of the PostgreSQL database.
- Each is scanned for every secret in raw, base64 (every alignment), hex and
  URL-encoded forms (`tests.store.helpers.leaks`).

The account's login email is a canary too: in the database it is where it is
meant to be (`installations.login_email`) and nowhere else; in the logs it is
only ever hashed.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from chimplink.config import Settings
from chimplink.connect import run_due_cleanups, webhook_secret
from chimplink.logging import configure_logging
from chimplink.store import (
    TokenCipher,
    count_secrets_by_key,
    get_signing_secret,
    upgrade_async,
)
from chimplink.store.crypto import key_id
from chimplink.store.tables import InstallationSecretRow
from chimplink.web import create_app
from tests.store.helpers import dump_tables, leaks
from tests.web.harness import (
    CLIENT_ID,
    CLIENT_SECRET,
    Browser,
    Mailchimp,
    World,
    csrf_in,
    emulated_mailchimp,
    installations_of,
    make_settings,
    open_world,
    token_of,
)

CANARY_EMAIL = "Canary.Owner-7f3e@Canary-Bakery.example"
OTHER_EMAIL = "second.owner-2b9c@canary-florist.example"
DELETE_WEBHOOK = "DELETE /lists/{list_id}/webhooks/{webhook_id}"
CHIMPLINK = str(Path(sys.executable).with_name("chimplink"))

# Loggers that are quiet by default and would show the most if a secret reached them.
_VERBOSE_LOGGERS = {
    "sqlalchemy.engine": logging.DEBUG,  # statements, parameters and result rows
    "sqlalchemy.pool": logging.DEBUG,
    "aiosqlite": logging.DEBUG,
    "psycopg": logging.DEBUG,
    "httpx": logging.DEBUG,
    "httpcore": logging.DEBUG,
    "alembic": logging.DEBUG,
}


@dataclass
class Logs:
    stream: io.StringIO  # what chimplink's redacting handler wrote
    caplog: pytest.LogCaptureFixture  # the records themselves, before any formatter

    def handler_output(self) -> bytes:
        return self.stream.getvalue().encode()

    def raw_records(self) -> bytes:
        return "\n".join(_render_raw(record) for record in self.caplog.records).encode()

    def raw_records_of(self, prefix: str) -> bytes:
        return "\n".join(
            _render_raw(record)
            for record in self.caplog.records
            if record.name == prefix or record.name.startswith(prefix + ".")
        ).encode()


def _render_raw(record: logging.LogRecord) -> str:
    message = record.getMessage()
    extra = record.exc_text or ""
    return f"{record.name} {record.levelname} {message} {extra}"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[Logs]:
    """chimplink's logging at DEBUG, every verbose library logger on, `caplog` alongside."""
    stream = io.StringIO()
    root = logging.getLogger()
    root_level = root.level
    levels = {name: logging.getLogger(name).level for name in _VERBOSE_LOGGERS}
    configure_logging(level="DEBUG", json_output=True, stream=stream, cache_loggers=False)
    for name, level in _VERBOSE_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    caplog.set_level(logging.DEBUG)
    try:
        yield Logs(stream, caplog)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        for handler in list(root.handlers):
            if handler.get_name() == "chimplink":
                root.removeHandler(handler)
        root.setLevel(root_level)
        structlog.reset_defaults()


# -- the database as an attacker with a copy of it sees it -----------------------------


def _sqlite_files(database_url: str) -> bytes:
    path = Path(make_url(database_url).database or "")
    files = sorted(path.parent.glob(path.name + "*"))
    assert path in files
    return b"".join(p.read_bytes() for p in files)


async def _pg_dump(database_url: str) -> bytes:
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed for this test (apt-get install postgresql-client)"
    libpq_url = (
        make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    process = await asyncio.create_subprocess_exec(
        pg_dump,
        "--no-owner",
        "--dbname",
        libpq_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out


async def _at_rest(database_url: str) -> bytes:
    if database_url.startswith("sqlite"):
        return _sqlite_files(database_url)
    return await _pg_dump(database_url)


def _pg_dump_sections_with(dump: bytes, needle: str) -> list[str]:
    """The `COPY public.<table>` sections of a pg_dump whose data mentions `needle`."""
    found = []
    section = None
    for line in dump.decode().splitlines():
        if line.startswith("COPY "):
            section = line.split()[1]
        elif line == "\\.":
            section = None
        elif needle.lower() in line.lower():
            found.append(section or f"(outside the data: {line[:60]}...)")
    return found


def _columns_with(dump: dict[str, list[dict[str, Any]]], needle: str) -> list[tuple[str, str]]:
    """Every (table, column) cell of a logical dump that contains `needle`, case-insensitively."""
    needle = needle.lower()
    return [
        (table, column)
        for table, rows in dump.items()
        for row in rows
        for column, value in row.items()
        if needle in json.dumps(value, default=str).lower()
    ]


def _assert_no_leaks(haystack: bytes, secrets: dict[str, str], where: str) -> None:
    found = {name: leaks(haystack, value) for name, value in secrets.items()}
    assert {name: forms for name, forms in found.items() if forms} == {}, where


# -- the emulator's side of things ----------------------------------------------------


async def _emulator_state(mailchimp: Mailchimp) -> dict[str, Any]:
    response = await mailchimp.client.get("/_emulator/state")
    assert response.status_code == 200
    state: dict[str, Any] = response.json()
    return state


async def _issued_tokens(mailchimp: Mailchimp, account_id: str) -> list[str]:
    """The OAuth tokens the emulator issued to chimplink's client for an account."""
    tokens = (await _emulator_state(mailchimp))["tokens"]
    return [
        token
        for token, record in tokens.items()
        if record["account_id"] == account_id
        and record["kind"] == "oauth"
        and record["client_id"] == CLIENT_ID
    ]


async def _signing_secret(mailchimp: Mailchimp, account_id: str, list_id: str) -> str:
    """The signing secret the emulator returned when chimplink created its webhook."""
    account = (await _emulator_state(mailchimp))["accounts"][account_id]
    [hook] = account["stores"]["webhooks"]["webhooks"][list_id].values()
    secret: str = hook["signing_secret"]
    return secret


# -- one tenant's flow through the web app ------------------------------------------


@dataclass
class Connected:
    browser: Browser
    tenant: str
    account_id: str
    list_id: str
    installation_id: str
    api_token: str  # the test's own token for the account (control plane), not chimplink's
    chimplink_token: str  # the canary: what the emulator issued at the code exchange
    signing_secret: str
    flow: dict[str, str]  # the OAuth state, the code and the PKCE verifier of the connect


async def _connect_and_choose(world: World, tenant: str, name: str, email: str) -> Connected:
    mailchimp = world.mailchimp
    account = await mailchimp.account(name, email)
    list_id = await mailchimp.create_list(account["access_token"], f"{name} customers")
    browser = world.browser()
    await browser.enter(tenant, "Ann Platform")
    # Connect → consent at Mailchimp → the callback, keeping the flow's one-time secrets.
    started = await browser.get("/connect")
    assert started.status_code == 303
    mark = world.transport.mark()
    callback_url = httpx.URL(await world.consent(started.headers["location"], email))
    callback = await browser.get(str(callback_url))
    assert callback.status_code == 303, callback.text
    [token_request] = [s for s in world.transport.since(mark) if s.path == "/oauth2/token"]
    flow = {
        "OAuth state": httpx.URL(started.headers["location"]).params["state"],
        "authorization code": callback_url.params["code"],
        "PKCE code verifier": token_request.form()["code_verifier"],
    }
    [installation] = await installations_of(world, tenant)

    page = await browser.get(f"/installations/{installation.id}/audiences")
    assert page.status_code == 200 and f"{name} customers" in page.text
    chosen = await browser.post(
        f"/installations/{installation.id}/audiences",
        data={"csrf_token": csrf_in(page), "list_id": list_id},
    )
    assert chosen.status_code == 303, chosen.text
    assert len(await mailchimp.webhooks(account["access_token"], list_id)) == 1
    home = await browser.get("/")  # shows (and so consumes) the "now follows" message
    assert f"now follows the audience {name} customers" in home.text

    [issued] = await _issued_tokens(mailchimp, account["account_id"])
    assert await token_of(world, installation.id) == issued  # chimplink stored that token
    signing = await _signing_secret(mailchimp, account["account_id"], list_id)
    async with world.services.sessions() as session:
        stored = await get_signing_secret(
            session=session, cipher=world.services.cipher, installation_id=installation.id
        )
    assert stored is not None and stored.get_secret_value() == signing
    return Connected(
        browser=browser,
        tenant=tenant,
        account_id=account["account_id"],
        list_id=list_id,
        installation_id=installation.id,
        api_token=account["access_token"],
        chimplink_token=issued,
        signing_secret=signing,
        flow=flow,
    )


async def _uninstall(connected: Connected) -> str:
    browser, installation_id = connected.browser, connected.installation_id
    confirm = await browser.get(f"/installations/{installation_id}/uninstall")
    assert confirm.status_code == 200
    done = await browser.post(
        f"/installations/{installation_id}/uninstall", data={"csrf_token": csrf_in(confirm)}
    )
    assert done.status_code == 303, done.text
    page = await browser.get("/disconnected")
    assert page.status_code == 200
    return page.text


def _configuration_secrets(settings: Settings) -> dict[str, str]:
    assert settings.secret_keys is not None
    assert settings.session_secret is not None
    assert settings.platform_secret is not None
    keys = settings.secret_keys.get_secret_value().split(",")
    return {
        "client secret": CLIENT_SECRET,
        "session secret": settings.session_secret.get_secret_value(),
        "platform secret": settings.platform_secret.get_secret_value(),
        **{f"encryption key {n}": key for n, key in enumerate(keys)},
    }


# -- no token in plaintext anywhere ---------------------------------------------------


async def test_no_secret_in_clear_in_the_database_or_any_log_after_the_whole_flow(
    database_url: str, logs: Logs
) -> None:
    async with open_world(database_url) as world:
        one = await _connect_and_choose(world, "tenant-canary", "Canary Bakery", CANARY_EMAIL)
        two = await _connect_and_choose(world, "tenant-other", "Other Florist", OTHER_EMAIL)
        # Authenticated calls after the fact: the home page, the audience page (reads the token).
        assert (await one.browser.get("/")).status_code == 200
        assert (await one.browser.get(f"/installations/{one.installation_id}/audiences")).is_success

        # The second one is disconnected while Mailchimp fails: its token now lives on,
        # encrypted, in the durable clean-up record until the remote clean-up is done.
        await world.mailchimp.script_fault(DELETE_WEBHOOK, "503")
        assert 'id="cleanup-pending"' in await _uninstall(two)
        assert len(await world.mailchimp.webhooks(two.api_token, two.list_id)) == 1

        # Every secret the flow produced, and the configuration's own.
        secrets = {
            "access token (connected)": one.chimplink_token,
            "access token (clean-up pending)": two.chimplink_token,
            "signing secret (connected)": one.signing_secret,
            "signing secret (uninstalled)": two.signing_secret,
            **{f"{name} (connected)": value for name, value in one.flow.items()},
            **{f"{name} (uninstalled)": value for name, value in two.flow.items()},
            **_configuration_secrets(world.settings),
        }
        assert len(secrets) == 4 + 2 * 3 + 4  # tokens, signing secrets, flows, configuration
        path_secrets = {
            f"webhook path secret {n}": webhook_secret(
                world.services.webhook_key, c.installation_id
            )
            for n, c in enumerate((one, two))
        }

        running = await _at_rest(database_url)  # SQLite: the file, its WAL and shm, live
        tables = await dump_tables(world.services.engine)
        assert len(tables["pending_cleanups"]) == 1

    stopped = await _at_rest(database_url)  # after the engine is gone (WAL checkpointed)
    for name, snapshot in (("while running", running), ("after stopping", stopped)):
        assert b"gAAAAA" in snapshot, name  # the ciphertexts are there, so this is the data
        _assert_no_leaks(snapshot, {**secrets, **path_secrets}, f"database {name}")
    _assert_no_leaks(repr(tables).encode(), {**secrets, **path_secrets}, "table rows")

    # The email: in installations.login_email of its installation, nowhere else.
    assert _columns_with(tables, CANARY_EMAIL) == [("installations", "login_email")]
    [row] = [r for r in tables["installations"] if r["id"] == one.installation_id]
    assert row["login_email"] == CANARY_EMAIL
    assert _columns_with(tables, OTHER_EMAIL) == []  # uninstalled: gone
    if not database_url.startswith("sqlite"):
        assert _pg_dump_sections_with(stopped, CANARY_EMAIL) == ["public.installations"]
        assert _pg_dump_sections_with(stopped, OTHER_EMAIL) == []

    # chimplink's log output: nothing, in any form; email addresses only hashed.
    handled = logs.handler_output()
    assert b"INSERT INTO installation_secrets" in handled  # SQL with parameters was logged
    assert b"HTTP Request: POST http://mailchimp.test/oauth2/token" in handled
    assert b"connect.connected" in handled and b"connect.uninstalled" in handled
    _assert_no_leaks(handled, {**secrets, **path_secrets}, "chimplink's log output")
    for email in (CANARY_EMAIL, OTHER_EMAIL):
        assert leaks(handled, email) == [], email
        assert leaks(handled, email.lower()) == [], email
    # It was logged (the INSERT's parameters, next to the account id), hashed.
    assert re.search(rf"{one.account_id}'[^\n]*email:[0-9a-f]{{12}}".encode(), handled)

    # The raw records, before any formatter (what any other handler would get). The
    # browser's and the emulator's own httpx lines carry the callback's code and state and
    # the webhook URL (a browser history, Mailchimp's side): those are checked above only.
    raw = logs.raw_records()
    assert b"INSERT INTO installation_secrets" in raw
    never_logged = {
        name: value
        for name, value in secrets.items()
        if not name.startswith(("authorization code", "OAuth state"))
    }
    _assert_no_leaks(raw, never_logged, "raw log records")
    ours = logs.raw_records_of("chimplink")
    assert b"connect.connected" in ours
    _assert_no_leaks(ours, {**secrets, **path_secrets}, "chimplink's raw records")
    for email in (CANARY_EMAIL, OTHER_EMAIL):
        assert leaks(ours, email) == [], email


# -- swapped ciphertexts ---------------------------------------------------------------


async def test_swapping_two_tenants_ciphertexts_fails_decryption_without_a_call(
    database_url: str,
) -> None:
    async with open_world(database_url) as world:
        one = await _connect_and_choose(world, "tenant-one", "Canary Bakery", CANARY_EMAIL)
        two = await _connect_and_choose(world, "tenant-two", "Other Florist", OTHER_EMAIL)
        async with world.services.sessions.begin() as session:
            rows = {
                row.installation_id: row.token_ciphertext
                for row in (await session.execute(select(InstallationSecretRow))).scalars()
            }
            for target, source in ((one, two), (two, one)):
                await session.execute(
                    update(InstallationSecretRow)
                    .where(InstallationSecretRow.installation_id == target.installation_id)
                    .values(token_ciphertext=rows[source.installation_id])
                )

        mark = world.transport.mark()
        for connected in (one, two):
            page = await connected.browser.get(
                f"/installations/{connected.installation_id}/audiences"
            )
            assert page.status_code == 409, page.text
            assert "Reconnect your Mailchimp account" in page.text
            assert "customers" not in page.text  # no audience of either account is shown
        # Neither token was sent anywhere: decryption failed before any request.
        assert world.transport.since(mark) == []


# -- rotation, then removal of the old key --------------------------------------------


@asynccontextmanager
async def _running(settings: Settings, mailchimp: Mailchimp) -> AsyncIterator[World]:
    """chimplink's web app (a fresh process, as far as it knows) against the same emulator."""
    app = create_app(settings, mailchimp_transport=mailchimp.transport, run_jobs=False)
    mailchimp.webhook_target.app = app
    world = World(settings, mailchimp, app)
    async with app.router.lifespan_context(app):
        try:
            yield world
        finally:
            for client in world.browsers:
                await client.aclose()


async def _keys_rotate(database_url: str, keys: list[str], session_secret: str) -> str:
    """`chimplink keys rotate`, run as an operator runs it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CHIMPLINK_")}
    process = await asyncio.create_subprocess_exec(
        CHIMPLINK,
        "keys",
        "rotate",
        env={
            **environment,
            "CHIMPLINK_DATABASE_URL": database_url,
            "CHIMPLINK_SECRET_KEYS": ",".join(keys),
            "CHIMPLINK_SESSION_SECRET": session_secret,
            "COLUMNS": "200",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()
    return out.decode()


async def test_after_keys_rotate_and_old_key_removal_every_installation_still_works(
    database_url: str,
) -> None:
    old_key, new_key = TokenCipher.generate_key(), TokenCipher.generate_key()
    await upgrade_async(database_url)
    async with emulated_mailchimp() as mailchimp:
        before = make_settings(database_url, secret_keys=old_key)
        assert before.session_secret is not None and before.platform_secret is not None
        session_secret = before.session_secret.get_secret_value()
        async with _running(before, mailchimp) as world:
            one = await _connect_and_choose(world, "tenant-one", "Canary Bakery", CANARY_EMAIL)
            two = await _connect_and_choose(world, "tenant-two", "Other Florist", OTHER_EMAIL)
            three = await _connect_and_choose(world, "tenant-three", "Third Shop", "c@3.example")
            # The third is disconnected while Mailchimp fails: its clean-up waits, with its
            # token encrypted under the old key.
            await mailchimp.script_fault(DELETE_WEBHOOK, "503")
            assert 'id="cleanup-pending"' in await _uninstall(three)

        report = await _keys_rotate(database_url, [new_key, old_key], session_secret)
        assert "Every stored secret uses key" in " ".join(report.split())

        # Restart with the new key only (the old one is removed from the configuration).
        after = make_settings(
            database_url,
            secret_keys=new_key,
            session_secret=session_secret,  # webhook URLs derive from it: unchanged
            platform_secret=before.platform_secret.get_secret_value(),
        )
        async with _running(after, mailchimp) as world:
            for connected in (one, two):
                browser = world.browser()
                await browser.enter(connected.tenant)
                home = await browser.get("/")
                assert f'data-installation-id="{connected.installation_id}"' in home.text
                assert 'data-status="active"' in home.text
                # The audience page reads the token and calls Mailchimp with it.
                mark = world.transport.mark()
                page = await browser.get(f"/installations/{connected.installation_id}/audiences")
                assert page.status_code == 200, page.text
                assert f'id="audience-{connected.list_id}"' in page.text
                sent = world.transport.since(mark)
                assert sent and all(
                    s.headers["authorization"].endswith(connected.chimplink_token) for s in sent
                )
                connected.browser = browser

            async with world.services.sessions() as session:
                assert set(await count_secrets_by_key(session=session)) == {key_id(new_key)}
                for connected in (one, two):
                    signing = await get_signing_secret(
                        session=session,
                        cipher=world.services.cipher,
                        installation_id=connected.installation_id,
                    )
                    assert signing is not None
                    assert signing.get_secret_value() == connected.signing_secret

            # The pending clean-up decrypts its token with the new key and finishes.
            report_run = await run_due_cleanups(world.services)
            assert report_run.completed == 1
            assert await mailchimp.webhooks(three.api_token, three.list_id) == []

            # Uninstalling needs the token too: the webhook goes, with the new key alone.
            assert 'id="cleanup-done"' in await _uninstall(one)
            assert await mailchimp.webhooks(one.api_token, one.list_id) == []

        # The old key alone can no longer read what is left: it really was re-encrypted.
        stale = make_settings(
            database_url,
            secret_keys=old_key,
            session_secret=session_secret,
            platform_secret=before.platform_secret.get_secret_value(),
        )
        async with _running(stale, mailchimp) as world:
            browser = world.browser()
            await browser.enter(two.tenant)
            mark = world.transport.mark()
            page = await browser.get(f"/installations/{two.installation_id}/audiences")
            assert page.status_code == 409
            assert world.transport.since(mark) == []
