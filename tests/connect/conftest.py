"""Lifecycle tests run on SQLite and PostgreSQL, against the in-process emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.store.conftest import database_url, postgres_admin  # noqa: F401  (fixtures)
from tests.web.harness import World, open_world


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:  # noqa: F811
    async with open_world(database_url) as opened:
        yield opened
