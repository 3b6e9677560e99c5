"""The client against the emulator: real OAuth, real member rules, real batches, real faults.

Tests taking the shared `emulator` fixture run twice: in-process
(httpx.ASGITransport) and served over a socket. Tests that need a specially
configured emulator (faults, batches driven to completion) build their own
in-process app. Retries never really sleep: policies get a no-op sleep.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from chimplink.emulator import EmulatorApp, create_app
from chimplink.mailchimp import (
    AuthenticationError,
    BatchOperation,
    CallRecorder,
    ComplianceError,
    LocalLimiter,
    MailchimpClient,
    MailingList,
    MemberExistsError,
    NotFoundError,
    OAuthError,
    PermissionDeniedError,
    PollPolicy,
    RetryPolicy,
    ValidationError,
    authorize_url,
    exchange_code,
    fetch_metadata,
    subscriber_hash,
)
from tests.conftest import Emulator


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


FAST_RETRIES = RetryPolicy(sleep=_no_sleep, max_attempts=6, deadline=None)

CONTACT = {
    "company": "Bakery",
    "address1": "1 Main St",
    "city": "Atlanta",
    "state": "GA",
    "zip": "30308",
    "country": "US",
}
DEFAULTS = {
    "from_name": "Bakery",
    "from_email": "news@bakery.example",
    "subject": "News",
    "language": "en",
}


async def new_list(client: MailchimpClient, name: str = "Customers") -> MailingList:
    return await client.lists.create(
        name=name,
        contact=CONTACT,
        permission_reminder="You bought bread from us.",
        campaign_defaults=DEFAULTS,
    )


def client_for(emulator: Emulator, info: dict[str, Any], **kwargs: Any) -> MailchimpClient:
    return MailchimpClient(
        access_token=info["access_token"],
        base_url=emulator.base_url,
        http_client=emulator.client,
        retry=FAST_RETRIES,
        **kwargs,
    )


# -- OAuth and addressing ----------------------------------------------------------------


async def test_oauth_flow_to_a_working_client(emulator: Emulator) -> None:
    account = await emulator.account("Bakery", dc="us7")
    redirect = "https://app.example/callback"
    await emulator.control.create_oauth_client("cid", "csecret", [redirect])
    http = emulator.client
    url = authorize_url(
        client_id="cid", redirect_uri=redirect, state="st-1", login_url=emulator.base_url
    )
    assert (await http.get(url)).status_code == 200  # the consent page
    consent = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    decision = await http.post(
        "/oauth2/authorize",
        data={**consent, "decision": "allow", "account_id": account.info["account_id"]},
    )
    callback = parse_qs(urlsplit(decision.headers["location"]).query)
    assert callback["state"] == ["st-1"]

    token = await exchange_code(
        http=http,
        client_id="cid",
        client_secret="csecret",
        redirect_uri=redirect,
        code=callback["code"][0],
        login_url=emulator.base_url,
    )
    assert token.expires_in == 0 and token.scope is None
    secret = token.access_token.get_secret_value()

    with pytest.raises(OAuthError, match="not a Mailchimp API host"):
        await fetch_metadata(http=http, access_token=secret, login_url=emulator.base_url)
    metadata = await fetch_metadata(
        http=http,
        access_token=secret,
        login_url=emulator.base_url,
        allowed_api_bases=[emulator.base_url],
    )
    assert metadata.dc == "us7"
    assert metadata.api_endpoint == f"{emulator.base_url}/us7"

    client = MailchimpClient.from_metadata(metadata, access_token=secret, http_client=http)
    assert client.base_url == f"{emulator.base_url}/us7/3.0"
    assert (await client.ping()).health_status == "Everything's Chimpy!"
    assert (await client.root.get()).account_name == "Bakery"

    with pytest.raises(OAuthError):  # the code is single-use
        await exchange_code(
            http=http,
            client_id="cid",
            client_secret="csecret",
            redirect_uri=redirect,
            code=callback["code"][0],
            login_url=emulator.base_url,
        )


async def test_metadata_for_a_bad_token_is_an_authentication_error(emulator: Emulator) -> None:
    with pytest.raises(AuthenticationError):
        await fetch_metadata(
            http=emulator.client,
            access_token="not-a-token",
            login_url=emulator.base_url,
            allowed_api_bases=[emulator.base_url],
        )


async def test_api_key_on_the_classic_host_and_token_on_the_single_host(
    emulator: Emulator,
) -> None:
    account = await emulator.account(dc="us5")
    by_key = MailchimpClient(
        api_key=account.info["api_key"],
        base_url=f"{emulator.base_url}/us5",
        http_client=emulator.client,
    )
    by_token = client_for(emulator, account.info)
    assert (await by_key.root.get()).account_id == account.info["account_id"]
    assert (await by_token.root.get()).account_id == account.info["account_id"]


async def test_a_token_under_another_datacenter_is_permission_denied(emulator: Emulator) -> None:
    account = await emulator.account(dc="us5")
    client = MailchimpClient(
        access_token=account.token,
        base_url=f"{emulator.base_url}/us9",
        http_client=emulator.client,
        retry=FAST_RETRIES,
    )
    with pytest.raises(PermissionDeniedError) as caught:
        await client.ping()
    assert caught.value.title == "Wrong Datacenter"
    assert "Reconnect" in caught.value.user_message


async def test_a_revoked_token_means_reconnect(emulator: Emulator) -> None:
    account = await emulator.account()
    client = client_for(emulator, account.info)
    await client.ping()
    await emulator.control.revoke(account.token)
    with pytest.raises(AuthenticationError) as caught:
        await client.ping()
    assert "Reconnect your Mailchimp account" in caught.value.user_message
    assert account.token not in str(caught.value)


# -- members ----------------------------------------------------------------------------------


async def test_member_lifecycle_and_mailchimps_rules(emulator: Emulator) -> None:
    account = await emulator.account()
    recorder = CallRecorder()
    client = client_for(emulator, account.info, observer=recorder, account_key="inst-1")
    audience = await new_list(client)
    members = client.lists.members

    ann = await members.upsert(
        audience.id, "Ann@Example.com", status_if_new="subscribed", merge_fields={"FNAME": "Ann"}
    )
    assert ann.id == subscriber_hash("ann@example.com")
    assert ann.status == "subscribed"
    assert ann.merge_fields["FNAME"] == "Ann"

    again = await members.upsert(
        audience.id, "ann@example.com", status_if_new="pending", merge_fields={"FNAME": "Anne"}
    )
    assert again.status == "subscribed"  # status_if_new applies only on create
    assert again.merge_fields["FNAME"] == "Anne"

    with pytest.raises(MemberExistsError):
        await members.create(audience.id, "ann@example.com", status="subscribed")

    await members.update_tags(audience.id, "ann@example.com", {"vip": True})
    assert [t.name async for t in members.iterate_tags(audience.id, "ann@example.com")] == ["vip"]
    await members.add_event(audience.id, "ann@example.com", "bought_bread")
    events = [e.name async for e in members.iterate_events(audience.id, "ann@example.com")]
    assert events == ["bought_bread"]

    unsubscribed = await members.patch(audience.id, "ann@example.com", {"status": "unsubscribed"})
    assert unsubscribed.status == "unsubscribed"
    with pytest.raises(ComplianceError) as caught:
        await members.patch(audience.id, "ann@example.com", {"status": "subscribed"})
    assert "re-subscribe themselves" in caught.value.user_message

    with pytest.raises(ValidationError) as fake:
        await members.upsert(audience.id, "fooboo@example.com", status_if_new="subscribed")
    assert "looks fake or invalid" in fake.value.user_message

    await members.archive(audience.id, "ann@example.com")
    assert (await members.get(audience.id, "ann@example.com")).status == "archived"
    await members.delete_permanent(audience.id, "ann@example.com")
    with pytest.raises(NotFoundError):
        await members.get(audience.id, "ann@example.com")

    operations = set(recorder.operations())
    assert "PUT /lists/{list_id}/members/{subscriber_hash}" in operations
    assert {c.account_key for c in recorder.calls} == {"inst-1"}


async def test_batch_subscribe_reports_every_address(emulator: Emulator) -> None:
    account = await emulator.account()
    client = client_for(emulator, account.info)
    audience = await new_list(client)
    await client.lists.members.upsert(audience.id, "m0@example.com", status_if_new="subscribed")
    people = [{"email_address": f"m{i}@example.com", "status": "subscribed"} for i in range(1100)]
    people.append({"email_address": "fooboo@example.com", "status": "subscribed"})

    result = await client.lists.batch_subscribe(audience.id, people, update_existing=True)

    assert len(result.outcomes) == 1101
    assert result.outcomes["m0@example.com"].status == "updated"
    assert len(result.created) == 1099
    [fake] = result.errors
    assert fake.email == "fooboo@example.com"
    assert fake.error is not None and "fake or invalid" in fake.error
    walked = [m async for m in client.lists.members.iterate(audience.id, fields=["email_address"])]
    assert len(walked) == 1100


async def test_files_and_folders(emulator: Emulator) -> None:
    account = await emulator.account()
    client = client_for(emulator, account.info)
    folder = await client.file_manager.folders.create("Photos")
    uploaded = await client.file_manager.files.upload("hello.txt", b"hello", folder_id=folder.id)
    assert uploaded.size == 5
    assert uploaded.folder_id == folder.id
    names = [f.name async for f in client.file_manager.folders.iterate_files(folder.id)]
    assert names == ["hello.txt"]


# -- batches (in-process: the batch runner is driven by draining the app) ---------------------


@pytest.fixture
async def own_app() -> AsyncIterator[tuple[EmulatorApp, httpx.AsyncClient]]:
    app = create_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mailchimp.test"
    ) as http:
        yield app, http
    await app.aclose()


async def test_batch_round_trip_with_results_keyed_by_operation_id(
    own_app: tuple[EmulatorApp, httpx.AsyncClient],
) -> None:
    app, http = own_app
    info = (await http.post("/_emulator/accounts", json={"account_name": "B"})).json()
    client = MailchimpClient(
        access_token=info["access_token"], base_url="http://mailchimp.test", http_client=http
    )
    audience = await new_list(client)
    zed = subscriber_hash("zed@example.com")
    operations = [
        BatchOperation(
            "PUT",
            f"/lists/{audience.id}/members/{zed}",
            "upsert-zed",
            body={"email_address": "zed@example.com", "status_if_new": "subscribed"},
        ),
        BatchOperation("GET", f"/lists/{audience.id}/members/{zed}", "read-zed"),
        BatchOperation("GET", "/lists/does-not-exist", "missing"),
    ]

    async def drain(seconds: float) -> None:
        await app.drain()

    batch = await client.batches.submit(operations)
    # Resume by id, as after a restart: nothing but the stored id is needed.
    finished = await client.batches.wait(batch.id, poll=PollPolicy(sleep=drain))
    results = await client.batches.results(finished)

    assert finished.errored_operations == 1
    assert results.outcomes["upsert-zed"].ok
    assert results.outcomes["read-zed"].body["email_address"] == "zed@example.com"
    assert isinstance(results.outcomes["missing"].error, NotFoundError)
    assert (await client.lists.members.get(audience.id, zed)).status == "subscribed"


async def test_upserts_under_injected_faults_converge_within_the_limit() -> None:
    """Faults (503, bare 429/403, 500 and resets after the write) at 10%: every member ends
    correct, retries are bounded, and our limiter keeps the account under its connection
    limit, so the emulator never throttles us for concurrency."""
    # A little latency makes requests overlap; the "slow" fault is kept short.
    app = create_app(max_connections=4, latency_ms=1, slow_fault_ms=5, seed=11)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mailchimp.test"
    ) as http:
        await _upserts_under_faults(http)
    await app.aclose()


async def _upserts_under_faults(http: httpx.AsyncClient) -> None:
    info = (await http.post("/_emulator/accounts", json={"account_name": "F"})).json()
    setup = MailchimpClient(
        access_token=info["access_token"], base_url="http://mailchimp.test", http_client=http
    )
    audience = await new_list(setup)
    await http.post("/_emulator/config", json={"fault_rate": 0.1})

    limiter = LocalLimiter(limit=4)
    recorder = CallRecorder()
    client = MailchimpClient(
        access_token=info["access_token"],
        base_url="http://mailchimp.test",
        http_client=http,
        limiter=limiter,
        retry=FAST_RETRIES,
        observer=recorder,
        account_key=info["account_id"],
    )
    count = 150
    await asyncio.gather(
        *(
            client.lists.members.upsert(
                audience.id,
                f"p{i}@example.com",
                status_if_new="subscribed",
                merge_fields={"FNAME": f"P{i}"},
            )
            for i in range(count)
        )
    )
    await http.post("/_emulator/config", json={"fault_rate": 0})
    stored = {
        m.email_address: m.merge_fields.get("FNAME")
        async for m in setup.lists.members.iterate(audience.id)
    }
    assert stored == {f"p{i}@example.com": f"P{i}" for i in range(count)}

    stats = (await http.get("/_emulator/stats")).json()["accounts"][info["account_id"]]
    assert sum(stats["faults"].values()) > 0, "faults were injected"
    assert stats["throttled"] == 0  # no 429 caused by our own concurrency
    assert stats["peak_concurrent_requests"] <= 4
    assert limiter.peak(info["account_id"]) == 4  # the limiter was saturated, and held
    assert len(recorder.calls) > count  # some calls were retried


async def test_without_a_tight_enough_limiter_the_emulator_throttles() -> None:
    """The control for the test above: 10 slots against an account limited to 4 get 429s."""
    app = create_app(max_connections=4, latency_ms=1)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mailchimp.test"
    ) as http:
        info = (await http.post("/_emulator/accounts", json={"account_name": "T"})).json()
        client = MailchimpClient(
            access_token=info["access_token"],
            base_url="http://mailchimp.test",
            http_client=http,
            limiter=LocalLimiter(limit=10),
            retry=FAST_RETRIES,
        )
        audience = await new_list(client)
        await asyncio.gather(
            *(
                client.lists.members.upsert(
                    audience.id, f"t{i}@example.com", status_if_new="subscribed"
                )
                for i in range(40)
            ),
            return_exceptions=True,  # retries that never wait may give up: not the point here
        )
        stats = (await http.get("/_emulator/stats")).json()["accounts"][info["account_id"]]
    await app.aclose()
    assert stats["throttled"] > 0


async def test_batch_subscribe_can_ask_for_a_partial_response(emulator: Emulator) -> None:
    account = await emulator.account()
    client = client_for(emulator, account.info)
    audience = await new_list(client)
    result = await client.lists.batch_subscribe(
        audience.id,
        [{"email_address": "ann.lee@shop-co.example", "status": "subscribed"}],
        update_existing=True,
        fields=["new_members.email_address", "new_members.status", "errors"],
    )
    [raw] = result.responses
    assert raw.total_created is None  # not asked for
    [member] = raw.new_members
    assert member.email_address == "ann.lee@shop-co.example"
    assert member.id is None  # trimmed by Mailchimp
    assert result.outcomes["ann.lee@shop-co.example"].status == "created"
