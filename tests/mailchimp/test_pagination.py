"""Async iteration over collections: count/offset/total_items, fields, limits."""

from __future__ import annotations

import httpx
import pytest

from chimplink.mailchimp import MAX_PAGE_SIZE, Member
from chimplink.mailchimp.pagination import partial_response_params
from tests.mailchimp.conftest import Harness, json_response


def collection(key: str, total: int, *, report_total: bool = True):  # type: ignore[no-untyped-def]
    items = [{"id": f"h{i}", "email_address": f"m{i}@example.com"} for i in range(total)]

    def handler(request: httpx.Request) -> httpx.Response:
        count = int(request.url.params.get("count", "10"))
        offset = int(request.url.params.get("offset", "0"))
        body: dict[str, object] = {key: items[offset : offset + count]}
        if report_total:
            body["total_items"] = total
        return json_response(body)

    return handler


async def test_walks_every_page_with_count_and_offset(harness: Harness) -> None:
    client = harness.client(collection("members", 1203))
    members = [m async for m in client.lists.members.iterate("l1", page_size=500)]
    assert len(members) == 1203
    assert isinstance(members[0], Member)
    assert members[-1].email_address == "m1202@example.com"
    pages = [(r.url.params["count"], r.url.params["offset"]) for r in harness.requests]
    assert pages == [("500", "0"), ("500", "500"), ("500", "1000")]
    assert harness.requests[0].url.path == "/3.0/lists/l1/members"


async def test_default_page_size_is_500(harness: Harness) -> None:
    client = harness.client(collection("lists", 3))
    assert len([x async for x in client.lists.iterate()]) == 3
    assert harness.requests[0].url.params["count"] == "500"


async def test_stops_on_total_items_without_an_extra_empty_page(harness: Harness) -> None:
    client = harness.client(collection("members", 1000))
    members = [m async for m in client.lists.members.iterate("l1", page_size=500)]
    assert len(members) == 1000
    assert len(harness.requests) == 2


async def test_stops_on_a_short_page_when_total_is_missing(harness: Harness) -> None:
    client = harness.client(collection("members", 7, report_total=False))
    assert len([m async for m in client.lists.members.iterate("l1", page_size=5)]) == 7
    assert len(harness.requests) == 2


async def test_stops_on_an_empty_page(harness: Harness) -> None:
    client = harness.client(lambda request: json_response({"total_items": 99, "members": []}))
    assert [m async for m in client.lists.members.iterate("l1")] == []
    assert len(harness.requests) == 1


async def test_limit_shrinks_the_last_page(harness: Harness) -> None:
    client = harness.client(collection("members", 50))
    members = [m async for m in client.lists.members.iterate("l1", page_size=20, limit=45)]
    assert len(members) == 45
    assert [r.url.params["count"] for r in harness.requests] == ["20", "20", "5"]


async def test_fields_name_item_fields_and_keep_total_items(harness: Harness) -> None:
    client = harness.client(collection("members", 2))
    async for _ in client.lists.members.iterate("l1", fields=["email_address", "status"]):
        pass
    assert harness.requests[0].url.params["fields"] == (
        "members.email_address,members.status,total_items"
    )


async def test_exclude_fields_are_prefixed(harness: Harness) -> None:
    client = harness.client(collection("members", 1))
    async for _ in client.lists.members.iterate("l1", exclude_fields=["_links", "stats"]):
        pass
    assert harness.requests[0].url.params["exclude_fields"] == "members._links,members.stats"


async def test_filters_are_sent(harness: Harness) -> None:
    from datetime import UTC, datetime

    client = harness.client(collection("members", 1))
    since = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    async for _ in client.lists.members.iterate(
        "l1", status="subscribed", since_last_changed=since
    ):
        pass
    params = harness.requests[0].url.params
    assert params["status"] == "subscribed"
    assert params["since_last_changed"] == "2026-01-02T03:04:05+00:00"


def test_fields_and_exclude_fields_are_exclusive() -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        partial_response_params(key="members", fields=["a"], exclude_fields=["b"])


def test_single_resource_fields_are_not_prefixed() -> None:
    assert partial_response_params(key=None, fields=["id", "name"], exclude_fields=None) == {
        "fields": "id,name"
    }
    assert partial_response_params(key=None, fields=None, exclude_fields=["_links"]) == {
        "exclude_fields": "_links"
    }
    assert partial_response_params(key=None, fields=None, exclude_fields=None) == {}


@pytest.mark.parametrize("size", [0, MAX_PAGE_SIZE + 1])
async def test_page_size_is_bounded(harness: Harness, size: int) -> None:
    client = harness.client(collection("members", 1))
    with pytest.raises(ValueError, match="page_size"):
        async for _ in client.lists.members.iterate("l1", page_size=size):
            pass
    assert harness.requests == []


async def test_a_non_collection_answer_ends_the_walk(harness: Harness) -> None:
    client = harness.client(lambda request: json_response({"members": "nope"}))
    assert [m async for m in client.lists.members.iterate("l1")] == []
