"""The network model: latency, the per-account connection limit, faults, stats, state."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from chimplink.emulator import EmulatorApp, create_app
from chimplink.emulator.testing import Control, serve


@pytest.fixture
async def make_client() -> AsyncIterator[object]:
    apps: list[EmulatorApp] = []
    clients: list[httpx.AsyncClient] = []

    def build(**config: object) -> tuple[EmulatorApp, httpx.AsyncClient]:
        app = create_app(**config)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://mc.test"
        )
        apps.append(app)
        clients.append(client)
        return app, client

    yield build
    for client in clients:
        await client.aclose()
    for app in apps:
        await app.aclose()


async def _account(client: httpx.AsyncClient) -> dict[str, str]:
    info: dict[str, str] = await Control(client).create_account("Limits Co")
    return info


async def test_latency_is_slept_per_request_and_per_item(make_client) -> None:  # type: ignore[no-untyped-def]
    _, client = make_client(latency_ms=60, latency_per_item_ms=1)
    info = await _account(client)
    headers = {"Authorization": f"Bearer {info['access_token']}"}
    started = time.perf_counter()
    await client.get("/3.0/ping", headers=headers)
    single = time.perf_counter() - started
    assert single >= 0.06
    started = time.perf_counter()
    # 200 items in the body: 60 ms + 200 × 1 ms, whatever the response.
    await client.post("/3.0/batches", headers=headers, json={"operations": [{}] * 200})
    assert time.perf_counter() - started >= 0.26


async def test_connections_over_the_limit_get_429_and_peak_is_reported(make_client) -> None:  # type: ignore[no-untyped-def]
    _, client = make_client(latency_ms=100, max_connections=3)
    info = await _account(client)
    other = await _account(client)
    headers = {"Authorization": f"Bearer {info['access_token']}"}
    responses = await asyncio.gather(*(client.get("/3.0/ping", headers=headers) for _ in range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 3
    assert statuses.count(429) == 5
    throttled = next(r for r in responses if r.status_code == 429).json()
    assert throttled["title"] == "Too Many Requests"
    # Another account has its own limit.
    other_headers = {"Authorization": f"Bearer {other['access_token']}"}
    assert (await client.get("/3.0/ping", headers=other_headers)).status_code == 200
    stats = (await Control(client).stats())["accounts"][info["account_id"]]
    assert stats["peak_concurrent_requests"] == 3
    assert stats["throttled"] == 5
    assert stats["requests"]["GET /ping"] == {"200": 3, "429": 5}
    assert stats["in_flight"] == 0


async def _fault_statuses(seed: int) -> list[object]:
    app = create_app(fault_rate=0.5, seed=seed, slow_fault_ms=1)
    out: list[object] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        info = await _account(c)
        headers = {"Authorization": f"Bearer {info['access_token']}"}
        for _ in range(60):
            try:
                response = await c.get("/3.0/ping", headers=headers)
                out.append((response.status_code, response.content == b""))
            except httpx.RemoteProtocolError:
                out.append("reset")
    await app.aclose()
    return out


async def test_faults_are_reproducible_with_a_seed_and_cover_every_kind() -> None:
    first = await _fault_statuses(11)
    assert first == await _fault_statuses(11)
    assert first != await _fault_statuses(12)
    kinds = set(first)
    assert (200, False) in kinds
    assert (500, False) in kinds and (503, False) in kinds
    # Throttling under heavy load comes without a body (REFERENCE.md §5).
    assert (429, True) in kinds and (403, True) in kinds
    assert "reset" in kinds


async def test_fault_injection_never_touches_the_control_plane(make_client) -> None:  # type: ignore[no-untyped-def]
    _, client = make_client(fault_rate=1.0, seed=1)
    for _ in range(20):
        assert (await client.get("/_emulator/stats")).status_code == 200


async def test_runtime_config_changes_behaviour_and_rejects_bad_values(make_client) -> None:  # type: ignore[no-untyped-def]
    _, client = make_client()
    info = await _account(client)
    headers = {"Authorization": f"Bearer {info['access_token']}"}
    changed = await client.post("/_emulator/config", json={"max_connections": 1, "latency_ms": 50})
    assert changed.status_code == 200
    assert changed.json()["config"]["max_connections"] == 1
    responses = await asyncio.gather(*(client.get("/3.0/ping", headers=headers) for _ in range(3)))
    assert sorted(r.status_code for r in responses) == [200, 429, 429]
    bad = await client.post("/_emulator/config", json={"fault_rate": 3})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "fault_rate"
    not_json = await client.post("/_emulator/config", content=b"{nope")
    assert not_json.status_code == 400
    assert not_json.json()["title"] == "JSON Parse Exception"


async def test_control_plane_rejects_bad_input(make_client) -> None:  # type: ignore[no-untyped-def]
    _, client = make_client()
    missing = await client.post("/_emulator/accounts", json={})
    assert missing.status_code == 400
    assert "account_name" in missing.json()["errors"][0]["message"]
    bad_dc = await client.post("/_emulator/accounts", json={"account_name": "x", "dc": "../etc"})
    assert bad_dc.status_code == 400
    bad_client = await client.post(
        "/_emulator/oauth-clients",
        json={"client_id": "a", "client_secret": "b", "redirect_uris": ["ftp://x"]},
    )
    assert bad_client.status_code == 400
    unknown = await client.post("/_emulator/tokens/revoke", json={"access_token": "nope"})
    assert unknown.status_code == 404


async def test_reset_forgets_accounts_and_stats(make_client) -> None:  # type: ignore[no-untyped-def]
    _, client = make_client()
    info = await _account(client)
    headers = {"Authorization": f"Bearer {info['access_token']}"}
    assert (await client.get("/3.0/ping", headers=headers)).status_code == 200
    await client.post("/_emulator/config", json={"fault_rate": 0.5, "max_connections": 2})
    await Control(client).reset()
    assert (await client.get("/3.0/ping", headers=headers)).status_code == 401
    after = await Control(client).stats()
    assert after["accounts"] == {}
    # Run-time changes are undone too: back to the configured model.
    assert after["config"]["fault_rate"] == 0
    assert after["config"]["max_connections"] == 10


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with serve(create_app(state_file=state)) as served:
        info = httpx.post(f"{served.url}/_emulator/accounts", json={"account_name": "Kept"}).json()
    assert (
        json.loads(state.read_text())["accounts"][info["account_id"]]["record"]["account_name"]
        == "Kept"
    )
    with serve(create_app(state_file=state)) as served:
        response = httpx.get(
            f"{served.url}/3.0/", headers={"Authorization": f"Bearer {info['access_token']}"}
        )
        assert response.status_code == 200
        assert response.json()["account_name"] == "Kept"


async def test_malformed_state_file_is_a_clear_error(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"accounts": {"x": {"record": {}, "stores": {}}}}')
    with pytest.raises(ValueError, match="state file"):
        create_app(state_file=state)


async def test_scripted_fault_hits_the_next_calls_of_one_operation_only(make_client) -> None:  # type: ignore[no-untyped-def]
    _, client = make_client()
    info = await _account(client)
    headers = {"Authorization": f"Bearer {info['access_token']}"}
    scripted = await client.post(
        "/_emulator/faults", json={"operation": "GET /ping", "fault": "503", "count": 2}
    )
    assert scripted.status_code == 200
    assert (await client.get("/3.0/", headers=headers)).status_code == 200
    assert (await client.get("/3.0/ping", headers=headers)).status_code == 503
    assert (await client.get("/3.0/ping", headers=headers)).status_code == 503
    assert (await client.get("/3.0/ping", headers=headers)).status_code == 200
    unknown = await client.post(
        "/_emulator/faults", json={"operation": "GET /nope", "fault": "503"}
    )
    assert unknown.status_code == 400
    bad_kind = await client.post(
        "/_emulator/faults", json={"operation": "GET /ping", "fault": "418"}
    )
    assert bad_kind.status_code == 400
