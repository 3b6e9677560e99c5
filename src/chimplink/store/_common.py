"""Small helpers shared by the repositories (private to `store`)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

__all__ = ["dialect_insert", "new_id", "sha256_hex", "utc", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc(value: datetime | None) -> datetime:
    """`value` (aware) in UTC, or now; repositories take `now=` so tests control time."""
    if value is None:
        return utcnow()
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass timezone-aware times to the store")
    return value.astimezone(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def dialect_insert(
    session: AsyncSession, table: type[DeclarativeBase]
) -> postgresql.Insert | sqlite.Insert:
    """INSERT with the dialect's ON CONFLICT support (both databases have it)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
