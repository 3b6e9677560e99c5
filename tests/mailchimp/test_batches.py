"""Batch subscribe (chunks, per-member outcomes) and /batches (submit, poll, results)."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import httpx
import pytest

from chimplink.mailchimp import (
    AuthenticationError,
    BatchNotFinishedError,
    BatchOperation,
    MailchimpClient,
    NotFoundError,
    OutcomeUnknownError,
    PollPolicy,
    RateLimitError,
    ServerError,
    ValidationError,
    parse_results_archive,
)
from tests.mailchimp.conftest import TOKEN, FakeTime, Harness, json_response, problem

# -- batch subscribe ----------------------------------------------------------------------


def members(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"email_address": f"m{i}@example.com", "status": "subscribed"}
        for i in range(start, start + n)
    ]


def echo_batch_subscribe(request: httpx.Request) -> httpx.Response:
    """Creates even-numbered addresses, updates odd ones, rejects m13."""
    body = json.loads(request.content)
    new, updated, errors = [], [], []
    for member in body["members"]:
        email = member["email_address"]
        number = int(email[1:].split("@")[0])
        if number == 13:
            errors.append(
                {
                    "email_address": email,
                    "error": f"{email} looks fake or invalid",
                    "error_code": "ERROR_GENERIC",
                    "field": "email_address",
                    "field_message": "fake",
                }
            )
        elif number % 2 == 0:
            new.append({"id": "h", "email_address": email.upper(), "status": "subscribed"})
        else:
            updated.append({"id": "h", "email_address": email, "status": "subscribed"})
    return json_response(
        {
            "new_members": new,
            "updated_members": updated,
            "errors": errors,
            "total_created": len(new),
            "total_updated": len(updated),
            "error_count": len(errors),
        }
    )


async def test_members_are_sent_in_chunks_of_500(harness: Harness) -> None:
    client = harness.client(echo_batch_subscribe)
    result = await client.lists.batch_subscribe("l1", members(1201), update_existing=True)
    sizes = sorted(len(json.loads(r.content)["members"]) for r in harness.requests)
    assert sizes == [201, 500, 500]
    assert all(r.method == "POST" and r.url.path == "/3.0/lists/l1" for r in harness.requests)
    first = json.loads(harness.requests[0].content)
    assert first["update_existing"] is True
    assert first["sync_tags"] is False
    assert len(result.outcomes) == 1201
    assert len(result.responses) == 3


async def test_every_member_gets_one_outcome(harness: Harness) -> None:
    client = harness.client(echo_batch_subscribe)
    result = await client.lists.batch_subscribe("l1", members(20), update_existing=True)
    assert result.outcomes["m0@example.com"].status == "created"  # keyed lowercased
    assert result.outcomes["m0@example.com"].member is not None
    assert result.outcomes["m1@example.com"].status == "updated"
    failed = result.outcomes["m13@example.com"]
    assert failed.status == "error"
    assert failed.error_code == "ERROR_GENERIC"
    assert failed.field == "email_address"
    assert failed.field_message == "fake"
    assert len(result.created) == 10
    assert len(result.updated) == 9
    assert [o.email for o in result.errors] == ["m13@example.com"]
    assert result.unknown == []


async def test_an_address_mailchimp_does_not_mention_is_unknown(harness: Harness) -> None:
    client = harness.client(lambda request: json_response({"new_members": [], "errors": []}))
    result = await client.lists.batch_subscribe("l1", members(2), update_existing=False)
    assert {o.status for o in result.outcomes.values()} == {"unknown"}


async def test_entries_without_an_address_are_ignored(harness: Harness) -> None:
    client = harness.client(
        lambda request: json_response(
            {
                "new_members": [{"id": "h"}],
                "updated_members": [{"id": "h"}],
                "errors": [{"error": "something"}],
            }
        )
    )
    result = await client.lists.batch_subscribe("l1", members(1), update_existing=True)
    assert list(result.outcomes) == ["m0@example.com"]
    assert result.outcomes["m0@example.com"].status == "unknown"


async def test_flags_are_sent(harness: Harness) -> None:
    client = harness.client(echo_batch_subscribe)
    await client.lists.batch_subscribe(
        "l1",
        members(1),
        update_existing=True,
        sync_tags=True,
        skip_merge_validation=True,
        skip_duplicate_check=True,
    )
    request = harness.requests[0]
    assert request.url.params["skip_merge_validation"] == "true"
    assert request.url.params["skip_duplicate_check"] == "true"
    assert json.loads(request.content)["sync_tags"] is True


async def test_with_update_existing_a_failed_chunk_is_retried(harness: Harness) -> None:
    answers = iter([httpx.Response(502), None])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        return answer if answer is not None else echo_batch_subscribe(request)

    client = harness.client(handler)
    result = await client.lists.batch_subscribe("l1", members(4), update_existing=True)
    assert len(harness.requests) == 2
    assert len(result.created) == 2


async def test_without_update_existing_an_unknown_outcome_is_not_retried(
    harness: Harness,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if len(harness.requests) == 1:
            raise httpx.ReadTimeout("slow")
        return echo_batch_subscribe(request)

    client = harness.client(handler)
    result = await client.lists.batch_subscribe(
        "l1", members(600), update_existing=False, chunk_size=500
    )
    assert len(harness.requests) == 2
    unknown = result.unknown
    assert len(unknown) in (500, 100)  # the chunk that timed out, whichever went first
    assert all(isinstance(o.exception, OutcomeUnknownError) for o in unknown)
    assert len(result.created) + len(result.updated) == 600 - len(unknown)


async def test_a_chunk_rejected_as_a_whole_is_reported_per_member(harness: Harness) -> None:
    client = harness.client(lambda request: problem(400, "Invalid Resource", "too big", errors=[]))
    result = await client.lists.batch_subscribe("l1", members(3), update_existing=True)
    assert {o.status for o in result.outcomes.values()} == {"error"}
    assert all(isinstance(o.exception, ValidationError) for o in result.outcomes.values())


async def test_throttling_that_outlasts_retries_is_an_error_not_unknown(harness: Harness) -> None:
    client = harness.client(lambda request: httpx.Response(429, headers={"Retry-After": "999"}))
    result = await client.lists.batch_subscribe("l1", members(2), update_existing=True)
    assert {o.status for o in result.outcomes.values()} == {"error"}
    assert all(isinstance(o.exception, RateLimitError) for o in result.outcomes.values())


async def test_account_level_errors_are_raised(harness: Harness) -> None:
    client = harness.client(lambda request: problem(401, "API Key Invalid", "revoked"))
    with pytest.raises(AuthenticationError):
        await client.lists.batch_subscribe("l1", members(1001), update_existing=True)
    assert len(harness.requests) == 3  # every chunk finished first; none cancelled mid-flight


async def test_unexpected_exceptions_propagate(harness: Harness) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("bug")

    client = harness.client(handler)
    with pytest.raises(RuntimeError, match="bug"):
        await client.lists.batch_subscribe("l1", members(1), update_existing=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"chunk_size": 501, "update_existing": True}, "chunk_size"),
        ({"chunk_size": 0, "update_existing": True}, "chunk_size"),
        ({"sync_tags": True, "update_existing": False}, "sync_tags"),
    ],
)
async def test_invalid_arguments_are_refused(
    harness: Harness, kwargs: dict[str, Any], match: str
) -> None:
    client = harness.client(echo_batch_subscribe)
    with pytest.raises(ValueError, match=match):
        await client.lists.batch_subscribe("l1", members(1), **kwargs)
    assert harness.requests == []


async def test_members_need_an_address(harness: Harness) -> None:
    client = harness.client(echo_batch_subscribe)
    with pytest.raises(ValueError, match="email_address"):
        await client.lists.batch_subscribe("l1", [{"status": "subscribed"}], update_existing=True)


async def test_no_members_means_no_calls(harness: Harness) -> None:
    client = harness.client(echo_batch_subscribe)
    result = await client.lists.batch_subscribe("l1", [], update_existing=True)
    assert result.outcomes == {}
    assert harness.requests == []


# -- results archives ---------------------------------------------------------------------------


def archive(files: dict[str, Any], *, extra_dir: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        if extra_dir:
            info = tarfile.TarInfo("results")
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, content in files.items():
            data = content if isinstance(content, bytes) else json.dumps(content).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


RESULTS = {
    "results/0.json": [
        {
            "status_code": 200,
            "operation_id": "op-1",
            "response": json.dumps({"id": "h1", "status": "subscribed"}),
        },
        {
            "status_code": 400,
            "operation_id": "op-2",
            "response": json.dumps(
                {"title": "Member In Compliance State", "status": 400, "detail": "x"}
            ),
        },
    ],
    "results/1.json": [
        {"status_code": 204, "operation_id": "op-3", "response": ""},
        {"status_code": 404, "operation_id": "op-4", "response": "not json"},
        {"status_code": 200, "operation_id": None, "response": {"already": "parsed"}},
    ],
}


def test_archive_entries_become_outcomes_with_parsed_responses() -> None:
    outcomes = parse_results_archive(archive(RESULTS, extra_dir=True))
    by_id = {o.operation_id: o for o in outcomes}
    assert by_id["op-1"].ok and by_id["op-1"].body == {"id": "h1", "status": "subscribed"}
    assert not by_id["op-2"].ok
    assert by_id["op-2"].error is not None
    assert type(by_id["op-2"].error).__name__ == "ComplianceError"
    assert by_id["op-3"].body is None and by_id["op-3"].error is None
    assert isinstance(by_id["op-4"].error, NotFoundError)
    assert by_id["op-4"].body == "not json"
    assert by_id[None].body == {"already": "parsed"}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"not a tarball", "readable tar.gz"),
        (archive({"a.json": b"{not json"}), "is not JSON"),
        (archive({"a.json": {"status_code": 200}}), "not a JSON array"),
        (archive({"a.json": [{"operation_id": "x"}]}), "no status_code"),
        (archive({"a.json": ["x"]}), "no status_code"),
    ],
)
def test_malformed_archives_are_server_errors(data: bytes, match: str) -> None:
    with pytest.raises(ServerError, match=match):
        parse_results_archive(data)


def test_archive_size_is_bounded() -> None:
    with pytest.raises(ServerError, match="more than 10 bytes"):
        parse_results_archive(archive(RESULTS), max_bytes=10)


# -- /batches -------------------------------------------------------------------------------------


class FakeBatches:
    """A /batches endpoint whose batch finishes after `polls` reads, results on another host."""

    def __init__(self, *, polls: int = 2, expired_first: bool = False) -> None:
        self.polls = polls
        self.reads = 0
        self.expired_first = expired_first
        self.downloads: list[httpx.Request] = []
        self.urls_issued = 0

    def batch(self) -> dict[str, Any]:
        finished = self.reads > self.polls
        body: dict[str, Any] = {
            "id": "b1",
            "status": "finished" if finished else "started",
            "total_operations": 5,
            "finished_operations": 5 if finished else 1,
            "errored_operations": 2 if finished else 0,
            "submitted_at": "2026-01-01T00:00:00+00:00",
            "completed_at": "2026-01-01T00:01:00+00:00" if finished else "",
            "response_body_url": "",
        }
        if finished:
            self.urls_issued += 1
            body["response_body_url"] = (
                f"https://storage.googleapis.com/rsg/b1-response.tar.gz?sig={self.urls_issued}"
            )
        return body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "storage.googleapis.com":
            self.downloads.append(request)
            if self.expired_first and request.url.params["sig"] == "1":
                return httpx.Response(403, content=b"<Error>ExpiredToken</Error>")
            return httpx.Response(200, content=archive(RESULTS))
        if request.method == "POST":
            return json_response({**self.batch(), "status": "pending"})
        self.reads += 1
        return json_response(self.batch())


OPERATIONS = [
    BatchOperation("PUT", "/lists/l1/members/h1", "op-1", body={"email_address": "a@b.c"}),
    BatchOperation("GET", "/lists/l1/members", "op-2", params={"count": "10"}),
    BatchOperation("DELETE", "/lists/l1/members/h3", "op-3", body='{"raw": true}'),
]


async def test_submit_sends_bodies_as_json_strings(harness: Harness) -> None:
    client = harness.client(FakeBatches())
    batch = await client.batches.submit(OPERATIONS)
    assert batch.id == "b1" and batch.status == "pending"
    sent = json.loads(harness.requests[0].content)["operations"]
    assert sent[0] == {
        "method": "PUT",
        "path": "/lists/l1/members/h1",
        "operation_id": "op-1",
        "body": '{"email_address": "a@b.c"}',
    }
    assert sent[1] == {
        "method": "GET",
        "path": "/lists/l1/members",
        "operation_id": "op-2",
        "params": {"count": "10"},
    }
    assert sent[2]["body"] == '{"raw": true}'


async def test_submit_refuses_empty_batches_and_duplicate_ids(harness: Harness) -> None:
    client = harness.client(FakeBatches())
    with pytest.raises(ValueError, match="at least one"):
        await client.batches.submit([])
    with pytest.raises(ValueError, match="unique"):
        await client.batches.submit([OPERATIONS[0], OPERATIONS[0]])
    assert harness.requests == []


async def test_run_submits_polls_with_backoff_and_downloads_without_credentials(
    harness: Harness, fake_time: FakeTime
) -> None:
    fake = FakeBatches(polls=3)
    client = harness.client(fake)
    poll = PollPolicy(initial=1.0, factor=2.0, max_interval=3.0, sleep=fake_time.sleep,
                      clock=fake_time.clock)  # fmt: skip
    results = await client.batches.run(OPERATIONS, poll=poll)
    assert fake_time.sleeps == [1.0, 2.0, 3.0]
    assert results.batch.finished
    assert results.batch.errored_operations == 2
    assert set(results.outcomes) == {"op-1", "op-2", "op-3", "op-4"}
    assert set(results.failed) == {"op-2", "op-4"}
    assert len(results.responses) == 5
    download = fake.downloads[0]
    assert "Authorization" not in download.headers
    assert download.url.host == "storage.googleapis.com"
    assert harness.recorder.calls[-1].operation == "GET {response_body_url}"


async def test_download_ignores_an_http_clients_default_auth(harness: Harness) -> None:
    fake = FakeBatches(polls=0)
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(fake),
        auth=httpx.BasicAuth("leak", "me"),
        headers={"Authorization": "Bearer leaked"},
    ) as http:
        client = MailchimpClient(access_token=TOKEN, http_client=http)
        batch = await client.batches.wait("b1")
        await client.batches.results(batch)
    assert "Authorization" not in fake.downloads[0].headers


async def test_an_expired_results_url_is_refreshed_once(harness: Harness) -> None:
    fake = FakeBatches(polls=0, expired_first=True)
    client = harness.client(fake)
    batch = await client.batches.wait("b1")
    results = await client.batches.results(batch)
    assert [r.url.params["sig"] for r in fake.downloads] == ["1", "2"]
    assert "op-1" in results.outcomes


async def test_polling_gives_up_with_the_batch_id_to_resume(
    harness: Harness, fake_time: FakeTime
) -> None:
    client = harness.client(FakeBatches(polls=1000))
    poll = PollPolicy(initial=10.0, timeout=60.0, sleep=fake_time.sleep, clock=fake_time.clock)
    with pytest.raises(BatchNotFinishedError) as caught:
        await client.batches.wait("b1", poll=poll)
    assert caught.value.batch_id == "b1"
    assert caught.value.status == "started"
    assert sum(fake_time.sleeps) <= 60.0


async def test_resuming_a_known_batch_id(harness: Harness, fake_time: FakeTime) -> None:
    """After a restart only the stored id is known: wait + results finish the job."""
    fake = FakeBatches(polls=1)
    client = harness.client(fake)
    poll = PollPolicy(sleep=fake_time.sleep, clock=fake_time.clock)
    batch = await client.batches.wait("b1", poll=poll)
    results = await client.batches.results(batch)
    assert results.outcomes["op-1"].ok
    assert all(r.method == "GET" for r in harness.requests)


async def test_results_of_an_unfinished_batch_are_refused(harness: Harness) -> None:
    client = harness.client(FakeBatches(polls=5))
    batch = await client.batches.get("b1")
    assert batch.completed_at is None  # "" from Mailchimp
    with pytest.raises(ValueError, match="has not finished"):
        await client.batches.results(batch)


async def test_a_finished_batch_without_url_is_not_found(harness: Harness) -> None:
    client = harness.client(
        lambda request: json_response({"id": "b1", "status": "finished", "response_body_url": ""})
    )
    batch = await client.batches.get("b1")
    with pytest.raises(NotFoundError, match="no response_body_url"):
        await client.batches.results(batch)


async def test_download_server_errors_are_retried(harness: Harness) -> None:
    fake = FakeBatches(polls=0)
    failures = iter([httpx.Response(503)])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "storage.googleapis.com":
            answer = next(failures, None)
            if answer is not None:
                return answer
        return fake(request)

    client = harness.client(handler)
    results = await client.batches.results(await client.batches.wait("b1"))
    assert "op-1" in results.outcomes


async def test_download_refuses_relative_urls(harness: Harness) -> None:
    client = harness.client(FakeBatches())
    with pytest.raises(ValueError, match="absolute"):
        await client.batches._requestor.download("/relative/path.tar.gz")
