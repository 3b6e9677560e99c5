"""An async engine on a platform's database, from whatever URL the operator wrote.

Operators copy URLs from their platform's settings, usually with a blocking
driver (`sqlite:///…`, `postgresql://…`); the connector reads through
SQLAlchemy's asyncio layer, so the driver is swapped for its async sibling
here. Other databases work with their own async driver in the URL
(`mysql+aiomysql://…`). Nothing is changed in the platform's database: no
journal mode, no schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, InvalidRequestError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from chimplink.platforms.base import ConnectorError

__all__ = ["platform_engine", "platform_url"]

_ASYNC_DRIVERS = {
    "sqlite": ("aiosqlite",),
    "postgresql": ("psycopg", "asyncpg", "psycopg_async"),
}
_DEFAULT_ASYNC = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}


def platform_url(url: str | URL | Path) -> URL:
    """The URL with an async driver; a bare path means an SQLite file."""
    if isinstance(url, Path) or (isinstance(url, str) and "://" not in url):
        return make_url(f"sqlite+aiosqlite:///{Path(url)}")
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConnectorError(f"not a database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    driver = parsed.drivername.partition("+")[2]  # "" when the URL leaves it to SQLAlchemy
    if backend in _DEFAULT_ASYNC and driver not in _ASYNC_DRIVERS[backend]:
        return parsed.set(drivername=_DEFAULT_ASYNC[backend])
    return parsed


def platform_engine(url: str | URL | Path, **options: Any) -> AsyncEngine:
    target = platform_url(url)
    if target.get_backend_name() == "postgresql":
        options.setdefault("pool_pre_ping", True)
    try:
        engine = create_async_engine(target, **options)
    except (ArgumentError, InvalidRequestError, NoSuchModuleError, ImportError) as exc:
        raise ConnectorError(
            f"cannot open {target.render_as_string(hide_password=True)}: {exc}"
        ) from exc
    if target.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _wait_for_locks)
    return engine


def _wait_for_locks(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    # The platform writes while we read: wait for its write lock instead of failing.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=15000")
    finally:
        cursor.close()
