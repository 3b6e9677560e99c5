"""Change cursors for keyset pagination: `<order>|<key>`, ordered as the database orders.

A cursor names one row's place in `ORDER BY <cursor column>, <key>`. It is
a string whose plain string order is that order, so the sync engine may
compare cursors: the order part has a fixed width, and the key part sorts as
the database sorts keys:

- a timestamp is ISO 8601 to the microsecond, in UTC when the column keeps a
  zone (`2025-03-01T09:30:00.000000`);
- on SQLite a timestamp is the stored text itself, padded with spaces: SQLite
  keeps timestamps as text and compares them as text, and programs write them
  in different shapes (Django leaves out `.000000`), so reading the text back
  as a datetime and binding it again in SQLAlchemy's shape would skip rows;
- an integer (a sequence, an integer key) is zero-padded to 20 digits
  (`00000000000000000042`); a negative one is `-` and 19 digits of 2⁶³ + n,
  so it sorts first;
- a text key is compared byte-wise (`COLLATE "C"` on PostgreSQL, `BINARY` on
  SQLite), which is Python's string order; a uuid key as lowercase hex, which
  is PostgreSQL's uuid order.

Rows whose cursor column is NULL cannot be placed by it; they come first, in
key order, with the order part `-----…` (below any digit).
"""

from __future__ import annotations

import re
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from chimplink.platforms.base import ConnectorError

__all__ = ["CursorCodec", "KeyCodec", "OrderCodec", "Position", "cursor_codec"]

_INT_SHIFT = 2**63
_ENCODED_INT = re.compile(r"-?[0-9]+")
_INT_WIDTH = 20
_ISO_WIDTH = 26  # 2025-03-01T09:30:00.000000
_SQLITE_TEXT_WIDTH = 32
_SEPARATOR = "|"


class OrderCodec(ABC):
    """The order part: how the cursor column is selected, compared and written down."""

    width: int

    def expression(self, column: sa.Column[Any]) -> ColumnElement[Any]:
        return column

    @abstractmethod
    def encode(self, value: object) -> str: ...

    @abstractmethod
    def decode(self, text: str) -> object: ...


class _IntegerOrder(OrderCodec):
    width = _INT_WIDTH

    def encode(self, value: object) -> str:
        return encode_integer(value)

    def decode(self, text: str) -> object:
        return decode_integer(text)


class _TimestampOrder(OrderCodec):
    width = _ISO_WIDTH

    def __init__(self, *, timezone: bool) -> None:
        self.timezone = timezone

    def encode(self, value: object) -> str:
        if not isinstance(value, datetime):
            raise ValueError(f"not a timestamp: {value!r}")
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds")

    def decode(self, text: str) -> object:
        moment = datetime.fromisoformat(text)
        return moment.replace(tzinfo=UTC) if self.timezone else moment


class _SqliteTextOrder(OrderCodec):
    width = _SQLITE_TEXT_WIDTH

    def expression(self, column: sa.Column[Any]) -> ColumnElement[Any]:
        # No CAST: the stored value, but handed over untouched by SQLAlchemy.
        return sa.type_coerce(column, sa.String())

    def encode(self, value: object) -> str:
        text = value if isinstance(value, str) else str(value)
        if _SEPARATOR in text or text != text.rstrip(" "):
            raise ValueError(f"not a timestamp: {text!r}")
        return text.ljust(self.width)

    def decode(self, text: str) -> object:
        return text.rstrip(" ")


class KeyCodec:
    """The key part, and the key as the platform's id (`Contact.key`)."""

    def __init__(self, kind: str, dialect: str) -> None:
        self.kind = kind  # "integer" | "text" | "uuid"
        self.dialect = dialect

    def expression(self, column: sa.Column[Any]) -> ColumnElement[Any]:
        if self.kind == "text" and self.dialect == "postgresql":
            return column.collate("C")
        if self.kind == "text" and self.dialect == "sqlite":
            return column.collate("BINARY")
        return column

    def encode(self, value: object) -> str:
        if self.kind == "integer":
            return encode_integer(value)
        return self.platform_key(value)

    def decode(self, text: str) -> object:
        if self.kind == "integer":
            return decode_integer(text)
        return self.database_key(text)

    def platform_key(self, value: object) -> str:
        if self.kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"not an integer key: {value!r}")
            return str(value)
        if self.kind == "uuid":
            return str(value).lower()
        return value if isinstance(value, str) else str(value)

    def database_key(self, key: str) -> object:
        """`Contact.key` back as the value to bind; ValueError when it cannot be one."""
        if self.kind == "integer":
            return int(key)
        if self.kind == "uuid":
            return uuid.UUID(key)
        return key


def encode_integer(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not an integer: {value!r}")
    if not -_INT_SHIFT <= value < _INT_SHIFT:
        raise ValueError(f"integer out of the 64-bit range: {value}")
    if value < 0:
        return f"-{value + _INT_SHIFT:0{_INT_WIDTH - 1}d}"
    return f"{value:0{_INT_WIDTH}d}"


def decode_integer(text: str) -> int:
    if len(text) != _INT_WIDTH or not _ENCODED_INT.fullmatch(text):
        raise ValueError(f"not an encoded integer: {text!r}")
    return int(text[1:]) - _INT_SHIFT if text.startswith("-") else int(text)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page starts: after a row with a NULL cursor column, or after (order, key)."""

    in_nulls: bool
    order: object
    key: object


@dataclass(frozen=True, slots=True)
class CursorCodec:
    order: OrderCodec
    key: KeyCodec

    @property
    def null_order(self) -> str:
        return "-" * self.order.width

    def encode(self, order_value: object, key_value: object) -> str:
        """The cursor of a row (ValueError when a value cannot take part in one)."""
        order = self.null_order if order_value is None else self.order.encode(order_value)
        return f"{order}{_SEPARATOR}{self.key.encode(key_value)}"

    def decode(self, cursor: str) -> Position:
        order, separator, key = cursor.partition(_SEPARATOR)
        try:
            if not separator:
                raise ValueError("no separator")
            if order == self.null_order:
                return Position(in_nulls=True, order=None, key=self.key.decode(key))
            return Position(
                in_nulls=False, order=self.order.decode(order), key=self.key.decode(key)
            )
        except ValueError as exc:
            raise ConnectorError(
                f"the cursor {cursor!r} was not made by this mapping "
                "(did the cursor or key column change?); run a full sync"
            ) from exc


def cursor_codec(
    *, order_column: sa.Column[Any], sequence: bool, key_kind: str, dialect: str
) -> CursorCodec:
    order: OrderCodec
    if sequence:
        order = _IntegerOrder()
    elif dialect == "sqlite":
        order = _SqliteTextOrder()
    else:
        order = _TimestampOrder(timezone=bool(getattr(order_column.type, "timezone", False)))
    return CursorCodec(order=order, key=KeyCodec(key_kind, dialect))
