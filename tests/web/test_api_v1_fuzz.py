"""Fuzzing the push API with schemathesis, from its own OpenAPI document.

The app is served over a real socket (SQLite, a tenant with a key and declared
fields); requests are generated from `/api/v1/openapi.json`, with the key.
The checks: never a 5xx, always the documented content type, and every
answer matches its documented schema — so bad input always gets a clear
problem document, never a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)
from starlette.datastructures import State

from chimplink.emulator.testing import serve
from chimplink.store.db import make_engine, make_session_factory
from chimplink.store.migrate import upgrade
from chimplink.store.push import PushField, create_push_key, set_push_fields
from chimplink.store.tenants import ensure_tenant
from chimplink.web import create_app
from chimplink.web.routes.api_v1 import create_api
from tests.web.harness import make_settings

SCHEMA = schemathesis.openapi.from_dict(create_api(State()).openapi())


async def _tenant_key(url: str) -> str:
    engine = make_engine(url)
    try:
        async with make_session_factory(engine).begin() as session:
            tenant = await ensure_tenant(session=session, external_id="fuzz")
            await set_push_fields(
                session=session,
                tenant_id=tenant.id,
                fields=[PushField("name", "text", "Name"), PushField("ltv", "number", "LTV")],
            )
            issued = await create_push_key(session=session, tenant_id=tenant.id)
        return issued.key.get_secret_value()
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def served_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    directory: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite+aiosqlite:///{directory / 'chimplink.db'}"
    upgrade(url)
    key = asyncio.run(_tenant_key(url))
    app = create_app(make_settings(url), run_jobs=False)
    with serve(app) as served:  # type: ignore[arg-type]
        yield f"{served.url}/api/v1", key


@SCHEMA.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
    derandomize=True,
)
def test_no_server_errors_and_every_answer_conforms(case: Any, served_api: tuple[str, str]) -> None:
    base_url, key = served_api
    case.call_and_validate(
        base_url=base_url,
        headers={"Authorization": f"Bearer {key}"},
        checks=[not_a_server_error, content_type_conformance, response_schema_conformance],
    )
