"""Engines and sessions for SQLite (aiosqlite, embedded) and PostgreSQL (psycopg 3).

Build one engine per process at an entry point (CLI command, ASGI lifespan)
and pass the session factory down; nothing here is module-level state.

Repository functions flush but never commit: run them inside a transaction,
`async with sessions.begin() as session: ...`, so that one request or one job
step is one transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

__all__ = ["async_url", "make_engine", "make_session_factory", "sync_url"]

_SQLITE_PRAGMAS = (
    # SQLite ignores foreign keys (and so ON DELETE CASCADE) unless asked, per connection.
    "PRAGMA foreign_keys=ON",
    # Readers do not block the writer and vice versa: the web UI stays usable during a sync.
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    # Wait for the write lock instead of failing at once with "database is locked".
    "PRAGMA busy_timeout=15000",
)


def async_url(url: str | URL) -> URL:
    """The URL with an async driver: sqlite → sqlite+aiosqlite, postgresql → postgresql+psycopg."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(f"unsupported database {backend!r}: use SQLite or PostgreSQL")


def sync_url(url: str | URL) -> URL:
    """The URL with a blocking driver (pysqlite / psycopg), e.g. for tools that need one."""
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    return parsed  # psycopg 3 serves both modes under one driver name


def _set_sqlite_pragmas(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def make_engine(url: str | URL, *, echo: bool = False, **options: Any) -> AsyncEngine:
    """An async engine for `url` (any SQLite or PostgreSQL URL; the driver is chosen here)."""
    target = async_url(url)
    if target.get_backend_name() == "postgresql":
        options.setdefault("pool_pre_ping", True)
    engine = create_async_engine(target, echo=echo, **options)
    if target.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (repositories return plain dataclasses)."""
    return async_sessionmaker(engine, expire_on_commit=False)
