"""`chimplink push-key` on SQLite and PostgreSQL: keys shown once and kept as digests,
revocation, the webhook endpoint checked before anything is stored."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from chimplink.cli import push as push_cli
from chimplink.store.crypto import TokenCipher
from chimplink.store.db import make_engine, make_session_factory
from chimplink.store.migrate import upgrade
from chimplink.store.push import authenticate_push_key, get_push_webhook
from chimplink.store.push_outbox import (
    claim_push_deliveries,
    enqueue_push_delivery,
    kill_push_delivery,
)
from chimplink.store.tables import PushTenantRow
from chimplink.store.tenants import get_tenant_by_external_id
from tests.store.helpers import dump_tables, leaks

app = typer.Typer()
app.add_typer(push_cli.app, name="push-key")
runner = CliRunner()
KEY = TokenCipher.generate_key()
T = TypeVar("T")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("CHIMPLINK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def url(database_url: str) -> str:
    upgrade(database_url)
    return database_url


def push_key(url: str, *args: str) -> tuple[int, str, str]:
    """Run `chimplink push-key ...`; exit code, the output's last line, all of it (one line)."""
    result = runner.invoke(
        app,
        ["push-key", *args, "--database-url", url],
        env={"CHIMPLINK_SECRET_KEYS": KEY, "CHIMPLINK_SESSION_SECRET": "s" * 40},
    )
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    return result.exit_code, lines[-1] if lines else "", " ".join(result.output.split())


def on_db(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = make_engine(url)
        try:
            async with make_session_factory(engine).begin() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_a_key_is_shown_once_then_works_until_revoked(url: str) -> None:
    code, key, output = push_key(url, "create", "--tenant", "shop-1", "--name", "backend")
    assert code == 0, output
    assert key.startswith("clk_") and "shown once" in output

    found = on_db(url, lambda session: authenticate_push_key(session=session, key=key))
    assert found is not None
    dump = repr(asyncio.run(_dump(url))).encode()
    assert leaks(dump, key) == []

    code, _, listed = push_key(url, "list", "--tenant", "shop-1")
    assert code == 0 and found.id in listed and f"{found.prefix}…" in listed
    assert key not in listed and "backend" in listed and "active" in listed

    code, _, output = push_key(url, "revoke", found.prefix + "…", "--tenant", "shop-1")
    assert code == 0 and "is revoked" in output, output
    assert on_db(url, lambda session: authenticate_push_key(session=session, key=key)) is None
    assert "revoked" in push_key(url, "list", "--tenant", "shop-1")[2]


async def _dump(url: str) -> object:
    engine = make_engine(url)
    try:
        return await dump_tables(engine)
    finally:
        await engine.dispose()


def test_unknown_tenants_and_keys_are_refused(url: str) -> None:
    code, _, output = push_key(url, "list", "--tenant", "nobody")
    assert code == 1 and "no tenant 'nobody'" in output
    push_key(url, "create", "--tenant", "shop-1")
    _, theirs, _ = push_key(url, "create", "--tenant", "shop-2")
    found = on_db(url, lambda session: authenticate_push_key(session=session, key=theirs))
    assert found is not None

    # Another tenant's key is not found by id, so it stays valid.
    code, _, output = push_key(url, "revoke", found.id, "--tenant", "shop-1")
    assert code == 1 and f"has no key '{found.id}'" in output
    assert on_db(url, lambda session: authenticate_push_key(session=session, key=theirs))
    code, _, output = push_key(url, "revoke", "not-a-key", "--tenant", "shop-1")
    assert code == 1 and "has no key 'not-a-key'" in output

    code, _, output = push_key(url, "create", "--tenant", " ")
    assert code == 2 and "--tenant must be 1 to 255 characters" in output
    code, _, output = push_key(url, "create", "--tenant", "shop-1", "--name", "n" * 101)
    assert code == 2 and "at most 100" in output


def test_the_webhook_endpoint_is_checked_then_stored_with_an_encrypted_secret(url: str) -> None:
    for bad, reason in (
        ("http://shop.example/hooks", "must use https"),
        ("https://user:pw@shop.example/hooks", "user name or password"),
        ("not a url", "spaces"),
    ):
        code, _, output = push_key(url, "webhook", "--tenant", "shop-1", "--url", bad)
        assert code == 2 and reason in output, output
    assert on_db(url, _endpoint_rows) == 0
    assert on_db(url, lambda s: get_tenant_by_external_id(session=s, external_id="shop-1")) is None

    code, secret, output = push_key(
        url, "webhook", "--tenant", "shop-1", "--url", "https://shop.example/hooks"
    )
    assert code == 0 and secret.startswith("whsec_") and "shown once" in output, output
    assert leaks(repr(asyncio.run(_dump(url))).encode(), secret) == []
    assert _stored_secret(url, "shop-1") == secret

    code, last, output = push_key(
        url, "webhook", "--tenant", "shop-1", "--url", "https://shop.example/v2"
    )
    assert code == 0 and "secret is unchanged" in output and not last.startswith("whsec_")
    assert _stored_secret(url, "shop-1") == secret

    code, rotated, _ = push_key(
        url, "webhook", "--tenant", "shop-1", "--url", "https://shop.example/v2", "--new-secret"
    )
    assert code == 0 and rotated.startswith("whsec_") and rotated != secret

    for args in (
        (),
        ("--url", "https://shop.example/v2", "--remove"),
        ("--remove", "--new-secret"),
    ):
        code, _, _ = push_key(url, "webhook", "--tenant", "shop-1", *args)
        assert code == 2
    code, _, output = push_key(url, "webhook", "--tenant", "shop-1", "--remove")
    assert code == 0 and "removed" in output
    assert _stored_secret(url, "shop-1") is None
    code, _, output = push_key(url, "webhook", "--tenant", "shop-1", "--remove")
    assert code == 0 and "had no webhook endpoint" in output


async def _endpoint_rows(session: AsyncSession) -> int:
    rows = await session.execute(
        select(PushTenantRow).where(PushTenantRow.webhook_url.is_not(None))
    )
    return len(rows.all())


def _stored_secret(url: str, tenant: str) -> str | None:
    async def read(session: AsyncSession) -> str | None:
        found = await get_tenant_by_external_id(session=session, external_id=tenant)
        assert found is not None
        endpoint = await get_push_webhook(
            session=session, cipher=TokenCipher([KEY]), tenant_id=found.id
        )
        return endpoint.secret.get_secret_value() if endpoint else None

    return on_db(url, read)


def test_deliveries_lists_the_outbox(url: str) -> None:
    push_key(url, "webhook", "--tenant", "shop-1", "--url", "https://shop.example/hooks")

    async def given_up(session: AsyncSession) -> None:
        tenant = await get_tenant_by_external_id(session=session, external_id="shop-1")
        assert tenant is not None
        for message_id in ("msg_given_up", "msg_waiting"):
            await enqueue_push_delivery(
                session=session,
                tenant_id=tenant.id,
                message_id=message_id,
                event_type="contact.consent_withdrawn",
                payload="{}",
            )
        [claimed, _] = await claim_push_deliveries(session=session)
        await kill_push_delivery(session=session, delivery=claimed, error="HTTP 500, 10 times")

    on_db(url, given_up)
    code, _, output = push_key(url, "deliveries", "--tenant", "shop-1")
    assert code == 0, output
    assert "Endpoint: https://shop.example/hooks" in output
    assert "pending: 1, delivered: 0, dead: 1" in output
    assert "msg_given_up contact.consent_withdrawn dead attempts 1" in output
    assert "HTTP 500, 10 times" in output
    code, _, output = push_key(url, "deliveries", "--tenant", "shop-1", "--status", "pending")
    assert "msg_waiting" in output and "msg_given_up" not in output


def test_an_unmigrated_database_is_refused(database_url: str) -> None:
    code, _, output = push_key(database_url, "create", "--tenant", "shop-1")
    assert code == 1 and "chimplink db upgrade" in output
