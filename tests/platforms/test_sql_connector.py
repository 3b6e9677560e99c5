"""The sql connector on SQLite and PostgreSQL: reading, paging, erasures, write-back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from chimplink.platforms import (
    Connector,
    ConnectorError,
    Consent,
    ConsentWithdrawn,
    EmailChanged,
    FieldSpec,
    FieldType,
    ProfileChanged,
)
from chimplink.platforms.sql import SqlConnector
from tests.platforms.helpers import (
    MAPPING,
    T0,
    create,
    customer,
    customers_table,
    drain,
    everything,
    write,
)

WRITE_BACK = """
[write_back]
consent = "no"
email = true
fields = ["first_name", "birthday", "ltv"]
"""


async def open_shop(
    engine: AsyncEngine, tmp_path: Path, rows: list[dict[str, object]], mapping: str = MAPPING
) -> SqlConnector:
    await create(engine, customers_table(sa.MetaData()), rows)
    return await SqlConnector.open(engine, mapping=write(tmp_path, mapping))


async def test_reads_fields_consent_and_tags(engine: AsyncEngine, tmp_path: Path) -> None:
    connector = await open_shop(
        engine,
        tmp_path,
        [
            customer(
                1,
                newsletter="Yes ",
                born=date(1984, 2, 29),
                lifetime_value=12.5,
                tags="VIP, Newsletter,,",
            ),
            customer(2, newsletter="no", lifetime_value=3.0, tags=""),
            customer(3, newsletter="maybe"),
            customer(4, newsletter=None),
        ],
    )
    assert isinstance(connector, Connector)
    assert connector.name == "sql"
    assert not connector.writable
    assert await connector.describe_fields() == [
        FieldSpec("first_name", FieldType.TEXT, "First name"),
        FieldSpec("birthday", FieldType.BIRTHDAY, "birthday"),
        FieldSpec("joined", FieldType.DATE, "joined"),
        FieldSpec("ltv", FieldType.NUMBER, "ltv"),
    ]
    contacts = {c.key: c for c in await everything(connector.contacts(after=None, page_size=10))}
    assert sorted(contacts) == ["1", "2", "3", "4"]
    first = contacts["1"]
    assert first.email == "customer.1@example.com"
    assert first.consent is Consent.GRANTED
    assert first.fields == {
        "first_name": "Name1",
        "birthday": "02/29",
        "joined": "1984-02-29",
        "ltv": 12.5,
    }
    assert first.labels == {"VIP", "Newsletter"}
    assert contacts["2"].consent is Consent.WITHDRAWN
    assert contacts["2"].fields["ltv"] == 3  # a whole number reads as one
    assert contacts["2"].labels == frozenset()
    assert contacts["3"].consent is Consent.UNKNOWN  # in neither list
    assert contacts["4"].consent is Consent.UNKNOWN  # NULL
    assert contacts["4"].fields["birthday"] is None


@pytest.mark.parametrize("page_size", [1, 2, 3, 5, 100])
async def test_every_row_once_in_cursor_order(
    engine: AsyncEngine, tmp_path: Path, page_size: int
) -> None:
    # Ties on updated_at (four rows at minute 5) are broken by the key.
    minutes = [5, 1, 5, 5, 0, 9, 5, 2, 1, 7, 3]
    rows = [
        customer(key, minutes=m)
        for key, m in zip([10, 3, 7, 1, 12, 4, 2, 8, 6, 11, 5], minutes, strict=True)
    ]
    connector = await open_shop(engine, tmp_path, rows)
    pages = await drain(connector.contacts(after=None, page_size=page_size))
    assert all(0 < len(page) <= page_size for page in pages)
    seen = [c for page in pages for c in page]
    expected = [str(r["id"]) for r in sorted(rows, key=lambda r: (r["updated_at"], r["id"]))]
    assert [c.key for c in seen] == expected
    cursors = [c.cursor for c in seen]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)


async def test_resumes_after_any_cursor_including_ties(engine: AsyncEngine, tmp_path: Path) -> None:
    rows = [customer(key, minutes=key // 3) for key in range(1, 13)]  # three rows per minute
    connector = await open_shop(engine, tmp_path, rows)
    every = await everything(connector.contacts(after=None, page_size=4))
    assert await connector.count_contacts(after=None) == len(every) == 12
    for index, contact in enumerate(every):
        rest = await everything(connector.contacts(after=contact.cursor, page_size=2))
        assert [c.key for c in rest] == [c.key for c in every[index + 1 :]]
        assert await connector.count_contacts(after=contact.cursor) == len(rest)


async def test_a_changed_row_moves_after_the_cursor(engine: AsyncEngine, tmp_path: Path) -> None:
    table = customers_table(sa.MetaData())
    connector = await open_shop(engine, tmp_path, [customer(k, minutes=k) for k in range(1, 6)])
    last = (await everything(connector.contacts(after=None, page_size=10)))[-1].cursor
    assert await everything(connector.contacts(after=last, page_size=10)) == []
    async with engine.begin() as connection:
        await connection.execute(
            table.update()
            .where(table.c.id == 2)
            .values(first_name="Changed", updated_at=T0 + timedelta(hours=1))
        )
    moved = await everything(connector.contacts(after=last, page_size=10))
    assert [(c.key, c.fields["first_name"]) for c in moved] == [("2", "Changed")]
    assert moved[0].cursor > last


async def test_tags_from_a_join_table(engine: AsyncEngine, tmp_path: Path) -> None:
    metadata = sa.MetaData()
    table = customers_table(metadata)
    links = sa.Table(
        "customer_labels",
        metadata,
        sa.Column("customer_id", sa.Integer, nullable=False),
        sa.Column("label", sa.String(50)),
    )
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(table.insert(), [customer(k, minutes=k) for k in range(1, 5)])
        await connection.execute(
            links.insert(),
            [
                {"customer_id": 1, "label": "VIP"},
                {"customer_id": 1, "label": " Wholesale "},
                {"customer_id": 3, "label": "VIP"},
                {"customer_id": 3, "label": None},
                {"customer_id": 3, "label": ""},
                {"customer_id": 99, "label": "orphan"},
            ],
        )
    mapping = MAPPING.replace(
        '[tags]\ncolumn = "tags"',
        '[tags]\ntable = "customer_labels"\nkey = "customer_id"\nlabel = "label"',
    )
    connector = await SqlConnector.open(engine, mapping=write(tmp_path, mapping))
    for page_size in (1, 3):
        contacts = await everything(connector.contacts(after=None, page_size=page_size))
        assert {c.key: c.labels for c in contacts} == {
            "1": {"VIP", "Wholesale"},
            "2": frozenset(),
            "3": {"VIP"},
            "4": frozenset(),
        }


async def test_bad_rows_are_yielded_or_reported_never_fatal(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    metadata = sa.MetaData()
    # A view-like table: a nullable text key, so rows without a key can exist.
    table = sa.Table(
        "people",
        metadata,
        sa.Column("ref", sa.String(20)),
        sa.Column("mail", sa.String(200)),
        sa.Column("amount", sa.String(20)),
        sa.Column("changed", sa.DateTime),
    )
    t = datetime(2025, 1, 1, 12, 0)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(
            table.insert(),
            [
                {"ref": "a", "mail": None, "amount": "12", "changed": t},
                {"ref": "b", "mail": "not an email", "amount": "n/a", "changed": t},
                {"ref": None, "mail": "nokey@example.com", "amount": "1", "changed": t},
                {"ref": "", "mail": "emptykey@example.com", "amount": "1", "changed": t},
                {"ref": "c", "mail": "  c@example.com ", "amount": "1.5", "changed": None},
                {"ref": "d", "mail": "d@example.com", "amount": None, "changed": None},
            ],
        )
    mapping = """
table = "people"
key = "ref"
email = "mail"
updated_at = "changed"

[fields.amount]
column = "amount"
type = "number"
"""
    connector = await SqlConnector.open(engine, mapping=write(tmp_path, mapping))
    with capture_logs() as logs:
        contacts = await everything(connector.contacts(after=None, page_size=1))
    # Rows with a NULL cursor come first (in key order), then the rest.
    assert [(c.key, c.email, c.fields["amount"]) for c in contacts] == [
        ("c", "  c@example.com ", 1.5),
        ("d", "d@example.com", None),
        ("a", "", 12),
        ("b", "not an email", "n/a"),
    ]
    assert all(c.consent is Consent.UNKNOWN for c in contacts)
    assert [e for e in logs if e["event"] == "sql.rows_without_key"] == [
        {
            "event": "sql.rows_without_key",
            "log_level": "warning",
            "table": "people",
            "column": "ref",
            "rows": 2,
            "detail": "rows without a key are not synced",
        }
    ]
    # Resuming inside the NULL-cursor rows, and across to the others.
    rest = await everything(connector.contacts(after=contacts[0].cursor, page_size=10))
    assert [c.key for c in rest] == ["d", "a", "b"]
    counts = [await connector.count_contacts(after=c.cursor) for c in contacts]
    assert await connector.count_contacts(after=None) == 4
    assert counts == [3, 2, 1, 0]
    assert contacts[1].cursor < contacts[2].cursor


async def test_sequence_cursor(engine: AsyncEngine, tmp_path: Path) -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        "members",
        metadata,
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("email", sa.String(100), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    rows = [
        {"id": 1, "email": "a@example.com", "version": 30},
        {"id": 2, "email": "b@example.com", "version": -5},
        {"id": 3, "email": "c@example.com", "version": 30},
        {"id": 4, "email": "d@example.com", "version": 2**40},
        {"id": -7, "email": "e@example.com", "version": 0},
    ]
    await create(engine, table, rows)
    mapping = 'table = "members"\nkey = "id"\nemail = "email"\nsequence = "version"\n'
    connector = await SqlConnector.open(engine, mapping=write(tmp_path, mapping))
    contacts = await everything(connector.contacts(after=None, page_size=2))
    assert [c.key for c in contacts] == ["2", "-7", "1", "3", "4"]
    cursors = [c.cursor for c in contacts]
    assert cursors == sorted(cursors)
    assert await everything(connector.contacts(after=cursors[2], page_size=2)) == contacts[3:]


async def test_text_keys_page_in_byte_order_whatever_the_collation(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    metadata = sa.MetaData()
    # A collation whose order is not byte order: ICU's on PostgreSQL, NOCASE on SQLite.
    collation = "en-US-x-icu" if engine.dialect.name == "postgresql" else "NOCASE"
    table = sa.Table(
        "accounts",
        metadata,
        # Not a primary key: under NOCASE, "b" and "B" would collide.
        sa.Column("code", sa.String(20, collation=collation), nullable=False),
        sa.Column("email", sa.String(100)),
        sa.Column("touched", sa.DateTime),
    )
    keys = ["b", "B", "a", "A", "ä", "Z", "a b", "a-b", "ab", "10", "9", "é", "|pipe|"]
    t = datetime(2025, 1, 1)
    await create(
        engine,
        table,
        [{"code": k, "email": f"{i}@example.com", "touched": t} for i, k in enumerate(keys)],
    )
    mapping = 'table = "accounts"\nkey = "code"\nemail = "email"\nupdated_at = "touched"\n'
    connector = await SqlConnector.open(engine, mapping=write(tmp_path, mapping))
    contacts = await everything(connector.contacts(after=None, page_size=3))
    assert [c.key for c in contacts] == sorted(keys)
    assert [c.cursor for c in contacts] == sorted(c.cursor for c in contacts)
    for index, contact in enumerate(contacts):
        rest = await everything(connector.contacts(after=contact.cursor, page_size=4))
        assert [c.key for c in rest] == sorted(keys)[index + 1 :]


async def test_uuid_keys(engine: AsyncEngine, tmp_path: Path) -> None:
    import uuid

    metadata = sa.MetaData()
    table = sa.Table(
        "users",
        metadata,
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("email", sa.String(100)),
        sa.Column("updated", sa.DateTime),
    )
    ids = [uuid.UUID(int=n * 0x1234567890ABCDEF1234567890ABCDF % 2**128) for n in range(1, 8)]
    t = datetime(2025, 1, 1)
    await create(engine, table, [{"id": u, "email": f"{u}@example.com", "updated": t} for u in ids])
    mapping = 'table = "users"\nkey = "id"\nemail = "email"\nupdated_at = "updated"\n'
    connector = await SqlConnector.open(engine, mapping=write(tmp_path, mapping))
    contacts = await everything(connector.contacts(after=None, page_size=2))
    assert len(contacts) == len(ids)
    assert [c.cursor for c in contacts] == sorted(c.cursor for c in contacts)
    rest = await everything(connector.contacts(after=contacts[2].cursor, page_size=2))
    assert rest == contacts[3:]


async def test_naive_and_aware_timestamps_keep_microseconds(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        "events",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("email", sa.String(100)),
        sa.Column("at", sa.DateTime(timezone=False)),
    )
    base = datetime(2025, 6, 1, 23, 59, 59)
    offsets = [999_999, 1, 0, 1, 500_000]
    await create(
        engine,
        table,
        [
            {"id": i, "email": f"{i}@example.com", "at": base + timedelta(microseconds=us)}
            for i, us in enumerate(offsets, 1)
        ],
    )
    mapping = 'table = "events"\nkey = "id"\nemail = "email"\nupdated_at = "at"\n'
    connector = await SqlConnector.open(engine, mapping=write(tmp_path, mapping))
    contacts = await everything(connector.contacts(after=None, page_size=1))
    assert [c.key for c in contacts] == ["3", "2", "4", "5", "1"]
    assert contacts[3].cursor.startswith("2025-06-01")


async def test_sqlite_timestamps_written_in_mixed_shapes(tmp_path: Path) -> None:
    """Django writes `2025-01-01 10:00:00` without `.000000`; paging must not skip those."""
    from chimplink.platforms.sql import platform_engine

    engine = platform_engine(tmp_path / "django.db")
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(
                "CREATE TABLE auth_user (id INTEGER PRIMARY KEY, email TEXT, "
                "date_joined DATETIME, last_login TEXT)"
            )
            await connection.exec_driver_sql(
                "INSERT INTO auth_user VALUES "
                "(1, 'a@example.com', '2025-01-01 10:00:00', '2025-01-01 10:00:00'),"
                "(2, 'b@example.com', '2025-01-01 10:00:00.000001', '2025-01-01 10:00:00.000001'),"
                "(3, 'c@example.com', '2025-01-01 10:00:00', '2025-01-01 10:00:00'),"
                "(4, 'd@example.com', '2025-01-01 09:59:59.999999', '2025-01-01 09:59:59.999999'),"
                "(5, 'e@example.com', 'garbage', 'garbage')"
            )
        for column in ("date_joined", "last_login"):  # declared DATETIME, and TEXT
            mapping = f'table = "auth_user"\nkey = "id"\nemail = "email"\nupdated_at = "{column}"\n'
            connector = await SqlConnector.open(engine, mapping=write(tmp_path, mapping))
            contacts = await everything(connector.contacts(after=None, page_size=1))
            assert [c.key for c in contacts] == ["4", "1", "3", "2", "5"]
            assert [c.cursor for c in contacts] == sorted(c.cursor for c in contacts)
            for index, contact in enumerate(contacts):
                rest = await everything(connector.contacts(after=contact.cursor, page_size=1))
                assert rest == contacts[index + 1 :]
    finally:
        await engine.dispose()


async def test_erasures_from_a_table(engine: AsyncEngine, tmp_path: Path) -> None:
    metadata = sa.MetaData()
    table = customers_table(metadata)
    erased = sa.Table(
        "erased_customers",
        metadata,
        sa.Column("customer_id", sa.Integer, nullable=False),
        sa.Column("email", sa.String(200)),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
    )
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(table.insert(), [customer(1)])
        await connection.execute(
            erased.insert(),
            [
                {"customer_id": 7, "email": "seven@example.com", "erased_at": T0},
                {"customer_id": 5, "email": None, "erased_at": T0},
                {"customer_id": 6, "email": "six@example.com", "erased_at": T0 - timedelta(days=1)},
            ],
        )
    mapping = MAPPING + (
        '\n[erasures]\ntable = "erased_customers"\nkey = "customer_id"\n'
        'email = "email"\nupdated_at = "erased_at"\n'
    )
    connector = await SqlConnector.open(engine, mapping=write(tmp_path, mapping))
    found = await everything(connector.erasures(after=None, page_size=2))
    assert [(e.key, e.email) for e in found] == [
        ("6", "six@example.com"),
        ("5", ""),
        ("7", "seven@example.com"),
    ]
    assert await everything(connector.erasures(after=found[0].cursor, page_size=5)) == found[1:]


async def test_erasures_from_a_flag_column(engine: AsyncEngine, tmp_path: Path) -> None:
    connector = await open_shop(
        engine,
        tmp_path,
        [
            customer(1, minutes=1),
            customer(2, minutes=2, deleted=True),
            customer(3, minutes=3, deleted=None),
            customer(4, minutes=4, deleted=True),
        ],
        MAPPING + '\n[erasures]\nflag = "deleted"\n',
    )
    contacts = await everything(connector.contacts(after=None, page_size=1))
    assert [c.key for c in contacts] == ["1", "3"]
    assert await connector.count_contacts(after=None) == 2
    erasures = await everything(connector.erasures(after=None, page_size=1))
    assert [(e.key, e.email) for e in erasures] == [
        ("2", "customer.2@example.com"),
        ("4", "customer.4@example.com"),
    ]


async def test_no_erasure_feed_when_none_is_mapped(engine: AsyncEngine, tmp_path: Path) -> None:
    connector = await open_shop(engine, tmp_path, [customer(1)])
    assert await drain(connector.erasures(after=None, page_size=10)) == []


async def test_write_back_is_idempotent_and_moves_the_row(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    connector = await open_shop(
        engine,
        tmp_path,
        [
            customer(1, minutes=1, born=date(1990, 7, 14), lifetime_value=10.0),
            customer(2, minutes=2),
        ],
        MAPPING + WRITE_BACK,
    )
    assert connector.writable
    last = (await everything(connector.contacts(after=None, page_size=10)))[-1].cursor

    await connector.apply(ConsentWithdrawn(key="1", reason="unsubscribed"))
    await connector.apply(EmailChanged(key="1", new_email="new.one@example.com"))
    await connector.apply(
        ProfileChanged(key="1", fields={"first_name": "Ada", "birthday": "02/29", "ltv": 99.5})
    )
    moved = await everything(connector.contacts(after=last, page_size=10))
    assert len(moved) == 1
    contact = moved[0]
    assert contact.key == "1"
    assert contact.consent is Consent.WITHDRAWN
    assert contact.email == "new.one@example.com"
    # 1990 has no 29 February: the birthday keeps a leap year instead.
    assert contact.fields == {
        "first_name": "Ada",
        "birthday": "02/29",
        "joined": "2000-02-29",
        "ltv": 99.5,
    }
    # The same changes again: nothing is written, the row does not move.
    await connector.apply(ConsentWithdrawn(key="1", reason="cleaned"))
    await connector.apply(EmailChanged(key="1", new_email="new.one@example.com"))
    await connector.apply(
        ProfileChanged(key="1", fields={"first_name": "Ada", "birthday": "02/29", "ltv": 99.5})
    )
    assert await everything(connector.contacts(after=contact.cursor, page_size=10)) == []
    # A field not configured for write-back is left alone; the row does not move either.
    await connector.apply(ProfileChanged(key="1", fields={"joined": "1999-01-01"}))
    assert await everything(connector.contacts(after=contact.cursor, page_size=10)) == []
    # A row that is gone is not recreated.
    await connector.apply(ConsentWithdrawn(key="404", reason="unsubscribed"))
    assert len(await everything(connector.contacts(after=None, page_size=10))) == 2


async def test_write_back_keeps_a_consent_value_that_already_means_withdrawn(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    table = customers_table(sa.MetaData())
    connector = await open_shop(
        engine, tmp_path, [customer(1, newsletter="0")], MAPPING + WRITE_BACK
    )
    await connector.apply(ConsentWithdrawn(key="1", reason="unsubscribed"))
    async with engine.connect() as connection:
        value = (await connection.execute(sa.select(table.c.newsletter))).scalar_one()
    assert value == "0"


async def test_write_back_errors(engine: AsyncEngine, tmp_path: Path) -> None:
    read_only = await open_shop(engine, tmp_path, [customer(1), customer(2)])
    with pytest.raises(ConnectorError, match=r"write-back is not configured: add a \[write_back\]"):
        await read_only.apply(ConsentWithdrawn(key="1", reason="unsubscribed"))

    only_fields = await SqlConnector.open(
        engine, mapping=write(tmp_path, MAPPING + '[write_back]\nfields = ["first_name"]\n')
    )
    with pytest.raises(ConnectorError, match=r"consent write-back is not configured"):
        await only_fields.apply(ConsentWithdrawn(key="1", reason="unsubscribed"))
    with pytest.raises(ConnectorError, match=r"email write-back is not configured"):
        await only_fields.apply(EmailChanged(key="1", new_email="x@example.com"))
    with pytest.raises(ConnectorError, match=r"unknown platform fields 'shoe_size'"):
        await only_fields.apply(ProfileChanged(key="1", fields={"shoe_size": 42}))
    with pytest.raises(ConnectorError, match=r"'abc' is not a key of customers"):
        await only_fields.apply(ProfileChanged(key="abc", fields={"first_name": "X"}))

    full = await SqlConnector.open(engine, mapping=write(tmp_path, MAPPING + WRITE_BACK))
    with pytest.raises(ConnectorError, match=r"cannot write 'lots' to column 'lifetime_value'"):
        await full.apply(ProfileChanged(key="1", fields={"ltv": "lots"}))


async def test_email_write_back_refused_by_a_unique_constraint(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        "users",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("email", sa.String(100), unique=True),
        sa.Column("updated_at", sa.DateTime),
    )
    t = datetime(2025, 1, 1)
    await create(
        engine,
        table,
        [
            {"id": 1, "email": "a@example.com", "updated_at": t},
            {"id": 2, "email": "b@example.com", "updated_at": t},
        ],
    )
    mapping = (
        'table = "users"\nkey = "id"\nemail = "email"\nupdated_at = "updated_at"\n'
        "[write_back]\nemail = true\n"
    )
    connector = await SqlConnector.open(engine, mapping=write(tmp_path, mapping))
    with pytest.raises(ConnectorError, match=r"the platform refused the change to users key '2'"):
        await connector.apply(EmailChanged(key="2", new_email="a@example.com"))


async def test_touch_moves_past_rows_from_the_future(engine: AsyncEngine, tmp_path: Path) -> None:
    """A platform clock ahead of ours must not leave the changed row behind the cursor."""
    future = datetime.now(UTC) + timedelta(days=30)
    connector = await open_shop(
        engine,
        tmp_path,
        [customer(1), {**customer(2), "updated_at": future}],
        MAPPING + WRITE_BACK,
    )
    last = (await everything(connector.contacts(after=None, page_size=10)))[-1]
    assert last.key == "2"
    await connector.apply(ProfileChanged(key="1", fields={"first_name": "Later"}))
    assert [
        c.key for c in await everything(connector.contacts(after=last.cursor, page_size=5))
    ] == ["1"]


async def test_touch_false_leaves_updated_at_to_the_platform(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    connector = await open_shop(
        engine, tmp_path, [customer(1)], MAPPING + WRITE_BACK + "touch = false\n"
    )
    before = await everything(connector.contacts(after=None, page_size=5))
    await connector.apply(ProfileChanged(key="1", fields={"first_name": "Quiet"}))
    after = await everything(connector.contacts(after=None, page_size=5))
    assert after[0].cursor == before[0].cursor
    assert after[0].fields["first_name"] == "Quiet"


async def test_a_cursor_from_another_mapping_is_refused(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    connector = await open_shop(engine, tmp_path, [customer(1)])
    with pytest.raises(ConnectorError, match=r"was not made by this mapping"):
        await drain(connector.contacts(after="000000000042", page_size=5))
    with pytest.raises(ValueError, match="page_size"):
        await drain(connector.contacts(after=None, page_size=0))


async def test_open_with_a_url_owns_its_engine(platform_url: str, tmp_path: Path) -> None:
    from chimplink.platforms.sql import platform_engine

    engine = platform_engine(platform_url)
    try:
        await create(engine, customers_table(sa.MetaData()), [customer(1)])
    finally:
        await engine.dispose()
    async with await SqlConnector.open(platform_url, mapping=write(tmp_path, MAPPING)) as connector:
        assert [c.key for c in await everything(connector.contacts(after=None, page_size=5))] == [
            "1"
        ]
