"""Cursors: string order is the database's (order, key) order; they decode to what they encode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from chimplink.platforms import ConnectorError
from chimplink.platforms.sql.cursor import (
    CursorCodec,
    cursor_codec,
    decode_integer,
    encode_integer,
)

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Text keys as PostgreSQL stores them (no NUL).
TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12)
TIMES = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30))


def codec(
    *, sequence: bool, key: str, dialect: str = "postgresql", tz: bool = False
) -> CursorCodec:
    column = sa.Column("c", sa.BigInteger if sequence else sa.DateTime(timezone=tz))
    return cursor_codec(order_column=column, sequence=sequence, key_kind=key, dialect=dialect)


@given(INT64, INT64)
def test_integers_sort_as_text(a: int, b: int) -> None:
    ea, eb = encode_integer(a), encode_integer(b)
    assert len(ea) == len(eb) == 20
    assert (ea < eb) == (a < b)
    assert decode_integer(ea) == a


@given(INT64, INT64, INT64, INT64)
def test_sequence_and_integer_key(s1: int, k1: int, s2: int, k2: int) -> None:
    c = codec(sequence=True, key="integer")
    a, b = c.encode(s1, k1), c.encode(s2, k2)
    assert (a < b) == ((s1, k1) < (s2, k2))
    position = c.decode(a)
    assert (position.order, position.key, position.in_nulls) == (s1, k1, False)


@given(TIMES, TEXT, TIMES, TEXT)
def test_timestamp_and_text_key(t1: datetime, k1: str, t2: datetime, k2: str) -> None:
    c = codec(sequence=False, key="text")
    a, b = c.encode(t1, k1), c.encode(t2, k2)
    assert (a < b) == ((t1, k1) < (t2, k2))
    assert c.decode(a).order == t1 and c.decode(a).key == k1


@given(TIMES, st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_zoned_timestamps_are_written_in_utc(moment: datetime, minutes: int) -> None:
    c = codec(sequence=False, key="integer", tz=True)
    zoned = moment.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    if not datetime(1000, 1, 2, tzinfo=UTC) < zoned < datetime(9999, 12, 30, tzinfo=UTC):
        return
    decoded = c.decode(c.encode(zoned, 1)).order
    assert isinstance(decoded, datetime)
    assert decoded == zoned and decoded.tzinfo is UTC


@given(st.one_of(st.none(), TIMES), INT64, st.one_of(st.none(), TIMES), INT64)
def test_rows_without_a_timestamp_come_first(
    t1: datetime | None, k1: int, t2: datetime | None, k2: int
) -> None:
    c = codec(sequence=False, key="integer")
    a, b = c.encode(t1, k1), c.encode(t2, k2)
    assert (a < b) == (
        (t1 is not None, t1 or datetime.min, k1) < (t2 is not None, t2 or datetime.min, k2)
    )
    assert c.decode(a).in_nulls == (t1 is None)


def test_sqlite_text_is_kept_as_stored() -> None:
    c = codec(sequence=False, key="text", dialect="sqlite")
    short = c.encode("2025-01-01 10:00:00", "k")
    long = c.encode("2025-01-01 10:00:00.000001", "a")
    assert short < long  # as SQLite compares the stored text
    assert c.decode(short).order == "2025-01-01 10:00:00"
    with pytest.raises(ValueError, match="not a timestamp"):
        c.encode("10:00|11:00", "k")


@pytest.mark.parametrize(
    "cursor", ["", "no separator", "abc|1", "2025-01-01T00:00:00.000000|x", "--|1"]
)
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(ConnectorError, match="was not made by this mapping"):
        codec(sequence=False, key="integer").decode(cursor)
