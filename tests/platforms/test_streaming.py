"""Streaming 200,000 rows: pages are bounded by page_size and read lazily, never all at once.

Asserted by behaviour, not RSS: every query the connector sends is limited to
one page; the first page arrives before later rows are read (a row written
after the first page still shows up at the end); no page exceeds page_size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chimplink.platforms.demo import DemoPlatform
from chimplink.platforms.sql import SqlConnector
from tests.platforms.helpers import write

ROWS = 200_000
PAGE = 1_000

MAPPING = """\
table = "big"
key = "id"
email = "email"
updated_at = "changed"

[fields.plan]
column = "plan"
"""


async def fill(engine: AsyncEngine) -> sa.Table:
    """200,000 rows, seven per second of `changed`: ties cross page boundaries."""
    metadata = sa.MetaData()
    table = sa.Table(
        "big",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("email", sa.String(100), nullable=False),
        sa.Column("plan", sa.String(20)),
        sa.Column("changed", sa.DateTime, nullable=False, index=True),
    )
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        if engine.dialect.name == "postgresql":
            await connection.exec_driver_sql(
                "INSERT INTO big SELECT i, 'p' || i || '@example.com', 'free', "
                "timestamp '2025-01-01' + (i / 7) * interval '1 second' "
                f"FROM generate_series(1, {ROWS}) AS i"
            )
        else:
            await connection.exec_driver_sql(
                "INSERT INTO big WITH RECURSIVE s(i) AS "
                f"(SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {ROWS}) "
                "SELECT i, 'p' || i || '@example.com', 'free', "
                "strftime('%Y-%m-%d %H:%M:%f', '2025-01-01', '+' || (i / 7) || ' seconds') FROM s"
            )
    return table


def _limits(statements: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(s, p) for s, p in statements if "FROM big" in s and "count(" not in s]


@pytest.mark.slow
async def test_two_hundred_thousand_rows_in_bounded_pages(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    table = await fill(engine)
    statements: list[tuple[str, Any]] = []
    sa.event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, parameters, *rest: statements.append(
            (statement, parameters)
        ),
    )
    connector = await SqlConnector.open(engine, mapping=write(tmp_path, MAPPING))
    pages = connector.contacts(after=None, page_size=PAGE)
    first = await anext(pages)
    assert len(first) == PAGE
    # Only one page has been asked for so far.
    assert len(_limits(statements)) == 1
    # A change made now, after the first page, is still found: nothing was read ahead.
    async with engine.begin() as connection:
        await connection.execute(
            table.update().where(table.c.id == 1).values(plan="pro", changed=sa.func.now())
        )
    count, largest, last_key, previous = len(first), len(first), first[-1].key, first[-1].cursor
    keys = {c.key for c in first}
    async for page in pages:
        largest = max(largest, len(page))
        count += len(page)
        assert page[0].cursor > previous
        previous = page[-1].cursor
        keys.update(c.key for c in page)
        last_key = page[-1].key
    assert largest == PAGE
    assert count == ROWS + 1  # contact 1 twice: before and after its change
    assert len(keys) == ROWS
    assert last_key == "1"
    queries = _limits(statements)
    assert len(queries) == ROWS // PAGE + 1
    for statement, parameters in queries:
        assert "LIMIT" in statement
        values = parameters.values() if isinstance(parameters, dict) else parameters
        assert PAGE in values


@pytest.mark.slow
async def test_demo_streams_in_bounded_pages(tmp_path: Path) -> None:
    async with await DemoPlatform.create(tmp_path / "demo.db", contacts=20_000) as platform:
        statements: list[str] = []
        sa.event.listen(
            platform.engine.sync_engine,
            "before_cursor_execute",
            lambda conn, cursor, statement, *rest: statements.append(statement),
        )
        pages = platform.connector().contacts(after=None, page_size=500)
        first = await anext(pages)
        await platform.edit(first[0].key, first_name="Changed")
        sizes = [len(first)] + [len(page) async for page in pages]
        assert max(sizes) == 500
        assert sum(sizes) == 20_001
        reads = [s for s in statements if "contacts.seq >" in s]
        assert all("LIMIT" in s for s in reads)
        assert len(reads) == len(sizes)
