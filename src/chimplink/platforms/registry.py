"""Which platform an installation syncs with: the connector named by the settings.

    async with open_connectors(settings) as connectors:
        connector = await connectors(installation)   # None: no platform configured

`CHIMPLINK_CONNECTOR` chooses the kind:

- `none` (default): no platform; chimplink connects accounts but syncs nothing;
- `demo`: the demo platform's SQLite database at `CHIMPLINK_CONNECTOR_URL`;
- `sql`: any database at `CHIMPLINK_CONNECTOR_URL`, read through the mapping
  file `CHIMPLINK_CONNECTOR_MAPPING`;
- `push`: contacts the platform pushed to chimplink's REST API (chimplink's own
  database, one set per tenant);
- `python:<module>:<function>`: a platform's own connector in Python;
  `function(tenant_id)` returns a `Connector` (or an awaitable of one).

The factory is opened once per process and owns the connectors' lifetime:
connections close when the `async with` block ends. Every installation of
one tenant gets the same connector; the demo and sql connectors serve one
platform database, so they are shared by every tenant.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Protocol

from chimplink.config import Settings
from chimplink.platforms.base import Connector, ConnectorError

__all__ = ["ConnectorFactory", "HasTenant", "open_connectors"]


class HasTenant(Protocol):
    """What the factory needs of an installation (store.Installation has it)."""

    @property
    def tenant_id(self) -> str: ...


ConnectorFactory = Callable[[HasTenant], Awaitable[Connector | None]]


@asynccontextmanager
async def open_connectors(
    settings: Settings, *, sessions: Any = None
) -> AsyncIterator[ConnectorFactory | None]:
    """The configured factory (None for `none`); `ConnectorError` says what is wrong.

    `sessions` is chimplink's own session factory, which the `push` connector
    reads from.
    """
    kind = settings.connector
    async with AsyncExitStack() as stack:
        if kind == "none":
            yield None
        elif kind == "demo":
            yield _shared(await stack.enter_async_context(await _demo(settings)))
        elif kind == "sql":
            yield _shared(await stack.enter_async_context(await _sql(settings)))
        elif kind == "push":
            yield _push(sessions)
        elif kind.startswith("python:"):
            yield _python(kind)
        else:
            raise ConnectorError(f"the {kind!r} connector is not available in this build")


def _shared(connector: Connector) -> ConnectorFactory:
    async def factory(installation: HasTenant) -> Connector:
        return connector

    return factory


def _push(sessions: Any) -> ConnectorFactory:
    """Each tenant's pushed contacts, in chimplink's own database."""
    if sessions is None:
        raise ConnectorError(
            "CHIMPLINK_CONNECTOR=push reads chimplink's own database: pass its sessions"
        )
    from chimplink.platforms.push import PushConnector

    async def factory(installation: HasTenant) -> Connector:
        return PushConnector(sessions=sessions, tenant_id=installation.tenant_id)

    return factory


def _require_url(settings: Settings) -> str:
    if not settings.connector_url:
        raise ConnectorError(
            f"CHIMPLINK_CONNECTOR={settings.connector} needs CHIMPLINK_CONNECTOR_URL: "
            "the platform's database (an SQLAlchemy URL or an SQLite file path)"
        )
    return settings.connector_url


async def _demo(settings: Settings) -> Any:
    from chimplink.platforms.demo import DemoPlatform

    platform = await DemoPlatform.open(_require_url(settings))
    return _Closing(platform, platform.connector())


async def _sql(settings: Settings) -> Any:
    from chimplink.platforms.sql import SqlConnector

    if settings.connector_mapping is None:
        raise ConnectorError(
            "CHIMPLINK_CONNECTOR=sql needs CHIMPLINK_CONNECTOR_MAPPING: the mapping file "
            "(TOML) that names the table and columns to read"
        )
    return await SqlConnector.open(_require_url(settings), mapping=settings.connector_mapping)


class _Closing:
    """An async context manager that yields `connector` and closes `owner` after."""

    def __init__(self, owner: Any, connector: Connector) -> None:
        self._owner, self._connector = owner, connector

    async def __aenter__(self) -> Connector:
        return self._connector

    async def __aexit__(self, *exc: object) -> None:
        await self._owner.aclose()


def _python(spec: str) -> ConnectorFactory:
    module_name, _, name = spec.removeprefix("python:").partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConnectorError(
            f"CHIMPLINK_CONNECTOR: cannot import {module_name!r} ({exc})"
        ) from None
    function = getattr(module, name, None)
    if not callable(function):
        raise ConnectorError(f"CHIMPLINK_CONNECTOR: {module_name} has no function {name!r}")

    async def factory(installation: HasTenant) -> Connector | None:
        made = function(installation.tenant_id)
        if inspect.isawaitable(made):
            made = await made
        if made is not None and not isinstance(made, Connector):
            raise ConnectorError(
                f"CHIMPLINK_CONNECTOR: {module_name}.{name} returned {type(made).__name__}, "
                "not a Connector"
            )
        return made

    return factory
