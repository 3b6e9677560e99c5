"""Push connector tests: chimplink's own database (SQLite and PostgreSQL), a tenant with
declared fields, a connector on it, and a clock the tests move."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from chimplink.platforms.push import PushConnector
from chimplink.store.crypto import TokenCipher
from chimplink.store.push import (
    PushContactInput,
    PushField,
    UpsertStatus,
    set_push_fields,
    upsert_push_contacts,
)
from chimplink.store.tenants import ensure_tenant
from tests.store.conftest import cipher, database_url, db, postgres_admin
from tests.store.helpers import T0, Db

__all__ = ["cipher", "database_url", "db", "postgres_admin"]

FIELDS = [
    PushField("first_name", "text", "First name"),
    PushField("score", "number", "Score"),
    PushField("birthday", "birthday", "Birthday"),
]


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Platform:
    """One tenant's push data, and the connector chimplink reads it through."""

    db: Db
    cipher: TokenCipher
    tenant_id: str
    clock: Clock
    connector: PushConnector = field(init=False)

    def __post_init__(self) -> None:
        self.connector = PushConnector(
            sessions=self.db.sessions, tenant_id=self.tenant_id, clock=self.clock
        )

    async def push(self, *contacts: PushContactInput) -> list[UpsertStatus]:
        async with self.db.sessions.begin() as session:
            return await upsert_push_contacts(
                session=session, tenant_id=self.tenant_id, contacts=contacts, now=self.clock()
            )


def person(key: str, email: str | None = None, **values: Any) -> PushContactInput:
    consent = values.pop("consent", "granted")
    labels = values.pop("labels", ())
    return PushContactInput(
        key=key,
        email=email or f"person.{key}@example.org",
        consent=consent,
        fields=values,
        labels=labels,
    )


async def new_platform(db: Db, cipher: TokenCipher, tenant: str = "shop-1") -> Platform:
    async with db.sessions.begin() as session:
        found = await ensure_tenant(session=session, external_id=tenant, now=T0)
        await set_push_fields(session=session, tenant_id=found.id, fields=FIELDS, now=T0)
    return Platform(db=db, cipher=cipher, tenant_id=found.id, clock=Clock())


@pytest.fixture
async def platform(db: Db, cipher: TokenCipher) -> Platform:
    return await new_platform(db, cipher)
