"""The push API (`/api/v1`) through the whole web app, on SQLite and PostgreSQL.

Negative tests check status, title and detail, and that nothing changed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import structlog.testing
from openapi_schema_validator import OAS31Validator
from sqlalchemy import text

from chimplink.platforms.push import PushConnector
from chimplink.store.push import MAX_BATCH, create_push_key, revoke_push_key
from chimplink.store.tenants import ensure_tenant
from chimplink.web.routes.api_v1 import MAX_BODY_BYTES
from tests.web.harness import PUBLIC_URL, World, row_counts

FIELDS = [
    {"name": "first_name", "label": "First name"},
    {"name": "score", "type": "number"},
    {"name": "signup", "type": "date"},
    {"name": "birthday", "type": "birthday"},
]


@dataclass
class Api:
    """A platform's backend calling the API with one tenant's key."""

    world: World
    client: httpx.AsyncClient
    tenant_id: str
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        return await self.client.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    async def upsert(self, *contacts: Any) -> httpx.Response:
        return await self.call("PUT", "/contacts", json={"contacts": list(contacts)})

    async def keys(self) -> list[str]:
        response = await self.call("GET", "/contacts", params={"limit": MAX_BATCH})
        assert response.status_code == 200, response.text
        return [c["key"] for c in response.json()["contacts"]]


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=world.app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as made:
        yield made


async def platform(world: World, client: httpx.AsyncClient, tenant: str = "shop-1") -> Api:
    async with world.services.sessions.begin() as session:
        found = await ensure_tenant(session=session, external_id=tenant)
        issued = await create_push_key(session=session, tenant_id=found.id)
    api = Api(world, client, found.id, issued.key.get_secret_value())
    declared = await api.call("PUT", "/fields", json={"fields": FIELDS})
    assert declared.status_code == 200, declared.text
    return api


def ann(key: str = "1", **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "email": f"ann.{key}@example.org",
        "consent": "granted",
        "fields": {"first_name": "Ann", "score": 3.5, "signup": "2024-02-29", "birthday": "02/29"},
        "labels": ["customer"],
        **extra,
    }


def assert_problem(response: httpx.Response, status: int, title: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] == title and body["detail"]
    return body


# -- authentication and tenants --------------------------------------------------------------


async def test_every_bad_key_gets_the_same_401_and_changes_nothing(
    world: World, client: httpx.AsyncClient
) -> None:
    api = await platform(world, client)
    async with world.services.sessions.begin() as session:
        revoked = await create_push_key(session=session, tenant_id=api.tenant_id)
        await revoke_push_key(session=session, tenant_id=api.tenant_id, key_id=revoked.info.id)
    before = await row_counts(world)
    attempts: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {api.key}"},
        {"Authorization": f"Bearer {api.key[:-2]}"},
        {"Authorization": "Bearer clk_" + "A" * 43},
        {"Authorization": f"Bearer {revoked.key.get_secret_value()}"},
    ]
    bodies = []
    with structlog.testing.capture_logs() as logs:
        for headers in attempts:
            response = await client.put(
                "/api/v1/contacts", json={"contacts": [ann()]}, headers=headers
            )
            body = assert_problem(response, 401, "Unauthorized")
            assert response.headers["www-authenticate"] == 'Bearer realm="chimplink"'
            bodies.append(body)
            # The key is checked before the body: a malformed one gets 401 too.
            response = await client.put("/api/v1/contacts", content=b"{", headers=headers)
            assert response.status_code == 401
    assert all(body == bodies[0] for body in bodies)
    assert await row_counts(world) == before
    assert api.key not in repr(logs) and revoked.key.get_secret_value() not in repr(logs)


async def test_a_tenant_never_sees_nor_changes_another_tenants_contacts(
    world: World, client: httpx.AsyncClient
) -> None:
    ours = await platform(world, client, "shop-1")
    theirs = await platform(world, client, "shop-2")
    assert (await ours.upsert(ann("1"), ann("only-ours"))).status_code == 200
    assert (await theirs.upsert(ann("1", email="bob@example.org"))).status_code == 200

    assert await ours.keys() == ["1", "only-ours"]
    assert await theirs.keys() == ["1"]
    assert (await theirs.call("GET", "/contacts/1")).json()["email"] == "bob@example.org"
    assert_problem(await theirs.call("GET", "/contacts/only-ours"), 404, "Not found")
    assert_problem(await theirs.call("DELETE", "/contacts/only-ours"), 404, "Not found")
    deleted = await theirs.call("POST", "/contacts/delete", json={"keys": ["only-ours", "1"]})
    assert deleted.json()["counts"] == {"deleted": 1, "erased": 0, "not_found": 1}
    assert await ours.keys() == ["1", "only-ours"]
    assert (await ours.call("GET", "/contacts/1")).json()["email"] == "ann.1@example.org"


# -- upserts ------------------------------------------------------------------------------------


async def test_each_contact_is_checked_on_its_own(world: World, client: httpx.AsyncClient) -> None:
    api = await platform(world, client)
    response = await api.upsert(
        ann("ok"),
        ann("bad-email", email="ann at example.org"),
        ann("bad-types", fields={"score": "3", "signup": "29/02/2024", "birthday": "13/40"}),
        ann("text-as-number", fields={"first_name": 7}),
        ann("unknown-field", fields={"shoe_size": 44}),
        ann("bad-consent", consent="yes"),
        {"email": "nokey@example.org"},
        ann("extra", colour="blue"),
        ann("labels", labels="vip"),
        ann(" padded", email="padded@example.org"),
        "not an object",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "invalid": 10}
    results = {r["index"]: r for r in body["results"]}
    assert results[0] == {"index": 0, "key": "ok", "status": "created", "errors": []}

    def errors(index: int) -> dict[str, str]:
        assert results[index]["status"] == "invalid"
        return {e["field"]: e["message"] for e in results[index]["errors"]}

    assert errors(1) == {"email": "not an email address"}
    assert errors(2) == {
        "fields.score": "must be a JSON number for a number field",
        "fields.signup": "must be a date written YYYY-MM-DD",
        "fields.birthday": "must be a birthday written MM/DD",
    }
    assert errors(3) == {"fields.first_name": "must be text (a JSON string) for a text field"}
    assert errors(4) == {
        "fields.shoe_size": "not a declared field (declare it with PUT /api/v1/fields)"
    }
    assert set(errors(5)) == {"consent"} and "granted" in errors(5)["consent"]
    assert errors(6) == {"key": "Field required"}
    assert results[6]["key"] is None
    assert errors(7) == {"colour": "Extra inputs are not permitted"}
    assert set(errors(8)) == {"labels"}
    assert errors(9) == {"key": "must not start or end with whitespace"}
    assert errors(10) == {"": "must be a JSON object"}
    assert await api.keys() == ["ok"]


async def test_a_key_twice_in_one_request_is_refused_both_times(
    world: World, client: httpx.AsyncClient
) -> None:
    api = await platform(world, client)
    response = await api.upsert(ann("a"), ann("b"), ann("a", email="other@example.org"))
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["invalid", "created", "invalid"]
    assert results[0]["errors"] == [
        {"field": "key", "message": "appears more than once in this request (items 0, 2)"}
    ]
    assert await api.keys() == ["b"]


async def test_a_bad_request_changes_nothing(world: World, client: httpx.AsyncClient) -> None:
    api = await platform(world, client)
    before = await row_counts(world)

    too_many = await api.upsert(*(ann(str(n)) for n in range(MAX_BATCH + 1)))
    body = assert_problem(too_many, 422, "Too many contacts")
    assert f"At most {MAX_BATCH} contacts per request, not {MAX_BATCH + 1}" in body["detail"]

    malformed = await api.call("PUT", "/contacts", content=b'{"contacts": [')
    assert_problem(malformed, 400, "Malformed JSON")
    for shape in ([ann()], {"contacts": ann()}, {"contacts": [ann()], "mode": "merge"}):
        assert_problem(await api.call("PUT", "/contacts", json=shape), 422, "Invalid request")

    huge = b'{"contacts": [' + b" " * MAX_BODY_BYTES + b"]}"
    assert_problem(await api.call("PUT", "/contacts", content=huge), 413, "Request too large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"contacts": ['
        for _ in range(9):
            yield b" " * (1024 * 1024)
        yield b"]}"

    chunked = await api.call("PUT", "/contacts", content=chunks())
    assert_problem(chunked, 413, "Request too large")
    assert await row_counts(world) == before


async def test_a_full_batch_then_a_repeat_then_one_change(
    world: World, client: httpx.AsyncClient
) -> None:
    api = await platform(world, client)
    people = [ann(str(n)) for n in range(MAX_BATCH)]
    first = await api.upsert(*people)
    assert first.json()["counts"]["created"] == MAX_BATCH
    repeat = await api.upsert(*people)
    assert repeat.json()["counts"] == {
        "created": 0,
        "updated": 0,
        "unchanged": MAX_BATCH,
        "invalid": 0,
    }
    page = (await api.call("GET", "/contacts", params={"limit": 1, "after": None})).json()
    assert page["has_more"] is True

    last = (await api.call("GET", "/contacts/999")).json()["cursor"]
    changed = await api.upsert(ann("5", consent="withdrawn"))
    assert changed.json()["results"][0]["status"] == "updated"
    since = (await api.call("GET", "/contacts", params={"after": last})).json()
    assert [c["key"] for c in since["contacts"]] == ["5"]
    assert since["contacts"][0]["consent"] == "withdrawn"
    assert since["has_more"] is False and since["next"] > last


async def test_pages_in_change_order(world: World, client: httpx.AsyncClient) -> None:
    api = await platform(world, client)
    await api.upsert(*(ann(str(n)) for n in range(25)))
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 10, **({"after": after} if after else {})}
        page = (await api.call("GET", "/contacts", params=params)).json()
        seen += [c["key"] for c in page["contacts"]]
        after, pages = page["next"], pages + 1
        if not page["has_more"]:
            break
    assert seen == [str(n) for n in range(25)] and pages == 3
    empty = (await api.call("GET", "/contacts", params={"after": after})).json()
    assert empty == {"contacts": [], "next": after, "has_more": False}

    contact = (await api.call("GET", "/contacts/3")).json()
    assert contact["fields"] == {
        "first_name": "Ann",
        "score": 3.5,
        "signup": "2024-02-29",
        "birthday": "02/29",
    }
    assert contact["labels"] == ["customer"] and contact["updated_at"].endswith("Z")

    for bad in ({"after": "yesterday"}, {"limit": 0}, {"limit": MAX_BATCH + 1}):
        response = await api.call("GET", "/contacts", params=bad)
        assert response.status_code == 422 and response.json()["errors"]


# -- deletes and erasures ---------------------------------------------------------------------


async def test_delete_and_erase(world: World, client: httpx.AsyncClient) -> None:
    api = await platform(world, client)
    await api.upsert(*(ann(str(n)) for n in range(5)), ann("a/b"))
    assert (await api.call("DELETE", "/contacts/0")).status_code == 204
    assert_problem(await api.call("DELETE", "/contacts/0"), 404, "Not found")
    assert (await api.call("DELETE", "/contacts/a/b", params={"erase": "true"})).status_code == 204
    bulk = await api.call("POST", "/contacts/delete", json={"keys": ["1", "2", "9"], "erase": True})
    assert bulk.json() == {
        "results": [
            {"key": "1", "status": "erased"},
            {"key": "2", "status": "erased"},
            {"key": "9", "status": "not_found"},
        ],
        "counts": {"deleted": 0, "erased": 2, "not_found": 1},
    }
    assert await api.keys() == ["3", "4"]

    connector = PushConnector(sessions=world.services.sessions, tenant_id=api.tenant_id)
    erased = [e async for page in connector.erasures(after=None, page_size=10) for e in page]
    assert [(e.key, e.email) for e in erased] == [
        ("a/b", "ann.a/b@example.org"),
        ("1", "ann.1@example.org"),
        ("2", "ann.2@example.org"),
    ]

    before = await row_counts(world)
    for body in ({"keys": "1"}, {"keys": ["x"] * (MAX_BATCH + 1)}, {"keys": [""]}, {"erase": 1}):
        response = await api.call("POST", "/contacts/delete", json=body)
        assert_problem(response, 422, "Invalid request")
    assert await row_counts(world) == before


# -- fields ---------------------------------------------------------------------------------------


async def test_fields_are_declared_and_checked(world: World, client: httpx.AsyncClient) -> None:
    api = await platform(world, client)
    listed = (await api.call("GET", "/fields")).json()["fields"]
    assert listed[0] == {"name": "first_name", "type": "text", "label": "First name"}
    assert listed[1] == {"name": "score", "type": "number", "label": "score"}
    before = await row_counts(world)
    for fields, where in (
        ([{"name": "1st"}], "fields.0.name"),
        ([{"name": "a"}, {"name": "a"}], "fields"),
        ([{"name": "a", "type": "boolean"}], "fields.0.type"),
        ([{"name": "a", "colour": "red"}], "fields.0.colour"),
    ):
        response = await api.call("PUT", "/fields", json={"fields": fields})
        body = assert_problem(response, 422, "Invalid fields")
        assert [e["field"] for e in body["errors"]] == [where]
    assert await row_counts(world) == before
    assert (await api.call("GET", "/fields")).json()["fields"] == listed


# -- the API as an API ----------------------------------------------------------------------------


async def test_the_openapi_document_describes_the_api(
    world: World, client: httpx.AsyncClient
) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1") and document["servers"] == [{"url": "/api/v1"}]
    assert set(document["paths"]) == {"/fields", "/contacts", "/contacts/{key}", "/contacts/delete"}
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A tenant's push API key (`chimplink push-key create --tenant T`).",
    }
    upsert = document["paths"]["/contacts"]["put"]
    assert upsert["security"] == [{"apiKey": []}]
    schemas = document["components"]["schemas"]
    body_ref = upsert["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref == "#/components/schemas/UpsertRequest"
    assert schemas["UpsertRequest"]["properties"]["contacts"]["maxItems"] == MAX_BATCH
    assert set(schemas["ContactIn"]["required"]) == {"key", "email"}
    # Every schema is valid JSON Schema, and a real request body and answer conform.
    for schema in schemas.values():
        OAS31Validator.check_schema(schema)
    resolver = {"components": document["components"]}

    def valid(name: str, instance: Any) -> bool:
        return OAS31Validator({**schemas[name], **resolver}).is_valid(instance)

    assert valid("UpsertRequest", {"contacts": [ann()]})
    assert not valid("UpsertRequest", {"contacts": [{"email": "x@example.org"}]})
    api = await platform(world, client)
    assert valid("UpsertResult", (await api.upsert(ann(), ann("2", email="x"))).json())
    assert valid("ContactPage", (await api.call("GET", "/contacts")).json())
    # The UI app itself still publishes no document.
    assert (await client.get("/openapi.json")).status_code == 404


async def test_unknown_addresses_and_methods_answer_in_json(
    world: World, client: httpx.AsyncClient
) -> None:
    api = await platform(world, client)
    assert_problem(await api.call("GET", "/nowhere"), 404, "Not found")
    assert_problem(await api.call("PATCH", "/contacts"), 405, "Method not allowed")
    # A newline in the path (found by fuzzing) still gets the API's JSON, not the UI's page.
    assert_problem(await api.call("GET", "/contacts/a%0Ab"), 404, "Not found")
    assert_problem(await api.call("GET", "/x%0A"), 404, "Not found")


async def test_an_internal_error_is_a_json_500_without_details(
    world: World, client: httpx.AsyncClient
) -> None:
    api = await platform(world, client)
    async with world.services.engine.begin() as connection:
        await connection.execute(text("DROP TABLE push_contacts"))
    with structlog.testing.capture_logs() as logs:
        response = await api.upsert(ann())
    body = assert_problem(response, 500, "Internal error")
    assert "push_contacts" not in response.text and "Traceback" not in response.text
    assert "safe to repeat" in body["detail"]
    assert json.loads(response.text)["type"] == "about:blank"
    [logged] = [line for line in logs if line["event"] == "web.api_error"]
    assert logged["error_id"] in body["detail"]
