"""The audit log refuses personal data; URLs get the right async driver; times are UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from chimplink.store.audit import AuditEvent, list_audit, record_audit
from chimplink.store.db import async_url, sync_url
from chimplink.store.tenants import ensure_tenant
from tests.store.helpers import T0, Db


async def test_audit_entries_newest_first_and_filtered(db: Db) -> None:
    async with db.sessions.begin() as session:
        for minutes, event in enumerate(
            (AuditEvent.CONNECTED, AuditEvent.KEYS_ROTATED, AuditEvent.UNINSTALLED)
        ):
            await record_audit(
                session=session,
                event=event,
                tenant_id="t1" if event is not AuditEvent.KEYS_ROTATED else None,
                installation_id="i1" if event is not AuditEvent.KEYS_ROTATED else None,
                details={"count": minutes, "ok": True, "note": None},
                now=T0 + timedelta(minutes=minutes),
            )
    async with db.sessions() as session:
        everything = await list_audit(session=session)
        assert [e.event for e in everything] == ["uninstalled", "keys_rotated", "connected"]
        assert everything[0].details == {"count": 2, "ok": True, "note": None}
        assert everything[0].at == T0 + timedelta(minutes=2)
        assert [e.event for e in await list_audit(session=session, tenant_id="t1", limit=1)] == [
            "uninstalled"
        ]


@pytest.mark.parametrize(
    "details",
    [
        {"who": "someone@example.com"},
        {"who": "someone%40example.com"},
        {"nested": {"email": "x"}},
        {"items": ["a"]},
    ],
)
async def test_audit_refuses_pii_and_structures(db: Db, details: dict[str, object]) -> None:
    async with db.sessions.begin() as session:
        with pytest.raises(ValueError, match="audit detail"):
            await record_audit(session=session, event=AuditEvent.CONNECTED, details=details)


async def test_times_are_aware_utc_and_naive_times_are_refused(db: Db) -> None:
    plus_two = timezone(timedelta(hours=2))
    async with db.sessions.begin() as session:
        tenant = await ensure_tenant(
            session=session, external_id="u", now=datetime(2025, 1, 1, 14, 0, tzinfo=plus_two)
        )
    assert tenant.created_at == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert tenant.created_at.utcoffset() == timedelta(0)
    async with db.sessions.begin() as session:
        with pytest.raises(ValueError, match="naive"):
            await ensure_tenant(session=session, external_id="v", now=datetime(2025, 1, 1))


@pytest.mark.parametrize(
    ("given", "asynchronous", "blocking"),
    [
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db", "sqlite+pysqlite:///./x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db", "sqlite+pysqlite:///x.db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        (
            "postgresql+asyncpg://u:p@h/db",
            "postgresql+psycopg://u:p@h/db",
            "postgresql+psycopg://u:p@h/db",
        ),
    ],
)
def test_urls_get_the_right_driver(given: str, asynchronous: str, blocking: str) -> None:
    assert async_url(given).render_as_string(hide_password=False) == asynchronous
    assert sync_url(given).render_as_string(hide_password=False) == blocking


def test_other_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database 'mysql'"):
        async_url("mysql://u@h/db")
