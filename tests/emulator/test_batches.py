"""Batch operations (`/batches`), their results archive, and batch webhooks (REFERENCE.md §7)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import tarfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from chimplink.emulator import create_app
from chimplink.emulator.testing import serve
from tests.conformance import assert_conforms
from tests.conftest import Account, Emulator

Build = Callable[..., Awaitable[Emulator]]


@pytest.fixture(params=["inprocess", "served"])
async def build(request: pytest.FixtureRequest) -> AsyncIterator[Build]:
    """Build an emulator with its own settings (batch mode, webhook transport), both ways."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(**overrides: Any) -> Emulator:
            app = create_app(**overrides)
            if request.param == "inprocess":
                stack.push_async_callback(app.aclose)
                client = await stack.enter_async_context(
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app), base_url="http://mailchimp.test"
                    )
                )
                return Emulator(app, client, "http://mailchimp.test", "inprocess")
            served = stack.enter_context(serve(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(base_url=served.url, timeout=30)
            )
            return Emulator(app, client, served.url, "served")

        yield make


@dataclass
class Receiver:
    """A webhook receiver behind the emulator's outgoing transport.

    GET answers 200 on /ok and /flaky, 404 elsewhere; POST to /flaky fails once.
    """

    seen: list[httpx.Request] = field(default_factory=list)
    flaky_failures: int = 1

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.seen.append(request)
        path = request.url.path
        if path not in ("/ok", "/flaky"):
            return httpx.Response(404)
        if request.method == "POST" and path == "/flaky" and self.flaky_failures > 0:
            self.flaky_failures -= 1
            return httpx.Response(503)
        return httpx.Response(200)

    def posts(self, path: str) -> list[httpx.Request]:
        return [r for r in self.seen if r.method == "POST" and r.url.path == path]

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll `check` every 10 ms until it holds; fail after 10 s."""
    deadline = time.monotonic() + 10.0
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def finished(account: Account, batch_id: str) -> dict[str, Any]:
    """Poll GET /batches/{id} until the batch is finished."""
    body: dict[str, Any] = {}

    async def done() -> bool:
        nonlocal body
        body = (await account.get(f"/batches/{batch_id}")).json()
        return body["status"] == "finished"

    await eventually(done)
    return body


async def download(emulator: Emulator, url: str) -> list[dict[str, Any]]:
    """Fetch the results archive (no credentials) and return every result entry."""
    response = await emulator.client.get(url)
    assert response.status_code == 200
    entries: list[dict[str, Any]] = []
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as tar:
        for member in tar.getmembers():
            assert member.isfile() and member.name.endswith(".json")
            handle = tar.extractfile(member)
            assert handle is not None
            content = json.loads(handle.read())
            assert isinstance(content, list)
            entries.extend(content)
    return entries


async def submit(account: Account, *operations: dict[str, Any]) -> dict[str, Any]:
    response = await account.post("/batches", json={"operations": list(operations)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- submission and results -------------------------------------------------------------


async def test_batch_runs_operations_and_serves_results(
    emulator: Emulator, account: Account
) -> None:
    response = await account.post(
        "/batches",
        json={
            "operations": [
                {"method": "GET", "path": "/ping", "operation_id": "ping"},
                {"method": "GET", "path": "/", "operation_id": "root"},
                {"method": "GET", "path": "/lists/unknown", "operation_id": "missing"},
                {"method": "DELETE", "path": "/ping"},
            ]
        },
    )
    created = assert_conforms(response, "POST", "/batches")
    assert created["status"] == "pending"
    assert created["total_operations"] == 4
    assert created["finished_operations"] == 0
    assert created["response_body_url"] == ""
    assert created["completed_at"] == ""

    await finished(account, created["id"])
    body = assert_conforms(
        await account.get(f"/batches/{created['id']}"), "GET", "/batches/{batch_id}"
    )
    assert body["status"] == "finished"
    assert (body["total_operations"], body["finished_operations"]) == (4, 4)
    assert body["errored_operations"] == 2
    assert body["completed_at"] >= body["submitted_at"]
    assert body["response_body_url"] == (
        f"{emulator.base_url}/batch-results/{created['id']}.tar.gz"
    )

    entries = await download(emulator, body["response_body_url"])
    by_id = {entry["operation_id"]: entry for entry in entries}
    assert set(by_id) == {"ping", "root", "missing", None}
    for entry in entries:
        # Mailchimp's format: the response is a JSON *string* (REFERENCE.md §7.2).
        assert isinstance(entry["response"], str)
        assert isinstance(entry["status_code"], int)
    assert by_id["ping"]["status_code"] == 200
    assert json.loads(by_id["ping"]["response"]) == {"health_status": "Everything's Chimpy!"}
    assert by_id["root"]["status_code"] == 200
    assert json.loads(by_id["root"]["response"])["account_id"] == account.info["account_id"]
    assert by_id["missing"]["status_code"] == 404
    assert json.loads(by_id["missing"]["response"])["title"] == "Resource Not Found"
    assert by_id[None]["status_code"] == 405
    assert json.loads(by_id[None]["response"])["title"] == "Method Not Allowed"


async def test_operation_body_is_a_json_string_and_params_are_the_query(
    emulator: Emulator, account: Account
) -> None:
    created = await submit(
        account,
        {
            "method": "POST",
            "path": "/file-manager/folders",
            "operation_id": "make",
            "body": json.dumps({"name": "From a batch"}),
        },
        {
            "method": "POST",
            "path": "/file-manager/folders",
            "operation_id": "broken",
            "body": "{not json",
        },
        {
            "method": "GET",
            "path": "/file-manager/folders",
            "operation_id": "names",
            "params": {"fields": ["folders.name", "total_items"], "count": 5},
        },
    )
    body = await finished(account, created["id"])
    assert body["errored_operations"] == 1
    by_id = {e["operation_id"]: e for e in await download(emulator, body["response_body_url"])}
    assert json.loads(by_id["make"]["response"])["name"] == "From a batch"
    assert by_id["broken"]["status_code"] == 400
    assert json.loads(by_id["broken"]["response"])["title"] == "JSON Parse Exception"
    assert json.loads(by_id["names"]["response"]) == {
        "folders": [{"name": "From a batch"}],
        "total_items": 1,
    }
    # The batch ran on Mailchimp's side: the folder exists for the account.
    listed = (await account.get("/file-manager/folders")).json()
    assert [f["name"] for f in listed["folders"]] == ["From a batch"]


async def test_get_without_count_pages_through_the_whole_collection(
    emulator: Emulator, account: Account
) -> None:
    make = [
        {"method": "POST", "path": "/file-manager/folders", "body": json.dumps({"name": f"f{i}"})}
        for i in range(1001)
    ]
    await finished(account, (await submit(account, *make))["id"])
    created = await submit(
        account, {"method": "GET", "path": "/file-manager/folders", "operation_id": "all"}
    )
    body = await finished(account, created["id"])
    # Each page counts as an operation (REFERENCE.md §7.2).
    assert (body["total_operations"], body["finished_operations"]) == (2, 2)
    entries = await download(emulator, body["response_body_url"])
    assert [e["operation_id"] for e in entries] == ["all", "all"]
    pages = [json.loads(e["response"]) for e in entries]
    assert sorted(len(p["folders"]) for p in pages) == [1, 1000]
    assert {f["name"] for p in pages for f in p["folders"]} == {f"f{i}" for i in range(1001)}


async def test_bad_operations_are_invalid_resource(account: Account) -> None:
    missing_method = await account.post("/batches", json={"operations": [{"path": "/ping"}]})
    body = assert_conforms(missing_method, "POST", "/batches")
    assert missing_method.status_code == 400
    assert body["title"] == "Invalid Resource"
    assert body["errors"] == [
        {"field": "operations.0", "message": "Required fields were not provided: method"}
    ]

    missing_path = await account.post("/batches", json={"operations": [{"method": "GET"}]})
    assert missing_path.status_code == 400
    assert "path" in missing_path.json()["errors"][0]["message"]

    bad_method = await account.post(
        "/batches", json={"operations": [{"method": "FETCH", "path": "/ping"}]}
    )
    assert bad_method.status_code == 400
    assert bad_method.json()["errors"][0]["field"] == "operations.0.method"

    object_body = await account.post(
        "/batches",
        json={"operations": [{"method": "POST", "path": "/lists", "body": {"name": "x"}}]},
    )
    assert object_body.status_code == 400
    assert object_body.json()["errors"] == [
        {"field": "operations.0.body", "message": "Schema describes string, object found instead"}
    ]

    no_operations = await account.post("/batches", json={})
    assert no_operations.status_code == 400
    assert "operations" in no_operations.json()["errors"][0]["message"]

    not_json = await account.post("/batches", content=b"{oops")
    assert not_json.status_code == 400
    assert not_json.json()["title"] == "JSON Parse Exception"


async def test_unknown_batch_is_404(emulator: Emulator, account: Account) -> None:
    got = await account.get("/batches/nope")
    assert got.status_code == 404
    assert assert_conforms(got, "GET", "/batches/{batch_id}")["title"] == "Resource Not Found"
    deleted = await account.delete("/batches/nope")
    assert deleted.status_code == 404
    assert_conforms(deleted, "DELETE", "/batches/{batch_id}")
    archive = await emulator.client.get("/batch-results/nope.tar.gz")
    assert archive.status_code == 404


async def test_batches_belong_to_their_account(emulator: Emulator, account: Account) -> None:
    created = await submit(account, {"method": "GET", "path": "/ping"})
    other = await emulator.account("Other Co")
    assert (await other.get(f"/batches/{created['id']}")).status_code == 404
    assert (await other.get("/batches")).json()["total_items"] == 0


async def test_list_batches_pages(account: Account) -> None:
    ids = [(await submit(account, {"method": "GET", "path": "/ping"}))["id"] for _ in range(3)]
    first = await account.get("/batches", params={"count": 2})
    body = assert_conforms(first, "GET", "/batches")
    assert body["total_items"] == 3
    assert [b["id"] for b in body["batches"]] == ids[:2]
    rest = (await account.get("/batches", params={"count": 2, "offset": 2})).json()
    assert [b["id"] for b in rest["batches"]] == ids[2:]
    bad = await account.get("/batches", params={"count": 5000})
    assert bad.status_code == 400
    assert_conforms(bad, "GET", "/batches")


async def test_delete_batch_forgets_it_and_its_results(
    emulator: Emulator, account: Account
) -> None:
    created = await submit(account, {"method": "GET", "path": "/ping"})
    body = await finished(account, created["id"])
    deleted = await account.delete(f"/batches/{created['id']}")
    assert deleted.status_code == 204
    assert_conforms(deleted, "DELETE", "/batches/{batch_id}")
    assert (await account.get(f"/batches/{created['id']}")).status_code == 404
    assert (await emulator.client.get(body["response_body_url"])).status_code == 404


async def test_batch_operations_take_no_connection_and_get_no_faults(build: Build) -> None:
    emulator = await build(batch_mode="manual", max_connections=1)
    account = await emulator.account()
    account_id = account.info["account_id"]
    ops = [{"method": "GET", "path": "/ping", "operation_id": str(i)} for i in range(20)]
    held, faulted = (await submit(account, *ops))["id"], (await submit(account, *ops))["id"]

    # A slow client request holds the account's only connection while a batch runs.
    await emulator.client.post("/_emulator/config", json={"latency_ms": 400})
    slow = asyncio.create_task(account.get("/ping"))

    async def in_flight() -> bool:
        stats = await emulator.control.stats()
        return bool(stats["accounts"][account_id]["in_flight"] == 1)

    await eventually(in_flight)
    for _ in range(4):
        await emulator.client.post(f"/_emulator/batches/{held}/advance")
    assert (await slow).status_code == 200

    # Every client request would now fail; the batch's operations do not.
    await emulator.client.post("/_emulator/config", json={"latency_ms": 0, "fault_rate": 1.0})
    for _ in range(4):
        await emulator.client.post(f"/_emulator/batches/{faulted}/advance")
    await emulator.client.post("/_emulator/config", json={"fault_rate": 0.0})

    for batch_id in (held, faulted):
        body = (await account.get(f"/batches/{batch_id}")).json()
        assert (body["status"], body["errored_operations"]) == ("finished", 0)
        entries = await download(emulator, body["response_body_url"])
        assert len(entries) == 20
        assert {e["status_code"] for e in entries} == {200}
    # Batch operations are not client requests: only the slow GET /ping is counted.
    stats = (await emulator.control.stats())["accounts"][account_id]
    assert stats["requests"]["GET /ping"] == {"200": 1}
    assert stats["throttled"] == 0


# -- manual mode: the control plane steps each status --------------------------------------


async def test_advance_steps_through_every_status(build: Build) -> None:
    emulator = await build(batch_mode="manual")
    account = await emulator.account()
    created = await submit(
        account,
        {"method": "GET", "path": "/ping", "operation_id": "a"},
        {"method": "GET", "path": "/nowhere", "operation_id": "b"},
    )
    seen = [created["status"]]
    for _ in range(4):
        response = await emulator.client.post(f"/_emulator/batches/{created['id']}/advance")
        assert response.status_code == 200
        step = response.json()
        seen.append(step["status"])
        current = (await account.get(f"/batches/{created['id']}")).json()
        assert current["status"] == step["status"]
        if step["status"] in ("pending", "preprocessing", "started"):
            assert current["finished_operations"] == 0
            assert current["response_body_url"] == ""
        if step["status"] == "finalizing":
            assert (current["finished_operations"], current["errored_operations"]) == (2, 1)
            assert current["response_body_url"] == ""
    assert seen == ["pending", "preprocessing", "started", "finalizing", "finished"]
    done = (await account.get(f"/batches/{created['id']}")).json()
    entries = await download(emulator, done["response_body_url"])
    assert {e["operation_id"]: e["status_code"] for e in entries} == {"a": 200, "b": 404}

    again = await emulator.client.post(f"/_emulator/batches/{created['id']}/advance")
    assert again.status_code == 400
    assert again.json()["title"] == "Invalid Action"
    unknown = await emulator.client.post("/_emulator/batches/nope/advance")
    assert unknown.status_code == 404


async def test_more_than_500_pending_batches_is_429(build: Build) -> None:
    emulator = await build(batch_mode="manual")
    account = await emulator.account()
    ids = [(await submit(account, {"method": "GET", "path": "/ping"}))["id"] for _ in range(500)]
    refused = await account.post(
        "/batches", json={"operations": [{"method": "GET", "path": "/ping"}]}
    )
    assert refused.status_code == 429
    body = assert_conforms(refused, "POST", "/batches")
    assert body["title"] == "Too Many Requests"
    assert body["detail"] == (
        "You have more than 500 pending webhooks. "
        "Please wait for some to complete before adding any more batches."
    )
    # Another account is not affected, and one batch leaving "pending" makes room.
    other = await emulator.account("Other Co")
    await submit(other, {"method": "GET", "path": "/ping"})
    advanced = await emulator.client.post(f"/_emulator/batches/{ids[0]}/advance")
    assert advanced.json()["status"] == "preprocessing"
    await submit(account, {"method": "GET", "path": "/ping"})


async def test_delete_stops_a_batch_before_it_runs(build: Build) -> None:
    emulator = await build(batch_mode="manual")
    account = await emulator.account()
    created = await submit(
        account,
        {"method": "POST", "path": "/file-manager/folders", "body": json.dumps({"name": "x"})},
    )
    for _ in range(2):
        await emulator.client.post(f"/_emulator/batches/{created['id']}/advance")
    assert (await account.delete(f"/batches/{created['id']}")).status_code == 204
    gone = await emulator.client.post(f"/_emulator/batches/{created['id']}/advance")
    assert gone.status_code == 404
    assert (await account.get("/file-manager/folders")).json()["total_items"] == 0


# -- batch webhooks -----------------------------------------------------------------------


async def test_batch_webhook_crud(build: Build) -> None:
    receiver = Receiver()
    emulator = await build(webhook_transport=receiver.transport)
    account = await emulator.account()

    created = await account.post("/batch-webhooks", json={"url": "https://hooks.example/ok"})
    hook = assert_conforms(created, "POST", "/batch-webhooks")
    assert hook["url"] == "https://hooks.example/ok"
    assert hook["enabled"] is True
    validation = receiver.seen[-1]
    assert validation.method == "GET"
    assert validation.headers["user-agent"] == "MailChimp.com WebHook Validator"

    got = assert_conforms(
        await account.get(f"/batch-webhooks/{hook['id']}"),
        "GET",
        "/batch-webhooks/{batch_webhook_id}",
    )
    assert got == hook
    listed = assert_conforms(await account.get("/batch-webhooks"), "GET", "/batch-webhooks")
    assert listed["total_items"] == 1
    assert [h["id"] for h in listed["webhooks"]] == [hook["id"]]

    patched = await account.patch(f"/batch-webhooks/{hook['id']}", json={"enabled": False})
    body = assert_conforms(patched, "PATCH", "/batch-webhooks/{batch_webhook_id}")
    assert body["enabled"] is False and body["url"] == hook["url"]
    moved = await account.patch(
        f"/batch-webhooks/{hook['id']}", json={"url": "https://hooks.example/flaky"}
    )
    assert moved.json()["url"] == "https://hooks.example/flaky"
    refused_move = await account.patch(
        f"/batch-webhooks/{hook['id']}", json={"url": "https://hooks.example/gone"}
    )
    assert refused_move.status_code == 400
    assert_conforms(refused_move, "PATCH", "/batch-webhooks/{batch_webhook_id}")

    deleted = await account.delete(f"/batch-webhooks/{hook['id']}")
    assert deleted.status_code == 204
    assert_conforms(deleted, "DELETE", "/batch-webhooks/{batch_webhook_id}")
    for method, path in (
        ("GET", "/batch-webhooks/{batch_webhook_id}"),
        ("PATCH", "/batch-webhooks/{batch_webhook_id}"),
        ("DELETE", "/batch-webhooks/{batch_webhook_id}"),
    ):
        response = await account.request(
            method,
            f"/batch-webhooks/{hook['id']}",
            **({"json": {"enabled": True}} if method == "PATCH" else {}),
        )
        assert response.status_code == 404
        assert assert_conforms(response, method, path)["title"] == "Resource Not Found"


async def test_batch_webhook_url_must_answer_the_validator(build: Build) -> None:
    receiver = Receiver()
    emulator = await build(webhook_transport=receiver.transport)
    account = await emulator.account()
    not_found = await account.post("/batch-webhooks", json={"url": "https://hooks.example/gone"})
    body = assert_conforms(not_found, "POST", "/batch-webhooks")
    assert not_found.status_code == 400
    assert body["detail"] == (
        "We couldn't verify the URL is working. Please double check and try again. HTTP Code: 404"
    )
    not_a_url = await account.post("/batch-webhooks", json={"url": "ftp:nothing"})
    assert not_a_url.status_code == 400
    assert not_a_url.json()["errors"][0]["field"] == "url"
    missing = await account.post("/batch-webhooks", json={"enabled": True})
    assert missing.status_code == 400
    assert "url" in missing.json()["errors"][0]["message"]
    assert (await account.get("/batch-webhooks")).json()["total_items"] == 0
    bad_page = await account.get("/batch-webhooks", params={"count": 0})
    assert bad_page.status_code == 400
    assert_conforms(bad_page, "GET", "/batch-webhooks")


async def test_at_most_20_batch_webhooks(build: Build) -> None:
    receiver = Receiver()
    emulator = await build(webhook_transport=receiver.transport)
    account = await emulator.account()
    for i in range(20):
        response = await account.post("/batch-webhooks", json={"url": f"https://h{i}.example/ok"})
        assert response.status_code == 200
    refused = await account.post("/batch-webhooks", json={"url": "https://h20.example/ok"})
    assert refused.status_code == 400
    assert "maximum of 20 batch webhooks" in refused.json()["detail"]
    listed = (await account.get("/batch-webhooks", params={"count": 100})).json()
    assert listed["total_items"] == 20


async def test_finished_batch_fires_batch_operation_completed(build: Build) -> None:
    receiver = Receiver()
    emulator = await build(webhook_transport=receiver.transport, webhook_retry_delays_s=(0.01,))
    account = await emulator.account()
    await account.post("/batch-webhooks", json={"url": "https://hooks.example/ok"})
    await account.post("/batch-webhooks", json={"url": "https://hooks.example/flaky"})
    await account.post("/batch-webhooks", json={"url": "https://off.example/ok", "enabled": False})
    created = await submit(
        account,
        {"method": "GET", "path": "/ping"},
        {"method": "GET", "path": "/lists/unknown"},
    )
    batch = await finished(account, created["id"])

    async def delivered() -> bool:
        return len(receiver.posts("/ok")) == 1 and len(receiver.posts("/flaky")) == 2

    await eventually(delivered)
    event = receiver.posts("/ok")[0]
    assert event.headers["user-agent"] == "MailChimp.com"
    assert event.headers["content-type"] == "application/x-www-form-urlencoded"
    form = dict(parse_qsl(event.content.decode()))
    assert form["type"] == "batch_operation_completed"
    assert time.strptime(form["fired_at"], "%Y-%m-%d %H:%M:%S")
    assert form["data[id]"] == created["id"]
    assert form["data[status]"] == "finished"
    assert form["data[total_operations]"] == "2"
    assert form["data[finished_operations]"] == "2"
    assert form["data[errored_operations]"] == "1"
    assert form["data[submitted_at]"] == batch["submitted_at"]
    assert form["data[completed_at]"] == batch["completed_at"]
    assert urlsplit(form["data[response_body_url]"]).path == (
        f"/batch-results/{created['id']}.tar.gz"
    )
    assert form["data[_links][0][rel]"] == "parent"
    # The retried delivery reached the flaky receiver; the disabled hook got nothing.
    assert not [r for r in receiver.seen if r.url.host == "off.example" and r.method == "POST"]
    deliveries = (await emulator.client.get("/_emulator/batch-webhook-deliveries")).json()
    outcomes = {(d["url"], d["status"], d["attempts"]) for d in deliveries["deliveries"]}
    assert outcomes == {
        ("https://hooks.example/ok", "delivered", 1),
        ("https://hooks.example/flaky", "delivered", 2),
    }


# -- state files --------------------------------------------------------------------------


async def test_batches_survive_a_state_file_and_resume(build: Build, tmp_path: Path) -> None:
    emulator = await build(batch_mode="manual")
    account = await emulator.account()
    done = await submit(account, {"method": "GET", "path": "/ping", "operation_id": "a"})
    for _ in range(4):
        await emulator.client.post(f"/_emulator/batches/{done['id']}/advance")
    halfway = await submit(
        account,
        {"method": "GET", "path": "/ping", "operation_id": "b"},
        {"method": "GET", "path": "/", "operation_id": "c"},
    )
    for _ in range(2):
        await emulator.client.post(f"/_emulator/batches/{halfway['id']}/advance")
    state = tmp_path / "state.json"
    state.write_text((await emulator.client.get("/_emulator/state")).text, "utf-8")

    reloaded = create_app(state_file=state)  # batch_mode "immediate"
    transport = httpx.ASGITransport(app=reloaded)
    async with httpx.AsyncClient(transport=transport, base_url="http://reloaded.test") as client:
        again = Account(
            Emulator(reloaded, client, "http://reloaded.test", "inprocess"), account.info
        )
        kept = (await again.get(f"/batches/{done['id']}")).json()
        assert kept["status"] == "finished"
        entries = await download(again.emulator, kept["response_body_url"])
        assert [e["operation_id"] for e in entries] == ["a"]
        # The batch stopped at "started" resumes by itself and finishes.
        resumed = await finished(again, halfway["id"])
        assert resumed["finished_operations"] == 2
        entries = await download(again.emulator, resumed["response_body_url"])
        assert sorted(e["operation_id"] for e in entries) == ["b", "c"]
    await reloaded.aclose()


# -- member operations ----------------------------------------------------------------------

AUDIENCE = {
    "name": "Batch audience",
    "permission_reminder": "You signed up on our site.",
    "email_type_option": False,
    "contact": {
        "company": "Batch Co",
        "address1": "1 Road",
        "city": "Atlanta",
        "state": "GA",
        "zip": "30308",
        "country": "US",
    },
    "campaign_defaults": {
        "from_name": "Batch Co",
        "from_email": "news@batch-co.example",
        "subject": "Hello",
        "language": "en",
    },
}


async def test_batch_of_member_upserts(emulator: Emulator, account: Account) -> None:
    created = await account.post("/lists", json=AUDIENCE)
    assert created.status_code == 200, created.text
    list_id = created.json()["id"]
    emails = [f"reader.{i}@batch-co.example" for i in range(3)]
    operations = [
        {
            "method": "PUT",
            "path": f"/lists/{list_id}/members/{email}",
            "operation_id": email,
            "body": json.dumps({"email_address": email, "status_if_new": "subscribed"}),
        }
        for email in emails
    ]
    # A new member without status_if_new is refused, as a single PUT would be.
    operations.append(
        {
            "method": "PUT",
            "path": f"/lists/{list_id}/members/no.status@batch-co.example",
            "operation_id": "no-status",
            "body": json.dumps({"email_address": "no.status@batch-co.example"}),
        }
    )
    batch = await finished(account, (await submit(account, *operations))["id"])
    assert (batch["finished_operations"], batch["errored_operations"]) == (4, 1)
    by_id = {e["operation_id"]: e for e in await download(emulator, batch["response_body_url"])}
    for email in emails:
        assert by_id[email]["status_code"] == 200
        member = json.loads(by_id[email]["response"])
        assert (member["email_address"], member["status"]) == (email, "subscribed")
    assert by_id["no-status"]["status_code"] == 400
    assert json.loads(by_id["no-status"]["response"])["title"] == "Invalid Resource"

    listed = (await account.get(f"/lists/{list_id}/members", params={"count": 10})).json()
    assert sorted(m["email_address"] for m in listed["members"]) == emails
