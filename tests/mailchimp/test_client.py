"""The client: base URL, credentials, services → requests, accounting, lifecycle."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from chimplink.mailchimp import (
    ApiCall,
    LocalLimiter,
    MailchimpClient,
    OAuthMetadata,
    RetryPolicy,
    ServerError,
    resolve_base_url,
    subscriber_hash,
)
from chimplink.mailchimp._requestor import expand_path
from tests.mailchimp.conftest import API_KEY, TOKEN, Harness, json_response

# -- base URL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "https://api.mailchimp.com/3.0"),
        ({"datacenter": "us6"}, "https://us6.api.mailchimp.com/3.0"),
        ({"api_endpoint": "https://us9.api.mailchimp.com"}, "https://us9.api.mailchimp.com/3.0"),
        ({"api_endpoint": "https://us9.api.mailchimp.com/", "datacenter": "us6"},
         "https://us9.api.mailchimp.com/3.0"),
        ({"base_url": "http://127.0.0.1:8900", "api_endpoint": "https://us9.api.mailchimp.com"},
         "http://127.0.0.1:8900/3.0"),
        ({"base_url": "http://127.0.0.1:8900/us6/3.0/"}, "http://127.0.0.1:8900/us6/3.0"),
    ],
)  # fmt: skip
def test_base_url_resolution(kwargs: dict[str, str], expected: str) -> None:
    assert resolve_base_url(**kwargs) == expected


def test_api_key_client_uses_the_keys_datacenter() -> None:
    assert MailchimpClient(api_key=API_KEY).base_url == "https://us6.api.mailchimp.com/3.0"


def test_oauth_client_without_endpoint_uses_the_single_host() -> None:
    assert MailchimpClient(access_token=TOKEN).base_url == "https://api.mailchimp.com/3.0"


def test_from_metadata_uses_api_endpoint() -> None:
    metadata = OAuthMetadata(dc="us3", api_endpoint="https://us3.api.mailchimp.com")
    client = MailchimpClient.from_metadata(metadata, access_token=TOKEN, account_key="inst-1")
    assert client.base_url == "https://us3.api.mailchimp.com/3.0"
    assert client.account_key == "inst-1"


# -- credentials --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"access_token": TOKEN, "api_key": API_KEY}, {"auth": httpx.BasicAuth("a", "b")}],
)
def test_credentials_must_be_exactly_one(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"exactly one|account_key"):
        MailchimpClient(**kwargs)


def test_http_client_and_transport_are_exclusive() -> None:
    with pytest.raises(ValueError, match="not both"):
        MailchimpClient(
            access_token=TOKEN,
            http_client=httpx.AsyncClient(),
            transport=httpx.MockTransport(lambda r: httpx.Response(200)),
        )


async def test_oauth_token_is_sent_as_bearer(harness: Harness) -> None:
    client = harness.client(lambda request: json_response({"health_status": "ok"}))
    await client.ping()
    request = harness.requests[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("chimplink")
    assert str(request.url) == "https://api.mailchimp.com/3.0/ping"


async def test_api_key_is_sent_as_basic_to_its_datacenter(harness: Harness) -> None:
    client = harness.client(
        lambda request: json_response({"health_status": "ok"}), access_token=None, api_key=API_KEY
    )
    await client.ping()
    request = harness.requests[0]
    assert request.url.host == "us6.api.mailchimp.com"
    encoded = request.headers["Authorization"].removeprefix("Basic ")
    assert base64.b64decode(encoded).decode().endswith(f":{API_KEY}")


async def test_custom_auth_needs_an_account_key(harness: Harness) -> None:
    client = harness.client(
        lambda request: json_response({"health_status": "ok"}),
        access_token=None,
        auth=httpx.BasicAuth("x", "y"),
        account_key="acct-9",
    )
    await client.ping()
    assert harness.recorder.calls[0].account_key == "acct-9"


def test_default_account_key_is_a_fingerprint() -> None:
    client = MailchimpClient(access_token=TOKEN)
    assert client.account_key.startswith("oauth:")
    assert TOKEN not in client.account_key
    assert MailchimpClient(api_key=API_KEY).account_key.startswith("apikey:")


# -- paths -----------------------------------------------------------------------------------


def test_query_values_are_rendered_as_mailchimp_expects() -> None:
    from chimplink.mailchimp._requestor import _query

    assert _query({"a": True, "b": False, "c": 1.5, "d": None, "e": ["x", "y"], "f": 3}) == {
        "a": "true",
        "b": "false",
        "c": "1.5",
        "e": "x,y",
        "f": "3",
    }


def test_path_values_are_percent_encoded() -> None:
    assert expand_path("/x/{a}", {"a": "a/b c?"}) == "/x/a%2Fb%20c%3F"


@pytest.mark.parametrize("values", [{"a": ""}, {}, {"a": 5}])
def test_empty_or_missing_path_values_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="path parameter"):
        expand_path("/x/{a}", values)


async def test_member_urls_use_the_subscriber_hash(harness: Harness) -> None:
    client = harness.client(lambda request: json_response({"id": "h"}))
    await client.lists.members.get("l1", "Ann@Example.com ")
    assert (
        harness.requests[0].url.path
        == f"/3.0/lists/l1/members/{subscriber_hash('ann@example.com')}"
    )


async def test_member_methods_refuse_something_that_is_neither_address_nor_hash(
    harness: Harness,
) -> None:
    client = harness.client(lambda request: json_response({}))
    with pytest.raises(ValueError, match="email address or a subscriber hash"):
        await client.lists.members.get("l1", "not-an-address")
    assert harness.requests == []


# -- services → requests ---------------------------------------------------------------------

Call = Callable[[MailchimpClient], Awaitable[Any]]
H = subscriber_hash("a@example.com")

SERVICE_CALLS: list[tuple[str, Call, str, str, Any]] = [
    ("root", lambda c: c.root.get(fields=["account_id"]), "GET", "/3.0/", None),
    ("lists.get", lambda c: c.lists.get("l1"), "GET", "/3.0/lists/l1", None),
    ("lists.create", lambda c: c.lists.create(name="N", contact={"company": "C"},
     permission_reminder="p", campaign_defaults={"from_name": "f"}, double_optin=True),
     "POST", "/3.0/lists", {"name": "N", "contact": {"company": "C"}, "permission_reminder": "p",
     "campaign_defaults": {"from_name": "f"}, "email_type_option": False, "double_optin": True}),
    ("lists.update", lambda c: c.lists.update("l1", {"name": "M"}), "PATCH", "/3.0/lists/l1",
     {"name": "M"}),
    ("lists.delete", lambda c: c.lists.delete("l1"), "DELETE", "/3.0/lists/l1", None),
    ("members.upsert", lambda c: c.lists.members.upsert("l1", "a@example.com",
     status_if_new="subscribed", merge_fields={"FNAME": "Ann"}, interests={"i1": True},
     skip_merge_validation=True), "PUT", f"/3.0/lists/l1/members/{H}",
     {"email_address": "a@example.com", "status_if_new": "subscribed",
      "merge_fields": {"FNAME": "Ann"}, "interests": {"i1": True}}),
    ("members.create", lambda c: c.lists.members.create("l1", "a@example.com", status="pending",
     tags=["t"]), "POST", "/3.0/lists/l1/members",
     {"email_address": "a@example.com", "status": "pending", "tags": ["t"]}),
    ("members.patch", lambda c: c.lists.members.patch("l1", H, {"status": "unsubscribed"}),
     "PATCH", f"/3.0/lists/l1/members/{H}", {"status": "unsubscribed"}),
    ("members.archive", lambda c: c.lists.members.archive("l1", H), "DELETE",
     f"/3.0/lists/l1/members/{H}", None),
    ("members.delete_permanent", lambda c: c.lists.members.delete_permanent("l1", H), "POST",
     f"/3.0/lists/l1/members/{H}/actions/delete-permanent", None),
    ("members.update_tags", lambda c: c.lists.members.update_tags("l1", H, {"vip": True,
     "old": False}), "POST", f"/3.0/lists/l1/members/{H}/tags",
     {"tags": [{"name": "vip", "status": "active"}, {"name": "old", "status": "inactive"}],
      "is_syncing": False}),
    ("members.add_event", lambda c: c.lists.members.add_event("l1", H, "purchased",
     properties={"sku": "1"}), "POST", f"/3.0/lists/l1/members/{H}/events",
     {"name": "purchased", "properties": {"sku": "1"}, "is_syncing": False}),
    ("merge_fields.get", lambda c: c.lists.merge_fields.get("l1", 3), "GET",
     "/3.0/lists/l1/merge-fields/3", None),
    ("merge_fields.create", lambda c: c.lists.merge_fields.create("l1", name="Plan", type="text",
     tag="PLAN"), "POST", "/3.0/lists/l1/merge-fields", {"name": "Plan", "type": "text",
     "tag": "PLAN"}),
    ("merge_fields.update", lambda c: c.lists.merge_fields.update("l1", 3, {"name": "P"}),
     "PATCH", "/3.0/lists/l1/merge-fields/3", {"name": "P"}),
    ("merge_fields.delete", lambda c: c.lists.merge_fields.delete("l1", 3), "DELETE",
     "/3.0/lists/l1/merge-fields/3", None),
    ("webhooks.create", lambda c: c.webhooks.create("l1", "https://hook.example/x",
     events=["subscribe"]), "POST", "/3.0/lists/l1/webhooks",
     {"url": "https://hook.example/x",
      "events": {"subscribe": True, "unsubscribe": False, "profile": False, "cleaned": False,
                 "upemail": False, "campaign": False},
      "sources": {"user": True, "admin": True, "api": False}}),
    ("webhooks.get", lambda c: c.lists.webhooks.get("l1", "w1"), "GET",
     "/3.0/lists/l1/webhooks/w1", None),
    ("webhooks.update", lambda c: c.lists.webhooks.update("l1", "w1", {"url": "u"}), "PATCH",
     "/3.0/lists/l1/webhooks/w1", {"url": "u"}),
    ("webhooks.delete", lambda c: c.lists.webhooks.delete("l1", "w1"), "DELETE",
     "/3.0/lists/l1/webhooks/w1", None),
    ("segments.get", lambda c: c.lists.segments.get("l1", 5), "GET", "/3.0/lists/l1/segments/5",
     None),
    ("segments.create", lambda c: c.lists.segments.create("l1", "VIP", static_segment=["a@b.c"]),
     "POST", "/3.0/lists/l1/segments", {"name": "VIP", "static_segment": ["a@b.c"]}),
    ("segments.update", lambda c: c.lists.segments.update("l1", 5, {"name": "V"}), "PATCH",
     "/3.0/lists/l1/segments/5", {"name": "V"}),
    ("segments.delete", lambda c: c.lists.segments.delete("l1", 5), "DELETE",
     "/3.0/lists/l1/segments/5", None),
    ("segments.batch_members", lambda c: c.lists.segments.batch_members("l1", 5, add=["a@b.c"]),
     "POST", "/3.0/lists/l1/segments/5", {"members_to_add": ["a@b.c"], "members_to_remove": []}),
    ("files.upload", lambda c: c.file_manager.files.upload("a.txt", b"hi", folder_id=2), "POST",
     "/3.0/file-manager/files", {"name": "a.txt", "file_data": "aGk=", "folder_id": 2}),
    ("files.get", lambda c: c.file_manager.files.get(7), "GET", "/3.0/file-manager/files/7", None),
    ("files.update", lambda c: c.file_manager.files.update(7, {"name": "b"}), "PATCH",
     "/3.0/file-manager/files/7", {"name": "b"}),
    ("files.delete", lambda c: c.file_manager.files.delete(7), "DELETE",
     "/3.0/file-manager/files/7", None),
    ("folders.create", lambda c: c.file_manager.folders.create("F"), "POST",
     "/3.0/file-manager/folders", {"name": "F"}),
    ("folders.get", lambda c: c.file_manager.folders.get(2), "GET", "/3.0/file-manager/folders/2",
     None),
    ("folders.update", lambda c: c.file_manager.folders.update(2, "G"), "PATCH",
     "/3.0/file-manager/folders/2", {"name": "G"}),
    ("folders.delete", lambda c: c.file_manager.folders.delete(2), "DELETE",
     "/3.0/file-manager/folders/2", None),
    ("stores.create", lambda c: c.ecommerce.stores.create(store_id="s1", list_id="l1", name="S",
     currency_code="EUR", domain="s.example", is_syncing=True), "POST", "/3.0/ecommerce/stores",
     {"id": "s1", "list_id": "l1", "name": "S", "currency_code": "EUR", "domain": "s.example",
      "is_syncing": True}),
    ("stores.get", lambda c: c.ecommerce.stores.get("s1"), "GET", "/3.0/ecommerce/stores/s1", None),
    ("stores.update", lambda c: c.ecommerce.stores.update("s1", {"is_syncing": False}), "PATCH",
     "/3.0/ecommerce/stores/s1", {"is_syncing": False}),
    ("stores.delete", lambda c: c.ecommerce.stores.delete("s1"), "DELETE",
     "/3.0/ecommerce/stores/s1", None),
    ("customers.upsert", lambda c: c.ecommerce.stores.customers.upsert("s1", "c1",
     {"email_address": "a@b.c", "opt_in_status": False}), "PUT",
     "/3.0/ecommerce/stores/s1/customers/c1",
     {"email_address": "a@b.c", "opt_in_status": False, "id": "c1"}),
    ("products.create", lambda c: c.ecommerce.stores.products.create("s1", {"id": "p1",
     "title": "P", "variants": [{"id": "p1", "title": "P"}]}), "POST",
     "/3.0/ecommerce/stores/s1/products",
     {"id": "p1", "title": "P", "variants": [{"id": "p1", "title": "P"}]}),
    ("orders.get", lambda c: c.ecommerce.stores.orders.get("s1", "o1"), "GET",
     "/3.0/ecommerce/stores/s1/orders/o1", None),
    ("orders.update", lambda c: c.ecommerce.stores.orders.update("s1", "o1",
     {"financial_status": "paid"}), "PATCH", "/3.0/ecommerce/stores/s1/orders/o1",
     {"financial_status": "paid"}),
    ("orders.delete", lambda c: c.ecommerce.stores.orders.delete("s1", "o1"), "DELETE",
     "/3.0/ecommerce/stores/s1/orders/o1", None),
    ("batch_webhooks.create", lambda c: c.batch_webhooks.create("https://h.example/b"), "POST",
     "/3.0/batch-webhooks", {"url": "https://h.example/b", "enabled": True}),
    ("batch_webhooks.get", lambda c: c.batch_webhooks.get("bw1"), "GET",
     "/3.0/batch-webhooks/bw1", None),
    ("batch_webhooks.update", lambda c: c.batch_webhooks.update("bw1", enabled=False), "PATCH",
     "/3.0/batch-webhooks/bw1", {"enabled": False}),
    ("batch_webhooks.delete", lambda c: c.batch_webhooks.delete("bw1"), "DELETE",
     "/3.0/batch-webhooks/bw1", None),
    ("batches.get", lambda c: c.batches.get("b1"), "GET", "/3.0/batches/b1", None),
    ("batches.delete", lambda c: c.batches.delete("b1"), "DELETE", "/3.0/batches/b1", None),
    ("campaigns.get", lambda c: c.campaigns.get("c1", fields=["id"]), "GET", "/3.0/campaigns/c1",
     None),
    ("reports.get", lambda c: c.reports.get("c1"), "GET", "/3.0/reports/c1", None),
]  # fmt: skip

# A body that satisfies every model's required fields.
_ANY_RESOURCE = {"id": "x1", "name": "n", "email_address": "a@example.com"}


def _numeric_ids(request: httpx.Request) -> dict[str, Any]:
    numeric = ("segments", "file-manager")
    return (
        {**_ANY_RESOURCE, "id": 1} if any(p in request.url.path for p in numeric) else _ANY_RESOURCE
    )


@pytest.mark.parametrize(
    ("name", "call", "method", "path", "body"), SERVICE_CALLS, ids=[c[0] for c in SERVICE_CALLS]
)
async def test_service_call_sends_the_documented_request(
    harness: Harness, name: str, call: Call, method: str, path: str, body: Any
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE" or path.endswith(("/tags", "/events", "delete-permanent")):
            return httpx.Response(204)
        return json_response(_numeric_ids(request))

    client = harness.client(handler)
    await call(client)
    request = harness.requests[0]
    assert request.method == method
    assert request.url.path == path
    if body is None:
        assert request.content == b""
    else:
        assert request.headers["Content-Type"] == "application/json"
        assert json.loads(request.content) == body


async def test_skip_merge_validation_is_a_query_flag(harness: Harness) -> None:
    client = harness.client(lambda request: json_response({"id": "h"}))
    await client.lists.members.upsert(
        "l1", "a@example.com", status_if_new="pending", skip_merge_validation=True
    )
    assert harness.requests[0].url.params["skip_merge_validation"] == "true"


async def test_service_iterators_use_the_right_collection(harness: Harness) -> None:
    keyed = {
        "/3.0/lists/l1/merge-fields": "merge_fields",
        "/3.0/lists/l1/webhooks": "webhooks",
        "/3.0/lists/l1/segments": "segments",
        "/3.0/lists/l1/segments/5/members": "members",
        f"/3.0/lists/l1/members/{H}/tags": "tags",
        f"/3.0/lists/l1/members/{H}/events": "events",
        "/3.0/file-manager/files": "files",
        "/3.0/file-manager/folders": "folders",
        "/3.0/file-manager/folders/2/files": "files",
        "/3.0/ecommerce/stores": "stores",
        "/3.0/ecommerce/stores/s1/customers": "customers",
        "/3.0/batch-webhooks": "webhooks",
        "/3.0/batches": "batches",
        "/3.0/campaigns": "campaigns",
        "/3.0/reports": "reports",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        numeric = path.endswith(("/segments", "/tags")) or path.startswith("/3.0/file-manager")
        item = {"id": 1 if numeric else "x1", "name": "n"}
        return json_response({keyed[request.url.path]: [item], "total_items": 1})

    c = harness.client(handler)
    iterators = [
        c.lists.merge_fields.iterate("l1"),
        c.lists.webhooks.iterate("l1"),
        c.lists.segments.iterate("l1", type="static"),
        c.lists.segments.iterate_members("l1", 5),
        c.lists.members.iterate_tags("l1", H),
        c.lists.members.iterate_events("l1", H),
        c.file_manager.files.iterate(type="image"),
        c.file_manager.folders.iterate(),
        c.file_manager.folders.iterate_files(2),
        c.ecommerce.stores.iterate(),
        c.ecommerce.stores.customers.iterate("s1"),
        c.batch_webhooks.iterate(),
        c.batches.iterate(),
        c.campaigns.iterate(status="sent"),
        c.reports.iterate(),
    ]
    for iterator in iterators:
        assert len([item async for item in iterator]) == 1
    assert len(harness.requests) == len(keyed)


def test_webhook_create_refuses_unknown_events() -> None:
    client = MailchimpClient(access_token=TOKEN)
    with pytest.raises(ValueError, match="unknown webhook events"):
        client.webhooks.create("l1", "https://x", events=["bogus"]).send(None)


def test_event_names_are_checked_before_sending() -> None:
    client = MailchimpClient(access_token=TOKEN)
    with pytest.raises(ValueError, match="2 to 30"):
        client.lists.members.add_event("l1", H, "x").send(None)


def test_oversized_files_are_refused_before_upload() -> None:
    client = MailchimpClient(access_token=TOKEN)
    with pytest.raises(ValueError, match="refused by Mailchimp"):
        client.file_manager.files.upload("big.bin", b"\0" * (10 * 1024 * 1024 + 1)).send(None)


# -- responses --------------------------------------------------------------------------


async def test_a_non_json_success_body_is_a_server_error(harness: Harness) -> None:
    client = harness.client(
        lambda request: httpx.Response(
            200, content=b"<html>", headers={"content-type": "text/html"}
        )
    )
    with pytest.raises(ServerError, match="non-JSON") as caught:
        await client.ping()
    assert caught.value.title == "Unexpected Response"


async def test_models_keep_unknown_fields(harness: Harness) -> None:
    client = harness.client(
        lambda request: json_response(
            {"id": "h", "email_address": "a@example.com", "brand_new": 1, "timestamp_signup": ""}
        )
    )
    member = await client.lists.members.get("l1", H)
    assert member.model_extra == {"brand_new": 1}
    assert member.timestamp_signup is None


# -- call accounting ------------------------------------------------------------------------


async def test_every_attempt_is_reported_with_the_path_template(harness: Harness) -> None:
    answers = iter([httpx.Response(503), httpx.ReadError("reset"), json_response({"id": "h"})])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = harness.client(handler, account_key="inst-7")
    await client.lists.members.get("l1", "a@example.com")
    operation = "GET /lists/{list_id}/members/{subscriber_hash}"
    calls = harness.recorder.calls
    assert [(c.account_key, c.operation, c.status, c.attempt) for c in calls] == [
        ("inst-7", operation, 503, 1),
        ("inst-7", operation, None, 2),
        ("inst-7", operation, 200, 3),
    ]
    assert all(c.duration >= 0 for c in calls)
    assert harness.recorder.operations() == [operation] * 3


async def test_a_failing_observer_does_not_fail_the_call(harness: Harness) -> None:
    def broken(call: ApiCall) -> None:
        raise RuntimeError("metrics down")

    client = harness.client(lambda request: json_response({"health_status": "ok"}), observer=broken)
    assert (await client.ping()).health_status == "ok"


async def test_without_observer_calls_still_work(harness: Harness) -> None:
    client = harness.client(lambda request: json_response({"health_status": "ok"}), observer=None)
    assert (await client.ping()).health_status == "ok"


# -- lifecycle -----------------------------------------------------------------------------------


async def test_owned_http_client_is_closed_borrowed_is_not() -> None:
    transport = httpx.MockTransport(lambda r: json_response({"health_status": "ok"}))
    async with MailchimpClient(access_token=TOKEN, transport=transport) as owned:
        await owned.ping()
    assert owned._http.is_closed

    async with httpx.AsyncClient(transport=transport) as http:
        borrowed = MailchimpClient(access_token=TOKEN, http_client=http)
        await borrowed.aclose()
        assert not http.is_closed
        await borrowed.ping()


def test_client_exposes_its_limiter_and_policy() -> None:
    limiter = LocalLimiter(limit=5)
    retry = RetryPolicy(max_attempts=2)
    client = MailchimpClient(access_token=TOKEN, limiter=limiter, retry=retry)
    assert client.limiter is limiter
    assert client.retry_policy is retry
    assert client.webhooks is client.lists.webhooks
    assert "base_url='https://api.mailchimp.com/3.0'" in repr(client)
    assert "Requestor(" in repr(client.lists.members)
