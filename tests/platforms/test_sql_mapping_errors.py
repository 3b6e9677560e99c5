"""Mappings that parse but do not fit the database: each error names the line; nothing is read."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chimplink.platforms import ConnectorError
from chimplink.platforms.mapping_file import MappingError
from chimplink.platforms.sql import SqlConnector, platform_engine
from tests.platforms.helpers import MAPPING, create, customer, customers_table, write

# (name, replace this, with this, line named, words the message must hold)
CORPUS = [
    (
        "no such table",
        'table = "customers"',
        'table = "customer"',
        2,
        "table: no table or view 'customer' in the database; did you mean 'customers'?",
    ),
    (
        "no such key column",
        'key = "id"',
        'key = "ident"',
        3,
        "key: table 'customers' has no column 'ident'",
    ),
    (
        "no such email column",
        'email = "email"',
        'email = "mail"',
        4,
        "email: table 'customers' has no column 'mail'; did you mean 'email'?",
    ),
    (
        "no such cursor column",
        'updated_at = "updated_at"',
        'updated_at = "modified"',
        5,
        "updated_at: table 'customers' has no column 'modified'",
    ),
    (
        "no such consent column",
        'column = "newsletter"',
        'column = "news_letter"',
        8,
        "consent.column: table 'customers' has no column 'news_letter'; did you mean 'newsletter'?",
    ),
    (
        "no such field column",
        'column = "lifetime_value"',
        'column = "ltv"',
        25,
        "fields.ltv.column: table 'customers' has no column 'ltv'",
    ),
    (
        "no such tags column",
        'column = "tags"',
        'column = "labels"',
        29,
        "tags.column: table 'customers' has no column 'labels'",
    ),
    (
        "a timestamp that is not one",
        'updated_at = "updated_at"',
        'updated_at = "lifetime_value"',
        5,
        "updated_at must be a timestamp column",
    ),
    (
        "an integer as updated_at",
        'updated_at = "updated_at"',
        'updated_at = "id"',
        5,
        "updated_at must be a timestamp column; for an integer column use `sequence =`",
    ),
    (
        "a sequence that is not an integer",
        'updated_at = "updated_at"',
        'sequence = "updated_at"',
        5,
        "sequence: column 'updated_at' has type",
    ),
    (
        "a key of a type that cannot be paged",
        'key = "id"',
        'key = "born"',
        3,
        "key: column 'born' has type DATE; a key must be an integer, text or uuid column",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "line", "words"), [case[1:] for case in CORPUS], ids=[case[0] for case in CORPUS]
)
async def test_mapping_that_does_not_fit_the_database(
    engine: AsyncEngine, tmp_path: Path, old: str, new: str, line: int, words: str
) -> None:
    await create(engine, customers_table(sa.MetaData()), [customer(1)])
    assert old in MAPPING
    path = write(tmp_path, MAPPING.replace(old, new))
    with pytest.raises(MappingError) as caught:
        await SqlConnector.open(engine, mapping=path)
    message = str(caught.value)
    assert f"{path}, line {line}: " in message
    assert words in message


async def test_every_database_problem_at_once(engine: AsyncEngine, tmp_path: Path) -> None:
    await create(engine, customers_table(sa.MetaData()), [customer(1)])
    text = MAPPING.replace('"newsletter"', '"deleted"').replace('"tags"', '"tag"') + (
        '\n[erasures]\ntable = "erased"\nkey = "id"\nupdated_at = "at"\n'
        '\n[write_back]\nconsent = "no"\n'
    )
    path = write(tmp_path, text)
    with pytest.raises(MappingError) as caught:
        await SqlConnector.open(engine, mapping=path)
    lines = str(caught.value).splitlines()
    assert [p.line for p in caught.value.problems] == [29, 32, 37]
    assert lines[0] == (
        f"{path}, line 29: tags.column: table 'customers' has no column 'tag'; did you mean 'tags'?"
    )
    assert lines[1].startswith(f"{path}, line 32: erasures.table: no table or view 'erased'")
    assert lines[2] == (
        f"{path}, line 37: write_back.consent: 'no' does not fit column 'deleted' (BOOLEAN)"
    )


async def test_join_table_and_flag_columns_are_checked(engine: AsyncEngine, tmp_path: Path) -> None:
    metadata = sa.MetaData()
    customers_table(metadata)
    sa.Table("customer_labels", metadata, sa.Column("customer_id", sa.Integer))
    await create(engine, metadata.tables["customers"], [customer(1)])
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    text = (
        MAPPING.replace(
            '[tags]\ncolumn = "tags"',
            '[tags]\ntable = "customer_labels"\nkey = "customer"\nlabel = "label"',
        )
        + '\n[erasures]\nflag = "is_deleted"\n'
    )
    path = write(tmp_path, text)
    with pytest.raises(MappingError) as caught:
        await SqlConnector.open(engine, mapping=path)
    assert [p.message for p in caught.value.problems] == [
        "tags.key: table 'customer_labels' has no column 'customer'; did you mean 'customer_id'?",
        "tags.label: table 'customer_labels' has no column 'label' (columns: customer_id)",
        "erasures.flag: table 'customers' has no column 'is_deleted'; did you mean 'deleted'?",
    ]
    assert [p.line for p in caught.value.problems] == [30, 31, 34]


async def test_schema_is_part_of_the_lookup(engine: AsyncEngine, tmp_path: Path) -> None:
    await create(engine, customers_table(sa.MetaData()), [customer(1)])
    path = write(tmp_path, 'schema = "crm"\n' + MAPPING)
    with pytest.raises(MappingError) as caught:
        await SqlConnector.open(engine, mapping=path)
    if engine.dialect.name == "postgresql":
        expected = "line 3: table: no table or view 'customers' in schema 'crm'"
    else:
        expected = "line 1: schema: cannot read schema 'crm': unknown database"
    assert f"{path}, {expected}" in str(caught.value)


async def test_unreachable_or_unknown_databases(tmp_path: Path) -> None:
    path = write(tmp_path, MAPPING)
    with pytest.raises(ConnectorError, match=r"cannot read the platform database postgresql"):
        await SqlConnector.open("postgresql://nobody@127.0.0.1:1/nothing", mapping=path)
    with pytest.raises(ConnectorError, match=r"cannot open nosuchdb://"):
        await SqlConnector.open("nosuchdb://host/db", mapping=path)


def test_urls_get_async_drivers(tmp_path: Path) -> None:
    from chimplink.platforms.sql import platform_url

    assert platform_url("sqlite:///shop.db").drivername == "sqlite+aiosqlite"
    assert platform_url(tmp_path / "shop.db").database == str(tmp_path / "shop.db")
    assert platform_url("shop.db").drivername == "sqlite+aiosqlite"
    assert platform_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert platform_url("postgresql+psycopg2://u@h/db").drivername == "postgresql+psycopg"
    assert platform_url("postgresql+asyncpg://u@h/db").drivername == "postgresql+asyncpg"
    assert platform_url("mysql+aiomysql://u@h/db").drivername == "mysql+aiomysql"


async def test_a_mapping_error_reads_nothing(tmp_path: Path) -> None:
    """The database is only reflected: a broken mapping fails before any row is selected."""
    engine = platform_engine(tmp_path / "shop.db")
    statements: list[str] = []
    sa.event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *rest: statements.append(statement),
    )
    try:
        await create(engine, customers_table(sa.MetaData()), [customer(1)])
        statements.clear()
        with pytest.raises(MappingError):
            await SqlConnector.open(
                engine, mapping=write(tmp_path, MAPPING.replace('"email"', '"mail"', 1))
            )
        assert not [s for s in statements if "FROM customers" in s]
    finally:
        await engine.dispose()
