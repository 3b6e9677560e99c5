"""The connector the settings name: each kind opens, serves every tenant, and closes."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from chimplink.config import load_settings
from chimplink.platforms import Connector, ConnectorError
from chimplink.platforms.demo import DemoConnector, DemoPlatform
from chimplink.platforms.registry import open_connectors
from chimplink.platforms.sql import SqlConnector
from tests.platforms.helpers import MAPPING, create, customer, customers_table, write


@dataclass(frozen=True)
class _Installation:
    tenant_id: str


async def test_none_gives_no_factory() -> None:
    async with open_connectors(load_settings()) as factory:
        assert factory is None


async def test_demo_serves_the_demo_database_to_every_tenant(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    await (await DemoPlatform.create(path, contacts=3)).aclose()
    settings = load_settings(connector="demo", connector_url=str(path))
    async with open_connectors(settings) as factory:
        assert factory is not None
        first = await factory(_Installation("a"))
        second = await factory(_Installation("b"))
        assert isinstance(first, DemoConnector) and first is second
        pages = [page async for page in first.contacts(after=None, page_size=10)]
        assert sum(len(page) for page in pages) == 3


async def test_demo_on_a_database_that_is_not_one_is_refused(tmp_path: Path) -> None:
    settings = load_settings(connector="demo", connector_url=str(tmp_path / "empty.db"))
    with pytest.raises(ConnectorError, match="not a demo platform database"):
        async with open_connectors(settings):
            pass


async def test_sql_reads_through_the_mapping_file(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from chimplink.platforms.sql import platform_engine

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = platform_engine(url)
    try:
        await create(engine, customers_table(sa.MetaData()), [customer(1), customer(2)])
    finally:
        await engine.dispose()
    mapping = write(tmp_path, MAPPING)
    settings = load_settings(connector="sql", connector_url=url, connector_mapping=mapping)
    async with open_connectors(settings) as factory:
        assert factory is not None
        connector = await factory(_Installation("t"))
        assert isinstance(connector, SqlConnector)
        emails = [
            c.email async for page in connector.contacts(after=None, page_size=5) for c in page
        ]
        assert emails == ["customer.1@example.com", "customer.2@example.com"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"connector": "demo"}, "needs CHIMPLINK_CONNECTOR_URL"),
        (
            {"connector": "sql", "connector_url": "sqlite:///x.db"},
            "needs CHIMPLINK_CONNECTOR_MAPPING",
        ),
        ({"connector": "python:no_such_module_here:make"}, "cannot import 'no_such_module_here'"),
        ({"connector": "python:json:no_such_function"}, "json has no function 'no_such_function'"),
    ],
)
async def test_incomplete_settings_say_what_is_missing(
    overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ConnectorError, match=message):
        async with open_connectors(load_settings(**overrides)):
            pass


class _Platform:
    """A platform's own connector: contacts per tenant."""

    name = "custom"

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant

    async def describe_fields(self) -> list[object]:
        return []

    async def contacts(self, *, after: str | None, page_size: int):  # type: ignore[no-untyped-def]
        yield []

    async def erasures(self, *, after: str | None, page_size: int):  # type: ignore[no-untyped-def]
        yield []

    async def apply(self, change: object) -> None:
        return None


@pytest.fixture
def custom_module(monkeypatch: pytest.MonkeyPatch) -> str:
    module = types.ModuleType("chimplink_test_platform")

    async def per_tenant(tenant_id: str) -> _Platform:
        return _Platform(tenant_id)

    module.per_tenant = per_tenant  # type: ignore[attr-defined]
    module.not_a_connector = lambda tenant_id: "nope"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module.__name__


async def test_python_connector_is_made_per_tenant(custom_module: str) -> None:
    settings = load_settings(connector=f"python:{custom_module}:per_tenant")
    async with open_connectors(settings) as factory:
        assert factory is not None
        made = await factory(_Installation("tenant-7"))
        assert isinstance(made, Connector) and isinstance(made, _Platform)
        assert made.tenant == "tenant-7"


async def test_python_function_returning_something_else_is_refused(custom_module: str) -> None:
    settings = load_settings(connector=f"python:{custom_module}:not_a_connector")
    async with open_connectors(settings) as factory:
        assert factory is not None
        with pytest.raises(ConnectorError, match="returned str, not a Connector"):
            await factory(_Installation("t"))
