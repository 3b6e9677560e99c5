"""The API root, ping, authentication, datacenters, routing errors."""

from __future__ import annotations

import base64

from tests.conformance import assert_conforms
from tests.conftest import Account, Emulator


async def test_ping(account: Account) -> None:
    response = await account.get("/ping")
    assert response.status_code == 200
    assert response.json() == {"health_status": "Everything's Chimpy!"}


async def test_root_describes_the_account(emulator: Emulator) -> None:
    account = await emulator.account("Bakery", email="owner@bakery.example")
    body = (await account.get("/")).json()
    assert body["account_id"] == account.info["account_id"]
    assert body["account_name"] == "Bakery"
    assert body["email"] == "owner@bakery.example"


async def test_missing_credentials_are_401(emulator: Emulator) -> None:
    response = await emulator.client.get("/3.0/ping")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["title"] == "API Key Missing"
    assert set(body) >= {"type", "title", "status", "detail", "instance"}


async def test_bad_token_is_401_api_key_invalid(emulator: Emulator) -> None:
    response = await emulator.client.get("/3.0/", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json()["title"] == "API Key Invalid"


async def test_basic_auth_with_api_key_and_classic_dc_url(emulator: Emulator) -> None:
    account = await emulator.account(dc="us7")
    key = account.info["api_key"]
    assert key.endswith("-us7")
    basic = base64.b64encode(f"anystring:{key}".encode()).decode()
    response = await emulator.client.get(
        "/us7/3.0/ping", headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200


async def test_token_from_another_dc_is_403(emulator: Emulator) -> None:
    account = await emulator.account(dc="us7")
    response = await emulator.client.get("/us9/3.0/ping", headers=account.headers)
    assert response.status_code == 403
    assert response.json()["title"] == "Wrong Datacenter"


async def test_oauth_scheme_and_apikey_query_are_accepted(emulator: Emulator) -> None:
    account = await emulator.account()
    ok = await emulator.client.get("/3.0/ping", headers={"Authorization": f"OAuth {account.token}"})
    assert ok.status_code == 200
    by_query = await emulator.client.get("/3.0/ping", params={"apikey": account.token})
    assert by_query.status_code == 200
    clash = await emulator.client.get(
        "/3.0/ping", params={"apikey": "other"}, headers=account.headers
    )
    assert clash.status_code == 401


async def test_revoked_token_gets_401_everywhere_and_is_counted(emulator: Emulator) -> None:
    account = await emulator.account()
    await emulator.control.revoke(account.token)
    response = await account.get("/ping")
    assert response.status_code == 401
    stats = (await emulator.control.stats())["accounts"][account.info["account_id"]]
    assert stats["requests"]["GET /ping"] == {"401": 1}


async def test_unknown_path_is_404_and_wrong_method_is_405_with_allow(account: Account) -> None:
    missing = await account.get("/no-such-thing")
    assert missing.status_code == 404
    assert missing.json()["title"] == "Resource Not Found"
    wrong = await account.delete("/ping")
    assert wrong.status_code == 405
    assert wrong.json()["title"] == "Method Not Allowed"
    assert wrong.headers["allow"] == "GET"


async def test_spec_operation_not_emulated_is_501(account: Account) -> None:
    response = await account.get("/activity-feed/chimp-chatter")
    assert response.status_code == 501
    assert "not emulated" in response.json()["detail"]


async def test_x_trigger_error(account: Account) -> None:
    response = await account.get("/ping", headers={"X-Trigger-Error": "APIKeyMissing"})
    assert response.status_code == 401
    assert response.json()["title"] == "API Key Missing"


async def test_fields_and_exclude_fields(account: Account) -> None:
    only = (await account.get("/", params={"fields": "account_id,contact.city"})).json()
    assert only == {"account_id": account.info["account_id"], "contact": {"city": "Atlanta"}}
    without = (await account.get("/", params={"exclude_fields": "contact,_links"})).json()
    assert "contact" not in without and "_links" not in without and "account_id" in without


async def test_root_ping_and_errors_conform_to_the_spec(account: Account) -> None:
    assert_conforms(await account.get("/"), "GET", "/")
    assert_conforms(await account.get("/ping"), "GET", "/ping")
    assert_conforms(
        await account.get("/ping", headers={"Authorization": "Bearer bad"}), "GET", "/ping"
    )
    assert_conforms(
        await account.get("/", headers={"X-Trigger-Error": "ResourceNotFound"}), "GET", "/"
    )
