"""Helpers for storage tests: a database under test, canary encodings, table scans."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chimplink.store.crypto import TokenCipher
from chimplink.store.installations import SavedInstallation, save_installation
from chimplink.store.tenants import ensure_tenant

T0 = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


@dataclass
class Db:
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @property
    def backend(self) -> str:
        return self.engine.dialect.name


async def connect(
    db: Db,
    cipher: TokenCipher,
    *,
    tenant: str = "platform-user-1",
    account_id: str = "acc-1",
    token: str = "token-1",
    email: str = "owner@example.com",
    now: datetime = T0,
) -> SavedInstallation:
    """Connect a Mailchimp account for a tenant, as the OAuth callback would."""
    async with db.sessions.begin() as session:
        found = await ensure_tenant(session=session, external_id=tenant, now=now)
        return await save_installation(
            session=session,
            cipher=cipher,
            tenant_id=found.id,
            account_id=account_id,
            login_id=f"login-{account_id}",
            login_email=email,
            account_name=f"Account {account_id}",
            dc="us6",
            api_base="https://us6.api.mailchimp.com",
            access_token=token,
            now=now,
        )


def encodings(secret: str) -> list[bytes]:
    """The forms a leaked secret could take: raw, base64 (any alignment), hex, URL-encoded."""
    raw = secret.encode()
    forms = {raw, raw.hex().encode(), raw.hex().upper().encode()}
    for quoted in (
        urllib.parse.quote(secret),
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
    ):
        forms.add(quoted.encode())
        forms.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quoted).encode())
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for offset in range(3):
            encoded = encode(b"\x00" * offset + raw)
            # Drop the characters that depend on the neighbouring bytes.
            start = (8 * offset + 5) // 6
            core = encoded[start : len(encoded) - 4].rstrip(b"=")
            if len(core) >= 12:
                forms.add(core)
    return sorted(forms)


def leaks(haystack: bytes, secret: str) -> list[bytes]:
    return [form for form in encodings(secret) if form in haystack]


async def dump_tables(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table in the database (whatever the models say)."""
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        dump: dict[str, list[dict[str, Any]]] = {}
        for name in names:
            if name == "alembic_version":
                continue
            result = await connection.execute(text(f'SELECT * FROM "{name}"'))
            dump[name] = [dict(row._mapping) for row in result]
        return dump


def tables_mentioning(dump: dict[str, list[dict[str, Any]]], needle: str) -> dict[str, int]:
    """How many rows of each table contain `needle` (case-insensitive) in any column."""
    needle = needle.lower()
    hits: dict[str, int] = {}
    for name, rows in dump.items():
        for row in rows:
            if needle in json.dumps(row, default=str).lower():
                hits[name] = hits.get(name, 0) + 1
    return hits
