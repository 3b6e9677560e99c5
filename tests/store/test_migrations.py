"""Migrations: create every table on both databases, match the models, stay idempotent."""

from __future__ import annotations

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from chimplink.store.migrate import MIGRATIONS_DIR, current_revision, head_revision, upgrade_async
from chimplink.store.tables import Base
from tests.store.helpers import Db


def test_postgresql_is_reachable(postgres_admin: str) -> None:
    """Never skipped: without PostgreSQL the storage suite must fail, not shrink."""
    with psycopg.connect(postgres_admin) as connection:
        version = connection.execute("SHOW server_version").fetchone()
    assert version is not None and int(version[0].split(".")[0]) >= 13  # DROP ... WITH (FORCE)


async def test_fresh_database_has_no_revision(database_url: str) -> None:
    assert await current_revision(database_url) is None


async def test_upgrade_creates_every_table_and_is_idempotent(db: Db) -> None:
    assert await current_revision(db.engine) == head_revision()
    await upgrade_async(db.engine)  # a second run changes nothing
    assert await current_revision(db.engine) == head_revision()
    async with db.engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert names == {*Base.metadata.tables, "alembic_version"}


async def test_migrations_match_the_models(db: Db) -> None:
    """Autogenerate finds nothing to do: the migrations build exactly what tables.py says."""

    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(
            connection,  # type: ignore[arg-type]
            opts={"compare_type": True, "compare_server_default": False},
        )
        return list(compare_metadata(context, Base.metadata))

    async with db.engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_sqlite_pragmas_are_set(db: Db) -> None:
    if db.backend != "sqlite":
        return
    async with db.engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert any(MIGRATIONS_DIR.joinpath("versions").glob("0001_*.py"))
    assert "site-packages" in str(MIGRATIONS_DIR) or "src/chimplink/store" in str(MIGRATIONS_DIR)


def test_every_reference_to_an_installation_cascades() -> None:
    """Uninstall relies on ON DELETE CASCADE: a table added later must follow the rule."""
    for table in Base.metadata.tables.values():
        for key in table.foreign_keys:
            if key.column.table.name in ("installations", "tenants"):
                assert key.ondelete == "CASCADE", f"{table.name}.{key.parent.name}"
