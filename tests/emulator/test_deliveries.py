"""Webhook deliveries: Mailchimp's form format, filtering, signing, retries, 410.

Events come from the API (`PUT /lists/{id}/members/{hash}`, source `api`) and
from the control plane's subscriber actions (sources `user` and `admin`). The
deliveries go to a real HTTP receiver on 127.0.0.1 (see test_webhooks.py).
The pure parts (form encoding, `fired_at`, the signature) are also checked
directly.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from chimplink.emulator import create_app
from chimplink.emulator.testing import serve
from chimplink.emulator.webhooks import payload
from chimplink.emulator.webhooks.models import Webhook
from tests.conftest import Account, Emulator
from tests.emulator.test_webhooks import (
    ALL_EVENTS,
    ALL_SOURCES,
    DROP,
    SLOW,
    Receiver,
    make_hook,
    make_list,
    running_receiver,
)

FIRED_AT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
EMAIL = "ann.lee@hooks-co.example"
HASH = hashlib.md5(EMAIL.encode()).hexdigest()

# Keys of each event type (REFERENCE.md §4.1, the legacy payloads), besides
# `data[merges][...]` which follow the audience's merge fields.
REQUIRED = {
    "subscribe": {
        "type",
        "fired_at",
        "data[id]",
        "data[list_id]",
        "data[email]",
        "data[email_type]",
        "data[ip_opt]",
        "data[merges][EMAIL]",
    },
    "unsubscribe": {
        "type",
        "fired_at",
        "data[action]",
        "data[reason]",
        "data[id]",
        "data[list_id]",
        "data[email]",
        "data[email_type]",
        "data[ip_opt]",
        "data[merges][EMAIL]",
    },
    "profile": {
        "type",
        "fired_at",
        "data[id]",
        "data[list_id]",
        "data[email]",
        "data[email_type]",
        "data[ip_opt]",
        "data[merges][EMAIL]",
    },
    "upemail": {
        "type",
        "fired_at",
        "data[list_id]",
        "data[new_id]",
        "data[new_email]",
        "data[old_email]",
    },
    "cleaned": {"type", "fired_at", "data[list_id]", "data[reason]", "data[email]"},
}
# Keys Mailchimp sends only sometimes (ip_signup for sign-up forms, web_id in
# newer deliveries, campaign_id when a campaign caused the event).
OPTIONAL = {
    "subscribe": {"data[ip_signup]", "data[web_id]"},
    "unsubscribe": {"data[campaign_id]", "data[web_id]"},
    "profile": {"data[web_id]"},
    "upemail": set(),
    "cleaned": {"data[campaign_id]"},
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as server:
        yield server


# -- helpers -----------------------------------------------------------------------------


async def deliveries(emulator: Emulator, **filters: str) -> list[dict[str, Any]]:
    response = await emulator.client.get("/_emulator/deliveries", params=filters)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["deliveries"]
    return found


async def wait_until(
    emulator: Emulator,
    done: Callable[[list[dict[str, Any]]], bool],
    *,
    within: float = 5.0,
    **filters: str,
) -> list[dict[str, Any]]:
    """Poll the recorded deliveries until `done` holds (they run in the background)."""
    deadline = time.monotonic() + within
    while True:
        found = await deliveries(emulator, **filters)
        if done(found):
            return found
        assert time.monotonic() < deadline, f"deliveries never got there: {found}"
        await asyncio.sleep(0.02)


def settled(count: int) -> Callable[[list[dict[str, Any]]], bool]:
    """`count` deliveries, none still waiting for its first attempt."""
    return lambda found: len(found) == count and all(d["outcome"] != "pending" for d in found)


async def flush(emulator: Emulator) -> dict[str, int]:
    response = await emulator.client.post("/_emulator/deliveries/flush")
    assert response.status_code == 200
    result: dict[str, int] = response.json()
    return result


async def subscribe(
    account: Account, list_id: str, email: str = EMAIL, **merge_fields: str
) -> dict[str, Any]:
    response = await account.put(
        f"/lists/{list_id}/members/{hashlib.md5(email.encode()).hexdigest()}",
        json={
            "email_address": email,
            "status_if_new": "subscribed",
            "merge_fields": {"FNAME": "Ann", "LNAME": "Lee", **merge_fields},
        },
    )
    assert response.status_code == 200, response.text
    member: dict[str, Any] = response.json()
    return member


async def action(
    emulator: Emulator, list_id: str, member: str, **body: Any
) -> dict[str, Any] | None:
    response = await emulator.client.post(
        f"/_emulator/lists/{list_id}/members/{member}/actions", json=body
    )
    assert response.status_code in (200, 204), response.text
    return response.json() if response.content else None


def fields(body: bytes | str) -> dict[str, str]:
    """A form body as {key: value}; every key must appear once."""
    text = body.decode() if isinstance(body, bytes) else body
    parsed = parse_qs(text, keep_blank_values=True, strict_parsing=True)
    assert all(len(values) == 1 for values in parsed.values()), parsed
    return {key: values[0] for key, values in parsed.items()}


def assert_event_keys(event_type: str, form: dict[str, str]) -> None:
    keys = set(form)
    assert REQUIRED[event_type] <= keys, REQUIRED[event_type] - keys
    extra = keys - REQUIRED[event_type] - OPTIONAL[event_type]
    assert all(key.startswith("data[merges][") for key in extra), extra
    assert form["type"] == event_type
    assert FIRED_AT.match(form["fired_at"]), form["fired_at"]


async def hooked_list(
    account: Account,
    receiver: Receiver,
    path: str = "/hook",
    *,
    events: dict[str, bool] | None = None,
    sources: dict[str, bool] | None = None,
) -> tuple[str, dict[str, Any]]:
    list_id = await make_list(account)
    hook = await make_hook(account, list_id, receiver.url(path), events=events, sources=sources)
    return list_id, hook


# -- the pure parts --------------------------------------------------------------------------


def test_form_encoding_is_php_style() -> None:
    form = payload.form_fields(
        event_type="subscribe",
        fired="2009-03-26 21:35:57",
        data={
            "id": "8a25ff1d98",
            "email": "api+x~y@mailchimp.com",
            "merges][FNAME": "Mail Chimp",
            "merges][BIRTHDAY": "03/12",
        },
    )
    assert payload.encode_form(form) == (
        "type=subscribe&fired_at=2009-03-26+21%3A35%3A57&data%5Bid%5D=8a25ff1d98"
        "&data%5Bemail%5D=api%2Bx%7Ey%40mailchimp.com"
        "&data%5Bmerges%5D%5BFNAME%5D=Mail+Chimp&data%5Bmerges%5D%5BBIRTHDAY%5D=03%2F12"
    )


def test_fired_at_is_mailchimps_format_in_utc() -> None:
    assert payload.fired_at("2009-03-26 21:35:57") == "2009-03-26 21:35:57"
    assert payload.fired_at("2024-01-02T03:04:05+00:00") == "2024-01-02 03:04:05"
    assert payload.fired_at("2024-01-02T05:04:05+02:00") == "2024-01-02 03:04:05"
    assert FIRED_AT.match(payload.fired_at(None))
    assert FIRED_AT.match(payload.fired_at("garbage"))


def test_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    body = b"type=subscribe&fired_at=2009-03-26+21%3A35%3A57"
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert payload.signature_header("s3cret", 1_700_000_000, body) == (
        f"t=1700000000,v1={expected}"
    )


def test_campaign_events_ignore_sources() -> None:
    hook = Webhook(
        id="w",
        list_id="l",
        url="http://x",
        events={"campaign": True, "subscribe": True},
        sources={"user": False, "admin": False, "api": False},
        signing_secret="s",
    )
    assert hook.wants(event_type="campaign", source="api")
    assert not hook.wants(event_type="subscribe", source="api")
    assert not hook.wants(event_type="unsubscribe", source="user")


# -- format of each event ------------------------------------------------------------------


async def test_subscribe_from_the_api(account: Account, receiver: Receiver) -> None:
    emulator = account.emulator
    list_id, hook = await hooked_list(account, receiver)
    await subscribe(account, list_id)
    [record] = await wait_until(emulator, settled(1))
    assert record["outcome"] == "delivered"
    assert record["attempts"] == 1
    assert record["last_status"] == 200
    assert record["webhook_id"] == hook["id"]
    assert record["list_id"] == list_id
    assert record["account_id"] == account.info["account_id"]
    assert record["type"] == "subscribe"
    assert record["source"] == "api"

    [post] = receiver.requests("POST", "/hook")
    assert post.body.decode() == record["body"]
    assert post.headers["user-agent"] == "MailChimp.com"
    assert post.headers["content-type"] == "application/x-www-form-urlencoded"
    form = fields(post.body)
    assert_event_keys("subscribe", form)
    assert form["fired_at"] == record["fired_at"]
    assert form["data[email]"] == EMAIL
    assert form["data[list_id]"] == list_id
    assert form["data[email_type]"] == "html"
    assert form["data[merges][EMAIL]"] == EMAIL
    assert form["data[merges][FNAME]"] == "Ann"
    assert form["data[merges][LNAME]"] == "Lee"
    assert form["data[id]"]
    # Byte-level: PHP-style encoding, type and fired_at first.
    text = post.body.decode()
    assert text.startswith("type=subscribe&fired_at=")
    assert re.match(r"^type=subscribe&fired_at=\d{4}-\d\d-\d\d\+\d\d%3A\d\d%3A\d\d&", text)
    assert "data%5Bemail%5D=ann.lee%40hooks-co.example" in text
    assert "data%5Bmerges%5D%5BFNAME%5D=Ann" in text


async def test_unsubscribe_by_the_subscriber(account: Account, receiver: Receiver) -> None:
    emulator = account.emulator
    list_id, _ = await hooked_list(account, receiver)
    await subscribe(account, list_id)
    await wait_until(emulator, settled(1))
    await action(emulator, list_id, HASH, action="unsubscribe", source="user")
    found = await wait_until(emulator, settled(2))
    record = found[-1]
    assert (record["type"], record["source"], record["outcome"]) == (
        "unsubscribe",
        "user",
        "delivered",
    )
    form = fields(receiver.requests("POST")[-1].body)
    assert_event_keys("unsubscribe", form)
    assert form["data[action]"] == "unsub"
    assert form["data[reason]"] == "manual"
    assert form["data[email]"] == EMAIL
    assert form["data[list_id]"] == list_id


async def test_profile_update_by_an_admin(account: Account, receiver: Receiver) -> None:
    emulator = account.emulator
    list_id, _ = await hooked_list(account, receiver)
    await subscribe(account, list_id)
    await wait_until(emulator, settled(1))
    await action(
        emulator,
        list_id,
        HASH,
        action="update_profile",
        source="admin",
        merge_fields={"FNAME": "Annie"},
    )
    found = await wait_until(emulator, settled(2))
    assert (found[-1]["type"], found[-1]["source"]) == ("profile", "admin")
    form = fields(found[-1]["body"])
    assert_event_keys("profile", form)
    assert form["data[merges][FNAME]"] == "Annie"
    assert form["data[email]"] == EMAIL


async def test_email_change_sends_upemail(account: Account, receiver: Receiver) -> None:
    emulator = account.emulator
    list_id, _ = await hooked_list(account, receiver)
    await subscribe(account, list_id)
    await wait_until(emulator, settled(1))
    new_email = "ann.new@hooks-co.example"
    await action(emulator, list_id, HASH, action="change_email", source="user", new_email=new_email)
    # "you will always receive a profile update at the same time as an email update" (§4.1)
    found = await wait_until(
        emulator, lambda ds: any(d["type"] == "upemail" and d["outcome"] != "pending" for d in ds)
    )
    upemail = next(d for d in found if d["type"] == "upemail")
    assert upemail["outcome"] == "delivered"
    form = fields(upemail["body"])
    assert_event_keys("upemail", form)
    assert form["data[old_email]"] == EMAIL
    assert form["data[new_email]"] == new_email
    assert form["data[list_id]"] == list_id
    assert form["data[new_id]"]


async def test_cleaned_address(account: Account, receiver: Receiver) -> None:
    emulator = account.emulator
    list_id, _ = await hooked_list(account, receiver)
    await subscribe(account, list_id)
    await wait_until(emulator, settled(1))
    await action(emulator, list_id, HASH, action="clean", source="admin")
    found = await wait_until(emulator, settled(2))
    assert found[-1]["type"] == "cleaned"
    form = fields(found[-1]["body"])
    assert_event_keys("cleaned", form)
    assert form["data[email]"] == EMAIL
    assert form["data[reason]"] in ("hard", "abuse")


# -- filtering by events and sources -------------------------------------------------------


async def test_events_and_sources_filter_deliveries(account: Account, receiver: Receiver) -> None:
    emulator = account.emulator
    list_id = await make_list(account)
    # chimplink's own registration: everything but API-made changes (no echo loops).
    no_api = await make_hook(
        account,
        list_id,
        receiver.url("/no-api"),
        events=ALL_EVENTS,
        sources={"user": True, "admin": True, "api": False},
    )
    only_subscribe = await make_hook(
        account,
        list_id,
        receiver.url("/subscribe-only"),
        events={"subscribe": True},
        sources=ALL_SOURCES,
    )
    await subscribe(account, list_id)  # source api
    [record] = await wait_until(emulator, settled(1))
    assert record["webhook_id"] == only_subscribe["id"]
    assert receiver.requests("POST", "/no-api") == []

    await action(emulator, list_id, HASH, action="unsubscribe", source="user")
    found = await wait_until(emulator, settled(2))
    assert found[-1]["webhook_id"] == no_api["id"]
    assert found[-1]["type"] == "unsubscribe"
    assert len(receiver.requests("POST", "/subscribe-only")) == 1
    assert len(receiver.requests("POST", "/no-api")) == 1

    by_hook = await deliveries(emulator, webhook_id=no_api["id"])
    assert [d["type"] for d in by_hook] == ["unsubscribe"]
    assert len(await deliveries(emulator, list_id=list_id)) == 2
    assert len(await deliveries(emulator, account_id=account.info["account_id"])) == 2
    assert await deliveries(emulator, list_id="another") == []


async def test_other_lists_and_accounts_get_nothing(account: Account, receiver: Receiver) -> None:
    emulator = account.emulator
    await hooked_list(account, receiver, "/first")
    second_list = await make_list(account)
    other = await emulator.account("Other Co")
    other_list, _ = await hooked_list(other, receiver, "/other")
    await subscribe(account, second_list)
    await subscribe(other, other_list)
    [record] = await wait_until(emulator, settled(1))
    assert record["account_id"] == other.info["account_id"]
    assert receiver.requests("POST", "/first") == []


# -- signing ----------------------------------------------------------------------------------


async def test_deliveries_are_signed_with_the_one_time_secret(
    account: Account, receiver: Receiver
) -> None:
    emulator = account.emulator
    list_id, hook = await hooked_list(account, receiver)
    await subscribe(account, list_id)
    [record] = await wait_until(emulator, settled(1))
    assert record["signed"] is True
    [post] = receiver.requests("POST")
    header = post.headers["x-mailchimp-signature"]
    match = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header)
    assert match is not None, header
    timestamp = int(match.group(1))
    assert abs(time.time() - timestamp) < 300  # receivers reject older than 5 minutes
    expected = hmac.new(
        hook["signing_secret"].encode(), f"{timestamp}.".encode() + post.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(match.group(2), expected)
    wrong = hmac.new(b"not-the-secret", f"{timestamp}.".encode() + post.body, hashlib.sha256)
    assert match.group(2) != wrong.hexdigest()


# -- failures, retries, 410 -----------------------------------------------------------------


async def test_failing_receiver_is_retried_until_it_answers(
    account: Account, receiver: Receiver
) -> None:
    emulator = account.emulator
    list_id, _ = await hooked_list(account, receiver)
    receiver.answer("POST", "/hook", 500, DROP, then=200)
    await subscribe(account, list_id)

    [record] = await wait_until(emulator, lambda ds: bool(ds) and ds[0]["attempts"] == 1)
    assert record["outcome"] == "retrying"
    assert record["last_status"] == 500
    assert record["next_attempt_at"] is not None
    assert (await flush(emulator))["woken"] == 1

    # The second attempt gets no response at all (the connection drops).
    [record] = await wait_until(emulator, lambda ds: ds[0]["attempts"] == 2)
    assert record["outcome"] == "retrying"
    assert record["last_status"] is None
    assert record["last_error"].startswith("connection error")
    await flush(emulator)

    [record] = await wait_until(emulator, lambda ds: ds[0]["outcome"] == "delivered")
    assert record["attempts"] == 3
    assert record["last_status"] == 200
    assert record["next_attempt_at"] is None
    posts = receiver.requests("POST", "/hook")
    assert len(posts) == 3
    assert {p.body for p in posts} == {record["body"].encode()}  # the same event each time
    assert all("x-mailchimp-signature" in p.headers for p in posts)


async def test_retries_stop_after_the_last_delay(account: Account, receiver: Receiver) -> None:
    emulator = account.emulator
    attempts = len(emulator.app.config.webhook_retry_delays_s) + 1
    list_id, _ = await hooked_list(account, receiver)
    receiver.answer("POST", "/hook", then=503)
    await subscribe(account, list_id)
    for attempt in range(1, attempts):
        [record] = await wait_until(
            emulator, lambda ds, n=attempt: bool(ds) and ds[0]["attempts"] == n
        )
        assert record["outcome"] == "retrying"
        await flush(emulator)
    [record] = await wait_until(emulator, lambda ds: ds[0]["outcome"] == "failed")
    assert record["attempts"] == attempts
    assert record["last_status"] == 503
    assert len(receiver.requests("POST")) == attempts
    assert (await flush(emulator)) == {"woken": 0, "resumed": 0}


async def test_410_disables_the_webhook(account: Account, receiver: Receiver) -> None:
    emulator = account.emulator
    list_id, hook = await hooked_list(account, receiver)
    receiver.answer("POST", "/hook", 410)
    await subscribe(account, list_id)
    [record] = await wait_until(emulator, settled(1))
    assert record["outcome"] == "disabled"
    assert record["attempts"] == 1
    assert record["last_status"] == 410
    await flush(emulator)

    path = f"/lists/{list_id}/webhooks/{hook['id']}"
    shown = (await account.get(path)).json()
    assert shown["_emulator"]["disabled"] is True
    listed = (await account.get(f"/lists/{list_id}/webhooks")).json()
    assert listed["webhooks"][0]["_emulator"]["disabled"] is True

    # No more deliveries to it, and no retries of the first.
    await action(emulator, list_id, HASH, action="unsubscribe", source="user")
    await asyncio.sleep(0.1)
    assert len(await deliveries(emulator)) == 1
    assert len(receiver.requests("POST")) == 1

    # A PATCH whose URL passes the validator again turns it back on.
    enabled = (await account.patch(path, json={"events": {"profile": True}})).json()
    assert "_emulator" not in enabled
    await subscribe(account, list_id, "bob@hooks-co.example")
    found = await wait_until(emulator, settled(2))
    assert found[-1]["outcome"] == "delivered"
    assert fields(found[-1]["body"])["data[email]"] == "bob@hooks-co.example"


async def test_deleted_webhook_gets_no_more_retries(account: Account, receiver: Receiver) -> None:
    emulator = account.emulator
    list_id, hook = await hooked_list(account, receiver)
    receiver.answer("POST", "/hook", then=500)
    await subscribe(account, list_id)
    await wait_until(emulator, lambda ds: bool(ds) and ds[0]["outcome"] == "retrying")
    assert (await account.delete(f"/lists/{list_id}/webhooks/{hook['id']}")).status_code == 204
    await flush(emulator)
    [record] = await wait_until(emulator, lambda ds: ds[0]["outcome"] == "cancelled")
    assert record["attempts"] == 1
    assert len(receiver.requests("POST")) == 1


async def test_deliveries_are_part_of_the_saved_state(account: Account, receiver: Receiver) -> None:
    emulator = account.emulator
    list_id, _ = await hooked_list(account, receiver)
    await subscribe(account, list_id)
    [record] = await wait_until(emulator, settled(1))
    state = (await emulator.client.get("/_emulator/state")).json()
    stores = state["accounts"][account.info["account_id"]]["stores"]
    assert stores["webhook_deliveries"]["records"][record["id"]]["outcome"] == "delivered"
    assert list_id in stores["webhooks"]["webhooks"]


async def test_waiting_retries_survive_a_restart_with_state(
    tmp_path: Path, receiver: Receiver
) -> None:
    """`--state FILE`: a delivery waiting for its retry is resumed by the next flush."""
    state = tmp_path / "state.json"
    receiver.answer("POST", "/hook", then=500)
    with serve(create_app(state_file=state)) as first:
        async with httpx.AsyncClient(base_url=first.url) as client:
            emulator = Emulator(first.app, client, first.url, "served")
            account = await emulator.account()
            list_id, _ = await hooked_list(account, receiver)
            await subscribe(account, list_id)
            await wait_until(emulator, lambda ds: bool(ds) and ds[0]["outcome"] == "retrying")
    assert state.exists()
    receiver.answer("POST", "/hook", then=200)  # the receiver is fixed meanwhile
    with serve(create_app(state_file=state)) as second:
        async with httpx.AsyncClient(base_url=second.url) as client:
            emulator = Emulator(second.app, client, second.url, "served")
            [saved] = await deliveries(emulator)
            assert saved["outcome"] == "retrying"
            assert await flush(emulator) == {"woken": 0, "resumed": 1}
            [record] = await wait_until(emulator, lambda ds: ds[0]["outcome"] == "delivered")
            assert record["attempts"] == saved["attempts"] + 1
    assert len(receiver.requests("POST", "/hook")) == record["attempts"]


async def test_a_receiver_slower_than_the_timeout_is_retried(receiver: Receiver) -> None:
    """Mailchimp cancels a delivery after 10 s and tries again later (REFERENCE.md §4.1)."""
    app = create_app(webhook_timeout_s=0.2)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mc.test") as client:
        emulator = Emulator(app, client, "http://mc.test", "inprocess")
        account = await emulator.account()
        list_id, _ = await hooked_list(account, receiver)
        receiver.answer("POST", "/hook", SLOW)
        await subscribe(account, list_id)
        [record] = await wait_until(emulator, lambda ds: bool(ds) and ds[0]["attempts"] == 1)
        assert record["outcome"] == "retrying"
        assert record["last_status"] is None
        assert record["last_error"] == "timeout"
        await flush(emulator)
        [record] = await wait_until(emulator, lambda ds: ds[0]["outcome"] == "delivered")
        assert record["attempts"] == 2
    await app.aclose()
