"""Run the Alembic migrations shipped inside the package (works from an installed wheel).

`upgrade(url)` from synchronous code (the CLI, `serve` before its loop starts);
`await upgrade_async(url_or_engine)` from async code (a lifespan). Both take
any SQLite or PostgreSQL URL; the driver is chosen by `store.db`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from chimplink.store.db import async_url, make_engine

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "head_revision",
    "upgrade",
    "upgrade_async",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str | URL | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url is not None:
        # Percent signs in passwords would be read as interpolation by ConfigParser.
        url = async_url(database_url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _upgrade_on(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _current_on(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_async(target: str | URL | AsyncEngine, *, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the newest)."""
    engine = target if isinstance(target, AsyncEngine) else make_engine(target)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_on, alembic_config(), revision)
    finally:
        if engine is not target:
            await engine.dispose()


def upgrade(database_url: str | URL, *, revision: str = "head") -> None:
    """Synchronous `upgrade_async` (must not be called from a running event loop)."""
    asyncio.run(upgrade_async(database_url, revision=revision))


async def current_revision(target: str | URL | AsyncEngine) -> str | None:
    """The database's revision, or None if it was never migrated."""
    engine = target if isinstance(target, AsyncEngine) else make_engine(target)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current_on)
    finally:
        if engine is not target:
            await engine.dispose()
