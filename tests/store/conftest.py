"""Every storage test runs twice: on SQLite (a file in tmp_path) and on PostgreSQL.

PostgreSQL: each test gets a freshly created database (`test_<random>`),
created through an admin connection to the `test` database on
127.0.0.1:5432 (trust auth, as `.ci/run` sets up; `TEST_POSTGRES_URL`
overrides) and dropped afterwards, so tests are isolated and may run in
parallel. If PostgreSQL cannot be reached the tests fail; they never skip.
Migrations are applied with `chimplink.store.migrate`, so they are tested on
both databases too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from chimplink.store.crypto import TokenCipher
from chimplink.store.db import make_engine, make_session_factory
from chimplink.store.migrate import upgrade_async
from tests.store.helpers import Db

_ADMIN_CANDIDATES = (
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://root@127.0.0.1:5432/test",
)


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    """A libpq URL that may CREATE DATABASE; fails the test run if there is none."""
    candidates = (
        (os.environ["TEST_POSTGRES_URL"],) if os.environ.get("TEST_POSTGRES_URL") else ()
    ) + _ADMIN_CANDIDATES
    errors = []
    for candidate in candidates:
        try:
            with psycopg.connect(candidate, connect_timeout=5, autocommit=True) as connection:
                connection.execute("SELECT 1")
            return candidate
        except psycopg.Error as exc:
            errors.append(f"{make_url(candidate).render_as_string()}: {exc}".strip())
    pytest.fail(
        "PostgreSQL is unreachable; storage tests need it (start it, e.g. `.ci/run` does):\n"
        + "\n".join(errors),
        pytrace=False,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        directory = tmp_path_factory.mktemp("sqlite")
        yield f"sqlite+aiosqlite:///{directory / 'chimplink.db'}"
        return
    admin: str = request.getfixturevalue("postgres_admin")
    name = f"test_{uuid.uuid4().hex[:20]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(admin)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Db]:
    """A migrated database with an engine and a session factory on it."""
    await upgrade_async(database_url)
    engine = make_engine(database_url)
    try:
        yield Db(url=database_url, engine=engine, sessions=make_session_factory(engine))
    finally:
        await engine.dispose()


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher([TokenCipher.generate_key()])
