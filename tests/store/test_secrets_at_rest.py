"""No token in clear at rest or in logs; swapped ciphertexts fail; rotation then key removal.

Issue 4, "Done when": the SQLite file and a PostgreSQL `pg_dump`, and the
captured logs, hold no canary secret in raw, base64, hex or URL-encoded form.
"""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import structlog
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from chimplink.logging import configure_logging
from chimplink.store.cleanup import claim_due_cleanups
from chimplink.store.crypto import DecryptionError, TokenCipher, key_id
from chimplink.store.installations import (
    get_access_token,
    get_signing_secret,
    set_signing_secret,
)
from chimplink.store.oauth_states import consume_oauth_state, issue_oauth_state
from chimplink.store.remote_webhooks import record_remote_webhook
from chimplink.store.rotation import count_secrets_by_key, rotate_secrets
from chimplink.store.tables import InstallationSecretRow
from chimplink.store.tenants import ensure_tenant
from chimplink.store.uninstall import purge_installation
from tests.store.helpers import T0, Db, connect, leaks

CANARY_TOKEN = "3f9c2a7b5e1d4c8a9b0e6f2d1c3b5a7e-us6"
CANARY_ODD = "canary+Tok/en=with?odd&chars"
CANARY_SIGNING = "whsec_canary_0a1b2c3d4e5f60718293"


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Our logging pipeline, with SQLAlchemy logging every statement and its parameters."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    configure_logging(level="DEBUG", json_output=True, stream=stream, cache_loggers=False)
    engine_logger = logging.getLogger("sqlalchemy.engine")
    engine_logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        engine_logger.setLevel(logging.WARNING)
        for handler in list(root.handlers):
            if handler.get_name() == "chimplink":
                root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()


async def _store_canaries(db: Db, cipher: TokenCipher) -> tuple[str, str]:
    one = (
        await connect(db, cipher, tenant="alice", account_id="a", token=CANARY_TOKEN)
    ).installation
    two = (await connect(db, cipher, tenant="bob", account_id="b", token=CANARY_ODD)).installation
    async with db.sessions.begin() as session:
        await set_signing_secret(
            session=session, cipher=cipher, installation_id=one.id, signing_secret=CANARY_SIGNING
        )
    return one.id, two.id


async def _at_rest(db: Db) -> bytes:
    """The database as an attacker with a copy of it sees it."""
    if db.backend == "sqlite":
        await db.engine.dispose()  # checkpoint the WAL into the file
        path = Path(make_url(db.url).database or "")
        return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed for this test (apt-get install postgresql-client)"
    libpq_url = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
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


async def test_no_secret_in_clear_in_the_database_or_the_logs(
    db: Db, cipher: TokenCipher, captured_logs: io.StringIO
) -> None:
    one, _ = await _store_canaries(db, cipher)
    async with db.sessions.begin() as session:
        tenant = await ensure_tenant(session=session, external_id="alice")
        issued = await issue_oauth_state(
            session=session, cipher=cipher, tenant_id=tenant.id, session_binding="cookie-id", now=T0
        )
        await record_remote_webhook(
            session=session, installation_id=one, list_id="l1", webhook_id="w1"
        )
    async with db.sessions() as session:  # reading them back logs the rows too
        assert (
            await get_access_token(session=session, cipher=cipher, installation_id=one)
        ).get_secret_value() == CANARY_TOKEN
    async with db.sessions.begin() as session:
        await purge_installation(session=session, cipher=cipher, installation_id=one, now=T0)

    snapshot = await _at_rest(db)
    logs = captured_logs.getvalue().encode()
    assert (
        b"token_ciphertext" in logs or b"INSERT INTO installation_secrets" in logs
    )  # logs captured
    assert b"gAAAAA" in snapshot  # ciphertexts are there
    for canary in (
        CANARY_TOKEN,
        CANARY_ODD,
        CANARY_SIGNING,
        issued.state,
        issued.code_verifier.get_secret_value(),
    ):
        assert leaks(snapshot, canary) == [], canary
        assert leaks(logs, canary) == [], canary


async def test_swapped_ciphertexts_fail_decryption(db: Db, cipher: TokenCipher) -> None:
    one, two = await _store_canaries(db, cipher)
    async with db.sessions.begin() as session:
        rows = {
            row.installation_id: row.token_ciphertext
            for row in (await session.execute(select(InstallationSecretRow))).scalars()
        }
        for target, source in ((one, two), (two, one)):
            await session.execute(
                update(InstallationSecretRow)
                .where(InstallationSecretRow.installation_id == target)
                .values(token_ciphertext=rows[source])
            )
    async with db.sessions() as session:
        for installation_id in (one, two):
            with pytest.raises(DecryptionError, match="another record"):
                await get_access_token(
                    session=session, cipher=cipher, installation_id=installation_id
                )


async def test_rotation_then_old_key_removal_keeps_everything_readable(db: Db) -> None:
    old_key, new_key = TokenCipher.generate_key(), TokenCipher.generate_key()
    old = TokenCipher([old_key])
    one, two = await _store_canaries(db, old)
    async with db.sessions.begin() as session:
        tenant = await ensure_tenant(session=session, external_id="carol")
        issued = await issue_oauth_state(
            session=session, cipher=old, tenant_id=tenant.id, session_binding="cookie", now=T0
        )
    three = (
        await connect(db, old, tenant="carol", account_id="c", token="third-token")
    ).installation.id
    async with db.sessions.begin() as session:
        await record_remote_webhook(
            session=session, installation_id=three, list_id="l", webhook_id="w"
        )
        await purge_installation(session=session, cipher=old, installation_id=three, now=T0)

    both = TokenCipher([new_key, old_key])
    async with db.sessions.begin() as session:
        report = await rotate_secrets(session=session, cipher=both, batch_size=1)
    assert report.rotated == {
        "access tokens": 2,
        "webhook signing secrets": 1,
        "pending clean-up tokens": 1,
        "OAuth code verifiers": 1,
    }
    assert report.total_failed == 0
    async with db.sessions() as session:
        assert await count_secrets_by_key(session=session) == {key_id(new_key): 5}

    # A second run has nothing left to do.
    async with db.sessions.begin() as session:
        again = await rotate_secrets(session=session, cipher=both)
    assert sum(again.rotated.values()) == 0 and sum(again.current.values()) == 5

    new_only = TokenCipher([new_key])
    async with db.sessions.begin() as session:
        for installation_id, token in ((one, CANARY_TOKEN), (two, CANARY_ODD)):
            found = await get_access_token(
                session=session, cipher=new_only, installation_id=installation_id
            )
            assert found.get_secret_value() == token
        signing = await get_signing_secret(session=session, cipher=new_only, installation_id=one)
        assert signing is not None and signing.get_secret_value() == CANARY_SIGNING
        (cleanup,) = await claim_due_cleanups(session=session, cipher=new_only, now=T0)
        assert cleanup.access_token.get_secret_value() == "third-token"
        consumed = await consume_oauth_state(
            session=session,
            cipher=new_only,
            state=issued.state,
            session_binding="cookie",
            now=T0 + timedelta(minutes=1),
        )
        assert consumed.code_verifier == issued.code_verifier
    async with db.sessions() as session:
        with pytest.raises(DecryptionError):
            await get_access_token(session=session, cipher=old, installation_id=one)


async def test_rotation_reports_secrets_it_cannot_read(db: Db, cipher: TokenCipher) -> None:
    await _store_canaries(db, cipher)
    stranger = TokenCipher([TokenCipher.generate_key()])
    async with db.sessions.begin() as session:
        report = await rotate_secrets(session=session, cipher=stranger)
    assert report.failed == {"access tokens": 2, "webhook signing secrets": 1}
    assert sum(report.rotated.values()) == 0
    async with db.sessions() as session:
        assert set(await count_secrets_by_key(session=session)) == {cipher.current_key_id}
