"""Helpers for platform tests: a shop's customer table, mapping files, draining streams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

MAPPING = """\
# The shop's customers
table = "customers"
key = "id"
email = "email"
updated_at = "updated_at"

[consent]
column = "newsletter"
granted = ["yes", "Y", "1"]
withdrawn = ["no", "0"]

[fields.first_name]
column = "first_name"
label = "First name"

[fields.birthday]
column = "born"
type = "birthday"

[fields.joined]
column = "born"
type = "date"

[fields.ltv]
column = "lifetime_value"
type = "number"

[tags]
column = "tags"
"""


def customers_table(
    metadata: sa.MetaData, *, key: sa.types.TypeEngine[Any] | None = None
) -> sa.Table:
    return sa.Table(
        "customers",
        metadata,
        sa.Column(
            "id", key if key is not None else sa.Integer, primary_key=True, autoincrement=False
        ),
        sa.Column("email", sa.String(200)),
        sa.Column("newsletter", sa.String(10)),
        sa.Column("first_name", sa.String(100)),
        sa.Column("born", sa.Date),
        sa.Column("lifetime_value", sa.Float),
        sa.Column("tags", sa.String(200)),
        sa.Column("deleted", sa.Boolean),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )


def customer(
    id: Any, *, minutes: int | None = 0, email: str | None = None, **values: Any
) -> dict[str, Any]:
    """A row; `minutes` after T0 (None: no timestamp)."""
    return {
        "id": id,
        "email": email if email is not None else f"customer.{id}@example.com",
        "newsletter": values.pop("newsletter", "yes"),
        "first_name": values.pop("first_name", f"Name{id}"),
        "born": values.pop("born", None),
        "lifetime_value": values.pop("lifetime_value", None),
        "tags": values.pop("tags", None),
        "deleted": values.pop("deleted", False),
        "updated_at": None if minutes is None else T0 + timedelta(minutes=minutes),
        **values,
    }


async def create(engine: AsyncEngine, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(table.metadata.create_all)
        if rows:
            await connection.execute(table.insert(), list(rows))


def write(tmp_path: Path, text: str, name: str = "mapping.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def drain(pages: AsyncIterator[list[T]]) -> list[list[T]]:
    return [page async for page in pages]


async def everything(pages: AsyncIterator[list[T]]) -> list[T]:
    return [item async for page in pages for item in page]
