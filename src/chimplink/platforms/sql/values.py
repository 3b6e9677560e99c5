"""Cell values ⇄ platform field values, by `FieldType`.

Reading is forgiving: a value that does not fit its type is passed on as the
text it is (the sync engine and Mailchimp judge it per record), so one odd
cell never stops a sync. Writing is strict: a value that cannot be stored in
the column raises `ConnectorError`, and nothing is written.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from chimplink.platforms.base import ConnectorError, FieldType, FieldValue

__all__ = ["birthday_to_date", "to_column_value", "to_field_value"]

_TEXT_TYPES = frozenset({FieldType.TEXT, FieldType.PHONE, FieldType.URL, FieldType.ZIP})
_BIRTHDAY = re.compile(r"^(\d{1,2})/(\d{1,2})$")
# A leap year, for a birthday on 29 February that has no year of its own.
_LEAP_YEAR = 2000


def to_field_value(field_type: FieldType, raw: object) -> FieldValue:
    """A platform field value from a cell (a driver value: text, number, date, …)."""
    if raw is None:
        return None
    if type(raw) is str and field_type in _TEXT_TYPES:  # the common case, first
        return raw
    match field_type:
        case FieldType.NUMBER:
            return _number(raw)
        case FieldType.DATE:
            day = _as_date(raw)
            return day.isoformat() if day is not None else _text(raw)
        case FieldType.BIRTHDAY:
            if isinstance(raw, str) and (found := _BIRTHDAY.match(raw.strip())):
                return f"{int(found.group(1)):02d}/{int(found.group(2)):02d}"
            day = _as_date(raw)
            return f"{day.month:02d}/{day.day:02d}" if day is not None else _text(raw)
        case _:
            return _text(raw)


def to_column_value(
    column: sa.Column[Any], field_type: FieldType, value: FieldValue, *, current: object = None
) -> object:
    """`value` as the column stores it; `current` keeps a birthday's year."""
    if value is None:
        return None
    kind = column.type
    try:
        if isinstance(kind, sa.Boolean):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "yes"):
                return True
            if text in ("false", "0", "no"):
                return False
            raise ValueError(value)
        if isinstance(kind, sa.Integer):
            number = _number(value)
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise ValueError(value)
            if number != int(number):
                raise ValueError(value)
            return int(number)
        if isinstance(kind, sa.Numeric | sa.Float):
            number = _number(value)
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise ValueError(value)
            return Decimal(str(number)) if kind.asdecimal else float(number)
        if isinstance(kind, sa.Date | sa.DateTime):
            day = _written_date(field_type, value, current=current)
            if isinstance(kind, sa.Date) and not isinstance(kind, sa.DateTime):
                return day
            moment = datetime(day.year, day.month, day.day)  # a calendar day: no zone
            return moment.replace(tzinfo=UTC) if getattr(kind, "timezone", False) else moment
    except (ValueError, ArithmeticError) as exc:
        raise ConnectorError(
            f"cannot write {value!r} to column {column.name!r} ({kind}): "
            f"it is not a valid {field_type.value} for that column"
        ) from exc
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def birthday_to_date(value: str, *, current: object = None) -> date:
    """MM/DD on the year already stored (a leap year when there is none or it lacks 29/02)."""
    found = _BIRTHDAY.match(value.strip())
    if found is None:
        raise ValueError(f"{value!r} is not a birthday (MM/DD)")
    month, day = int(found.group(1)), int(found.group(2))
    known = _as_date(current) if current is not None else None
    if known is not None:
        try:
            return date(known.year, month, day)
        except ValueError:
            pass
    return date(_LEAP_YEAR, month, day)


def _written_date(field_type: FieldType, value: FieldValue, *, current: object) -> date:
    if field_type is FieldType.BIRTHDAY and isinstance(value, str) and _BIRTHDAY.match(value):
        return birthday_to_date(value, current=current)
    day = _as_date(value)
    if day is None:
        raise ValueError(value)
    return day


def _number(raw: object) -> FieldValue:
    if isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return raw if math.isfinite(raw) else _text(raw)
    if isinstance(raw, Decimal):
        if not raw.is_finite():
            return _text(raw)
        return int(raw) if raw == raw.to_integral_value() else float(raw)
    text = str(raw).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        parsed = Decimal(text)
    except InvalidOperation:
        return _text(raw)
    return _number(parsed) if parsed.is_finite() else _text(raw)


def _as_date(raw: object) -> date | None:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(text).date()
        except ValueError:
            return None
    return None


def _text(raw: object) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, datetime | date):
        return raw.isoformat()
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    return str(raw)
