"""Audience webhooks: CRUD, URL validation on create, the one-time signing secret.

Webhook URLs point at a real HTTP receiver on 127.0.0.1 (a thread of this
process), because the emulator validates them with a GET over the network in
both modes (in-process and served). `Receiver` and its fixture are shared with
test_deliveries.py.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chimplink.emulator.testing import free_port
from tests.conformance import assert_conforms
from tests.conftest import Account

COLLECTION = "/lists/{list_id}/webhooks"
INSTANCE = "/lists/{list_id}/webhooks/{webhook_id}"
ALL_EVENTS = {
    "subscribe": True,
    "unsubscribe": True,
    "profile": True,
    "cleaned": True,
    "upemail": True,
    "campaign": True,
}
ALL_SOURCES = {"user": True, "admin": True, "api": True}
UNVERIFIABLE = (
    "We couldn't verify the URL is working. Please double check and try again. HTTP Code: "
)

LIST_BODY = {
    "name": "Hooks",
    "permission_reminder": "You signed up on our site.",
    "email_type_option": False,
    "contact": {
        "company": "Hooks Co",
        "address1": "1 Road",
        "city": "Atlanta",
        "state": "GA",
        "zip": "30308",
        "country": "US",
    },
    "campaign_defaults": {
        "from_name": "Hooks Co",
        "from_email": "news@hooks-co.example",
        "subject": "News",
        "language": "en",
    },
}


# -- a real webhook receiver -----------------------------------------------------


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lowercased names
    body: bytes


DROP = -1  # a scripted "status" that closes the connection without an answer
SLOW = -2  # a scripted "status": answer 200, but only after SLOW_S seconds
SLOW_S = 1.0


class Receiver:
    """Records every request; answers each path with scripted statuses, then 200."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Received] = []
        self._script: dict[tuple[str, str], list[int]] = {}
        self._always: dict[tuple[str, str], int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                status = receiver._record(
                    Received(
                        self.command,
                        path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                if status == DROP:
                    self.close_connection = True
                    return
                if status == SLOW:
                    time.sleep(SLOW_S)
                    status = 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def _record(self, request: Received) -> int:
        key = (request.method, request.path)
        with self._lock:
            self._requests.append(request)
            queued = self._script.get(key)
            if queued:
                return queued.pop(0)
            return self._always.get(key, 200)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, method: str, path: str, *statuses: int, then: int = 200) -> None:
        """Answer the next requests with `statuses`, later ones with `then`."""
        with self._lock:
            self._script[(method, path)] = list(statuses)
            self._always[(method, path)] = then

    def requests(self, method: str | None = None, path: str | None = None) -> list[Received]:
        with self._lock:
            return [
                r
                for r in self._requests
                if (method is None or r.method == method) and (path is None or r.path == path)
            ]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as server:
        yield server


# -- helpers shared with test_deliveries.py ------------------------------------------


async def make_list(account: Account) -> str:
    response = await account.post("/lists", json=LIST_BODY)
    assert response.status_code == 200, response.text
    list_id: str = response.json()["id"]
    return list_id


async def make_hook(
    account: Account,
    list_id: str,
    url: str,
    *,
    events: dict[str, bool] | None = None,
    sources: dict[str, bool] | None = None,
) -> dict[str, Any]:
    response = await account.post(
        f"/lists/{list_id}/webhooks",
        json={"url": url, "events": events or ALL_EVENTS, "sources": sources or ALL_SOURCES},
    )
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


# -- CRUD ------------------------------------------------------------------------------


async def test_crud_round_trip_conforms(account: Account, receiver: Receiver) -> None:
    list_id = await make_list(account)
    url = receiver.url("/hooks/mc/secret-in-path")
    created = await account.post(
        f"/lists/{list_id}/webhooks",
        json={
            "url": url,
            "events": {"subscribe": True, "unsubscribe": True},
            "sources": {"user": True, "admin": True, "api": False},
        },
    )
    assert created.status_code == 200
    hook = assert_conforms(created, "POST", COLLECTION)
    assert hook["url"] == url
    assert hook["list_id"] == list_id
    assert re.fullmatch(r"[0-9a-f]{10}", hook["id"])
    assert hook["events"] == {
        "subscribe": True,
        "unsubscribe": True,
        "profile": False,
        "cleaned": False,
        "upemail": False,
        "campaign": False,
    }
    assert hook["sources"] == {"user": True, "admin": True, "api": False}
    assert hook["signing_enabled"] is True
    assert {link["rel"] for link in hook["_links"]} >= {"self", "parent", "update", "delete"}

    # Validated with one GET from Mailchimp's validator before it was saved.
    [probe] = receiver.requests("GET", "/hooks/mc/secret-in-path")
    assert probe.headers["user-agent"] == "MailChimp.com WebHook Validator"
    assert probe.body == b""

    path = f"/lists/{list_id}/webhooks/{hook['id']}"
    fetched = assert_conforms(await account.get(path), "GET", INSTANCE)
    assert {k: v for k, v in fetched.items() if k != "_links"} == {
        k: v for k, v in hook.items() if k not in ("_links", "signing_secret")
    }

    listed = assert_conforms(await account.get(f"/lists/{list_id}/webhooks"), "GET", COLLECTION)
    assert listed["list_id"] == list_id
    assert listed["total_items"] == 1
    assert [w["id"] for w in listed["webhooks"]] == [hook["id"]]

    patched = await account.patch(path, json={"events": {"profile": True, "subscribe": False}})
    body = assert_conforms(patched, "PATCH", INSTANCE)
    assert body["events"]["profile"] is True
    assert body["events"]["subscribe"] is False
    assert body["events"]["unsubscribe"] is True  # untouched
    assert body["sources"] == {"user": True, "admin": True, "api": False}
    assert body["url"] == url
    # An unchanged URL is not validated again.
    assert len(receiver.requests("GET")) == 1

    deleted = await account.delete(path)
    assert deleted.status_code == 204
    assert_conforms(deleted, "DELETE", INSTANCE)
    gone = await account.get(path)
    assert gone.status_code == 404
    assert_conforms(gone, "GET", INSTANCE)
    empty = (await account.get(f"/lists/{list_id}/webhooks")).json()
    assert empty["webhooks"] == [] and empty["total_items"] == 0


async def test_omitted_events_and_sources_are_false(account: Account, receiver: Receiver) -> None:
    list_id = await make_list(account)
    response = await account.post(f"/lists/{list_id}/webhooks", json={"url": receiver.url("/a")})
    hook = assert_conforms(response, "POST", COLLECTION)
    assert set(hook["events"].values()) == {False}
    assert hook["sources"] == {"user": False, "admin": False, "api": False}
    partial = await account.post(
        f"/lists/{list_id}/webhooks",
        json={"url": receiver.url("/b"), "events": {"upemail": True}, "sources": {"admin": True}},
    )
    body = partial.json()
    assert [name for name, on in body["events"].items() if on] == ["upemail"]
    assert body["sources"] == {"user": False, "admin": True, "api": False}


async def test_signing_secret_is_shown_once(account: Account, receiver: Receiver) -> None:
    list_id = await make_list(account)
    first = await make_hook(account, list_id, receiver.url("/one"))
    second = await make_hook(account, list_id, receiver.url("/two"))
    for hook in (first, second):
        assert re.fullmatch(r"[0-9a-f]{32}", hook["signing_secret"])
    assert first["signing_secret"] != second["signing_secret"]
    path = f"/lists/{list_id}/webhooks/{first['id']}"
    assert "signing_secret" not in (await account.get(path)).json()
    listed = (await account.get(f"/lists/{list_id}/webhooks")).json()
    assert all("signing_secret" not in hook for hook in listed["webhooks"])
    assert all(hook["signing_enabled"] is True for hook in listed["webhooks"])
    patched = (await account.patch(path, json={"sources": {"api": False}})).json()
    assert "signing_secret" not in patched


# -- URL validation ----------------------------------------------------------------------


async def test_url_answering_500_is_refused(account: Account, receiver: Receiver) -> None:
    list_id = await make_list(account)
    receiver.answer("GET", "/broken", then=500)
    response = await account.post(
        f"/lists/{list_id}/webhooks", json={"url": receiver.url("/broken"), "events": ALL_EVENTS}
    )
    assert response.status_code == 400
    body = assert_conforms(response, "POST", COLLECTION)
    assert body["title"] == "Invalid Resource"
    assert body["detail"] == UNVERIFIABLE + "500"
    assert len(receiver.requests("GET", "/broken")) == 1
    assert receiver.requests("POST") == []
    listed = (await account.get(f"/lists/{list_id}/webhooks")).json()
    assert listed["total_items"] == 0


async def test_only_200_passes_the_validator(account: Account, receiver: Receiver) -> None:
    list_id = await make_list(account)
    for status in (204, 301, 404):
        receiver.answer("GET", f"/s{status}", then=status)
        response = await account.post(
            f"/lists/{list_id}/webhooks", json={"url": receiver.url(f"/s{status}")}
        )
        assert response.status_code == 400
        assert response.json()["detail"] == UNVERIFIABLE + str(status)


async def test_unreachable_url_is_refused(account: Account) -> None:
    list_id = await make_list(account)
    url = f"http://127.0.0.1:{free_port()}/nobody-listens"
    response = await account.post(f"/lists/{list_id}/webhooks", json={"url": url})
    assert response.status_code == 400
    body = assert_conforms(response, "POST", COLLECTION)
    assert body["title"] == "Invalid Resource"
    assert body["detail"] == UNVERIFIABLE + "0"


async def test_malformed_urls_are_refused_without_a_request(
    account: Account, receiver: Receiver
) -> None:
    list_id = await make_list(account)
    for url in ("not a url", "ftp://127.0.0.1/x", "http://", ""):
        response = await account.post(f"/lists/{list_id}/webhooks", json={"url": url})
        assert response.status_code == 400, url
        body = assert_conforms(response, "POST", COLLECTION)
        assert body["title"] == "Invalid Resource"
        assert body["errors"] == [{"field": "url", "message": "Please enter a valid URL."}]
    assert receiver.requests() == []


async def test_same_url_twice_on_a_list_is_refused(account: Account, receiver: Receiver) -> None:
    list_id = await make_list(account)
    url = receiver.url("/hook")
    await make_hook(account, list_id, url)
    for duplicate in (url, url + "?key=other"):
        response = await account.post(f"/lists/{list_id}/webhooks", json={"url": duplicate})
        assert response.status_code == 400
        body = assert_conforms(response, "POST", COLLECTION)
        assert body["title"] == "Invalid Resource"
        assert body["errors"][0]["field"] == "url"
    # Another path on the same list, and the same URL on another list, are fine.
    await make_hook(account, list_id, receiver.url("/hook2"))
    other_list = await make_list(account)
    await make_hook(account, other_list, url)


async def test_patch_with_a_new_url_validates_it(account: Account, receiver: Receiver) -> None:
    list_id = await make_list(account)
    hook = await make_hook(account, list_id, receiver.url("/old"))
    path = f"/lists/{list_id}/webhooks/{hook['id']}"
    receiver.answer("GET", "/new-broken", then=404)
    refused = await account.patch(
        path, json={"url": receiver.url("/new-broken"), "events": {"subscribe": False}}
    )
    assert refused.status_code == 400
    body = assert_conforms(refused, "PATCH", INSTANCE)
    assert body["detail"] == UNVERIFIABLE + "404"
    unchanged = (await account.get(path)).json()
    assert unchanged["url"] == receiver.url("/old")
    assert unchanged["events"]["subscribe"] is True

    moved = await account.patch(path, json={"url": receiver.url("/new")})
    assert moved.status_code == 200
    assert moved.json()["url"] == receiver.url("/new")
    assert len(receiver.requests("GET", "/new")) == 1

    other = await make_hook(account, list_id, receiver.url("/other"))
    clash = await account.patch(
        f"/lists/{list_id}/webhooks/{other['id']}", json={"url": receiver.url("/new")}
    )
    assert clash.status_code == 400
    assert clash.json()["errors"][0]["field"] == "url"


# -- errors ----------------------------------------------------------------------------------


async def test_unknown_list_and_webhook_are_404(account: Account, receiver: Receiver) -> None:
    for method, body in (("GET", None), ("POST", {"url": receiver.url("/x")})):
        response = await account.request(method, "/lists/nolist123/webhooks", json=body)
        assert response.status_code == 404
        problem = assert_conforms(response, method, COLLECTION)
        assert problem["title"] == "Resource Not Found"
    list_id = await make_list(account)
    path = f"/lists/{list_id}/webhooks/nohook1234"
    for method, body in (("GET", None), ("PATCH", {"url": receiver.url("/x")}), ("DELETE", None)):
        response = await account.request(method, path, json=body)
        assert response.status_code == 404
        problem = assert_conforms(response, method, INSTANCE)
        assert problem["title"] == "Resource Not Found"
    assert receiver.requests() == []


async def test_bad_bodies_get_mailchimp_problems(account: Account, receiver: Receiver) -> None:
    list_id = await make_list(account)
    missing = await account.post(f"/lists/{list_id}/webhooks", json={"events": ALL_EVENTS})
    body = assert_conforms(missing, "POST", COLLECTION)
    assert missing.status_code == 400
    assert body["title"] == "Invalid Resource"
    assert body["errors"] == [{"field": "", "message": "Required fields were not provided: url"}]

    wrong_type = await account.post(
        f"/lists/{list_id}/webhooks",
        json={"url": receiver.url("/x"), "events": {"subscribe": "yes"}},
    )
    assert wrong_type.status_code == 400
    body = assert_conforms(wrong_type, "POST", COLLECTION)
    assert body["title"] == "Invalid Resource"
    assert body["errors"][0]["field"] == "events.subscribe"

    not_json = await account.post(
        f"/lists/{list_id}/webhooks",
        content=b"{url:",
        headers={"Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    assert assert_conforms(not_json, "POST", COLLECTION)["title"] == "JSON Parse Exception"

    not_object = await account.post(f"/lists/{list_id}/webhooks", json=[receiver.url("/x")])
    assert not_object.status_code == 400
    assert not_object.json()["title"] == "Invalid Resource"

    hook = await make_hook(account, list_id, receiver.url("/ok"))
    bad_patch = await account.patch(
        f"/lists/{list_id}/webhooks/{hook['id']}", json={"sources": {"api": 1}}
    )
    assert bad_patch.status_code == 400
    body = assert_conforms(bad_patch, "PATCH", INSTANCE)
    assert body["errors"][0]["field"] == "sources.api"
    assert receiver.requests("GET", "/x") == []


async def test_webhooks_belong_to_their_account(account: Account, receiver: Receiver) -> None:
    list_id = await make_list(account)
    hook = await make_hook(account, list_id, receiver.url("/mine"))
    intruder = await account.emulator.account("Intruder")
    response = await intruder.get(f"/lists/{list_id}/webhooks/{hook['id']}")
    assert response.status_code == 404
    response = await intruder.delete(f"/lists/{list_id}/webhooks/{hook['id']}")
    assert response.status_code == 404
    assert (await account.get(f"/lists/{list_id}/webhooks/{hook['id']}")).status_code == 200


async def test_webhooks_go_with_their_list(account: Account, receiver: Receiver) -> None:
    list_id = await make_list(account)
    hook = await make_hook(account, list_id, receiver.url("/doomed"))
    assert (await account.delete(f"/lists/{list_id}")).status_code == 204
    response = await account.get(f"/lists/{list_id}/webhooks/{hook['id']}")
    assert response.status_code == 404
    assert (await account.get(f"/lists/{list_id}/webhooks")).status_code == 404
