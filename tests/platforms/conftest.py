"""Platform tests run on SQLite (a file in tmp_path) and on PostgreSQL.

PostgreSQL: a freshly created database per test (`test_<random>`), made through
an admin connection to the `test` database on 127.0.0.1:5432 (trust auth;
`TEST_POSTGRES_URL` overrides) and dropped afterwards — the approach of
tests/store/conftest.py. If PostgreSQL cannot be reached the tests fail; they
never skip.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from chimplink.platforms.sql import platform_engine
from tests.store.conftest import postgres_admin

__all__ = ["postgres_admin"]  # a fixture, shared with the storage tests


@pytest.fixture(params=["sqlite", "postgresql"])
def platform_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, empty platform database, written the way an operator would (blocking driver)."""
    if request.param == "sqlite":
        directory = tmp_path_factory.mktemp("platform")
        yield f"sqlite:///{directory / 'platform.db'}"
        return
    admin: str = request.getfixturevalue("postgres_admin")
    name = f"test_{uuid.uuid4().hex[:20]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def engine(platform_url: str) -> AsyncIterator[AsyncEngine]:
    engine = platform_engine(platform_url)
    try:
        yield engine
    finally:
        await engine.dispose()
