"""The official and the community Python clients, unmodified, against the served emulator.

`mailchimp-marketing` 3.0.80 (swagger-codegen, REFERENCE.md §11.1) and
`mailchimp3` 3.0.21 (§11.3) are synchronous (requests), so they talk to the
session's uvicorn-served emulator over a real socket. Each runs the scenario an
integration runs: audience, merge field, members upsert, batch subscribe, tags,
a webhook (validated against a real receiver), a /batches job whose results
archive is downloaded and parsed, and a File Manager upload served back.

Pointing them at the emulator (§11):
- mailchimp_marketing: `client.api_client.host = "{emulator}/3.0"`. The client
  runs `url.replace("server", dc)` on the whole URL, so the host must not
  contain "server" (127.0.0.1 does not).
- mailchimp3: API-key mode (its OAuth mode calls login.mailchimp.com in the
  constructor), then `client.base_url = "{emulator}/{dc}/3.0/"`; the trailing
  slash matters because it joins paths with `urljoin`. Its
  `lists.webhooks.create` refuses loopback URLs client-side, so that one call
  goes through the client's own `_post` (see `Mailchimp3Driver.create_webhook`).

The two clients share one scenario through thin drivers, so both are held to
the same assertions; each driver shows how its client is called.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import tarfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Protocol, TypeVar

import httpx
import mailchimp_marketing
import pytest
from mailchimp3 import MailChimp
from mailchimp3.mailchimpclient import MailChimpError
from mailchimp_marketing.api_client import ApiClientError
from PIL import Image

from chimplink.emulator.testing import ServedEmulator
from tests.emulator._webhook_receiver import Received, WebhookReceiver, webhook_receiver

T = TypeVar("T")

AUDIENCE = {
    "name": "Bakery newsletter",
    "contact": {
        "company": "Corner Bakery",
        "address1": "1 Main Street",
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
        "country": "US",
    },
    "permission_reminder": "You signed up at the counter.",
    "campaign_defaults": {
        "from_name": "Corner Bakery",
        "from_email": "hello@cornerbakery.example.com",
        "subject": "Fresh bread",
        "language": "en",
    },
    "email_type_option": False,
}
ADA = "ada.lovelace@example.com"
NEWCOMERS = ("grace.hopper@example.com", "alan.turing@example.com", "katherine.j@example.com")
FAKE = "test@example.com"  # a placeholder address Mailchimp refuses as fake (REFERENCE.md §5)
DOROTHY = "dorothy.vaughan@example.com"
UNKNOWN = "nobody.here@example.com"


def subscriber_hash(email: str) -> str:
    """MD5 of the lowercased address (REFERENCE.md §8.1)."""
    return hashlib.md5(email.lower().encode()).hexdigest()


def wait_for(probe: Callable[[], T | None], *, what: str, timeout: float = 10.0) -> T:
    """Poll `probe` until it returns something truthy (background work in the emulator)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def fetch(url: str) -> bytes:
    """A plain, unauthenticated download, as a client does with response_body_url."""
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        body: bytes = response.read()
        return body


def batch_results(url: str) -> dict[str, dict[str, Any]]:
    """Open the results .tar.gz: JSON arrays whose `response` is a JSON string (§7.2)."""
    archive = fetch(url)
    assert archive[:2] == b"\x1f\x8b", "response_body_url must serve a gzip stream"
    results: dict[str, dict[str, Any]] = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            entries = json.loads(handle.read())
            assert isinstance(entries, list)
            for entry in entries:
                assert set(entry) >= {"status_code", "operation_id", "response"}
                assert isinstance(entry["response"], str), "response is a JSON *string*"
                results[entry["operation_id"]] = {
                    "status_code": entry["status_code"],
                    "response": json.loads(entry["response"]),
                }
    return results


def png_bytes(width: int = 3, height: int = 2) -> bytes:
    image = Image.new("RGB", (width, height), (255, 224, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# -- the emulator and its control plane ---------------------------------------------


@pytest.fixture
def served(served_app: ServedEmulator) -> ServedEmulator:
    """The session's served emulator, emptied: other tests share it."""
    httpx.post(f"{served_app.url}/_emulator/reset", timeout=10).raise_for_status()
    return served_app


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as running:
        yield running


def create_account(served: ServedEmulator, *, dc: str) -> dict[str, Any]:
    response = httpx.post(
        f"{served.url}/_emulator/accounts",
        json={"account_name": "Corner Bakery", "dc": dc},
        timeout=10,
    )
    response.raise_for_status()
    account: dict[str, Any] = response.json()
    # mailchimp3 refuses keys that are not "<32 hex>-<dc>" before sending anything.
    assert re.fullmatch(rf"[0-9a-f]{{32}}-{dc}", account["api_key"])
    return account


# -- one driver per client ------------------------------------------------------------


class Driver(Protocol):
    error_type: ClassVar[type[Exception]]

    def problem(self, error: Exception) -> tuple[int, dict[str, Any]]: ...
    def create_list(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def add_merge_field(self, list_id: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def upsert_member(self, list_id: str, email: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def get_member(self, list_id: str, email: str) -> dict[str, Any]: ...
    def list_members(self, list_id: str) -> dict[str, Any]: ...
    def batch_subscribe(self, list_id: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def update_tags(self, list_id: str, email: str, body: dict[str, Any]) -> None: ...
    def get_tags(self, list_id: str, email: str) -> dict[str, Any]: ...
    def create_webhook(self, list_id: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def list_webhooks(self, list_id: str) -> dict[str, Any]: ...
    def start_batch(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def batch_status(self, batch_id: str) -> dict[str, Any]: ...
    def upload_file(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def get_file(self, file_id: int) -> dict[str, Any]: ...


class MarketingDriver:
    """The official client, with an OAuth token (Bearer) on the single-host URL."""

    error_type: ClassVar[type[Exception]] = ApiClientError

    def __init__(self, served: ServedEmulator, account: dict[str, Any]) -> None:
        self.client = mailchimp_marketing.Client()
        self.client.set_config(
            {"access_token": account["access_token"], "server": account["dc"], "timeout": 10}
        )
        self.client.api_client.host = f"{served.url}/3.0"

    def problem(self, error: Exception) -> tuple[int, dict[str, Any]]:
        assert isinstance(error, ApiClientError)
        # The client parses bodies only when the content type contains
        # "application/json"; "application/problem+json" does not, so `text`
        # is the raw body, as with the real Mailchimp.
        assert isinstance(error.text, str)
        body: dict[str, Any] = json.loads(error.text)
        assert error.status_code is not None
        return error.status_code, body

    def create_list(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.lists.create_list(body)

    def add_merge_field(self, list_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.lists.add_list_merge_field(list_id, body)

    def upsert_member(self, list_id: str, email: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.lists.set_list_member(list_id, subscriber_hash(email), body)

    def get_member(self, list_id: str, email: str) -> dict[str, Any]:
        return self.client.lists.get_list_member(list_id, subscriber_hash(email))

    def list_members(self, list_id: str) -> dict[str, Any]:
        return self.client.lists.get_list_members_info(list_id, count=100)

    def batch_subscribe(self, list_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.lists.batch_list_members(list_id, body)

    def update_tags(self, list_id: str, email: str, body: dict[str, Any]) -> None:
        # A 204 has no body, so the client hands back the raw requests.Response.
        response = self.client.lists.update_list_member_tags(list_id, subscriber_hash(email), body)
        assert response.status_code == 204

    def get_tags(self, list_id: str, email: str) -> dict[str, Any]:
        return self.client.lists.get_list_member_tags(list_id, subscriber_hash(email))

    def create_webhook(self, list_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.lists.create_list_webhook(list_id, body)

    def list_webhooks(self, list_id: str) -> dict[str, Any]:
        return self.client.lists.get_list_webhooks(list_id)

    def start_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.batches.start(body)

    def batch_status(self, batch_id: str) -> dict[str, Any]:
        return self.client.batches.status(batch_id)

    def upload_file(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.fileManager.upload(body)

    def get_file(self, file_id: int) -> dict[str, Any]:
        return self.client.fileManager.get_file(file_id)


class Mailchimp3Driver:
    """The community client, with an API key (HTTP Basic) on the classic /{dc}/3.0/ URL."""

    error_type: ClassVar[type[Exception]] = MailChimpError

    def __init__(self, served: ServedEmulator, account: dict[str, Any]) -> None:
        self.client = MailChimp(mc_api=account["api_key"], timeout=10)
        self.client.base_url = f"{served.url}/{account['dc']}/3.0/"

    def problem(self, error: Exception) -> tuple[int, dict[str, Any]]:
        assert isinstance(error, MailChimpError)
        # MailChimpError carries {"response": <requests.Response>, **parsed body}.
        data = dict(error.args[0])
        response = data.pop("response")
        return response.status_code, data

    def create_list(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.lists.create(body)

    def add_merge_field(self, list_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.lists.merge_fields.create(list_id, body)

    def upsert_member(self, list_id: str, email: str, body: dict[str, Any]) -> dict[str, Any]:
        # mailchimp3 hashes an email address itself (helpers.check_subscriber_hash).
        return self.client.lists.members.create_or_update(list_id, email, body)

    def get_member(self, list_id: str, email: str) -> dict[str, Any]:
        return self.client.lists.members.get(list_id, email)

    def list_members(self, list_id: str) -> dict[str, Any]:
        return self.client.lists.members.all(list_id, count=100)

    def batch_subscribe(self, list_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.lists.update_members(list_id, body)

    def update_tags(self, list_id: str, email: str, body: dict[str, Any]) -> None:
        assert self.client.lists.members.tags.update(list_id, email, body) is None  # 204

    def get_tags(self, list_id: str, email: str) -> dict[str, Any]:
        return self.client.lists.members.tags.all(list_id, email)

    def create_webhook(self, list_id: str, body: dict[str, Any]) -> dict[str, Any]:
        # `lists.webhooks.create` first runs mailchimp3's own `check_url`, a regex
        # that refuses loopback/private IPs and dotless hosts ("localhost"), so
        # no local receiver can pass it. Send what `create` would send after
        # that check: the same path, body and authenticated POST of the client.
        hooks = self.client.lists.webhooks
        created: dict[str, Any] = hooks._mc_client._post(
            url=hooks._build_path(list_id, "webhooks"), data=body
        )
        return created

    def list_webhooks(self, list_id: str) -> dict[str, Any]:
        return self.client.lists.webhooks.all(list_id)

    def start_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.batch_operations.create(body)

    def batch_status(self, batch_id: str) -> dict[str, Any]:
        return self.client.batch_operations.get(batch_id)

    def upload_file(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.files.create(body)

    def get_file(self, file_id: int) -> dict[str, Any]:
        return self.client.files.get(file_id)


CLIENTS: dict[str, tuple[str, Callable[[ServedEmulator, dict[str, Any]], Driver]]] = {
    # client name → (the account's dc, driver factory)
    "mailchimp_marketing": ("us6", MarketingDriver),
    "mailchimp3": ("us9", Mailchimp3Driver),
}


@pytest.fixture(params=list(CLIENTS))
def driver(request: pytest.FixtureRequest, served: ServedEmulator) -> Driver:
    dc, factory = CLIENTS[request.param]
    return factory(served, create_account(served, dc=dc))


# -- the scenario, one helper per step ------------------------------------------------


def make_audience(driver: Driver) -> str:
    audience = driver.create_list(AUDIENCE)
    assert audience["name"] == "Bakery newsletter"
    assert audience["contact"]["company"] == "Corner Bakery"
    assert audience["stats"]["member_count"] == 0
    list_id: str = audience["id"]
    return list_id


def add_company_field(driver: Driver, list_id: str) -> None:
    field = driver.add_merge_field(list_id, {"name": "Company", "type": "text", "tag": "COMPANY"})
    assert field["tag"] == "COMPANY"
    assert field["name"] == "Company"
    assert field["type"] == "text"
    assert field["list_id"] == list_id
    assert isinstance(field["merge_id"], int)


def upsert_ada(driver: Driver, list_id: str) -> None:
    created = driver.upsert_member(
        list_id,
        ADA,
        {
            "email_address": ADA,
            "status_if_new": "subscribed",
            "merge_fields": {"FNAME": "Ada", "LNAME": "Lovelace", "COMPANY": "Analytical"},
        },
    )
    assert created["id"] == subscriber_hash(ADA)
    assert created["status"] == "subscribed"
    assert created["merge_fields"]["COMPANY"] == "Analytical"
    # A second PUT updates; status_if_new applies only on create (REFERENCE.md §8.2).
    driver.upsert_member(
        list_id,
        ADA,
        {
            "email_address": ADA,
            "status_if_new": "pending",
            "merge_fields": {"COMPANY": "Difference Engines"},
        },
    )
    member = driver.get_member(list_id, ADA)
    assert member["email_address"] == ADA
    assert member["list_id"] == list_id
    assert member["status"] == "subscribed"
    assert member["merge_fields"]["COMPANY"] == "Difference Engines"
    assert member["merge_fields"]["FNAME"] == "Ada"


def batch_subscribe(driver: Driver, list_id: str) -> None:
    members = [
        {"email_address": ADA, "status": "subscribed", "merge_fields": {"COMPANY": "Babbage & Co"}},
        *(
            {"email_address": email, "status": "subscribed", "merge_fields": {"COMPANY": "Navy"}}
            for email in NEWCOMERS
        ),
        {"email_address": FAKE, "status": "subscribed"},
    ]
    result = driver.batch_subscribe(list_id, {"members": members, "update_existing": True})
    assert result["total_created"] == 3
    assert result["total_updated"] == 1
    assert result["error_count"] == 1
    assert {m["email_address"] for m in result["new_members"]} == set(NEWCOMERS)
    assert [m["email_address"] for m in result["updated_members"]] == [ADA]
    [error] = result["errors"]
    assert error["email_address"] == FAKE
    assert error["error_code"] == "ERROR_GENERIC"
    assert "looks fake or invalid" in error["error"]

    listed = driver.list_members(list_id)
    assert listed["total_items"] == 4
    assert {m["email_address"] for m in listed["members"]} == {ADA, *NEWCOMERS}
    assert driver.get_member(list_id, ADA)["merge_fields"]["COMPANY"] == "Babbage & Co"


def tag_ada(driver: Driver, list_id: str) -> None:
    driver.update_tags(
        list_id,
        ADA,
        {"tags": [{"name": "VIP", "status": "active"}, {"name": "Beta", "status": "active"}]},
    )
    tags = driver.get_tags(list_id, ADA)
    assert tags["total_items"] == 2
    assert {t["name"] for t in tags["tags"]} == {"VIP", "Beta"}

    driver.update_tags(list_id, ADA, {"tags": [{"name": "Beta", "status": "inactive"}]})
    tags = driver.get_tags(list_id, ADA)
    assert [t["name"] for t in tags["tags"]] == ["VIP"]
    member = driver.get_member(list_id, ADA)
    assert member["tags_count"] == 1
    assert [t["name"] for t in member["tags"]] == ["VIP"]


def add_webhook(driver: Driver, list_id: str, receiver: WebhookReceiver) -> str:
    """Create the webhook; its signing secret (shown once, REFERENCE.md §4.1)."""
    url = receiver.url("/mailchimp/hooks?key=s3cret")
    hook = driver.create_webhook(
        list_id,
        {
            "url": url,
            "events": {"subscribe": True, "unsubscribe": True, "profile": False},
            "sources": {"user": True, "admin": True, "api": True},
        },
    )
    assert hook["url"] == url
    assert hook["list_id"] == list_id
    assert hook["events"]["subscribe"] is True
    assert hook["events"]["profile"] is False
    assert hook["sources"]["api"] is True
    # Mailchimp checked the URL with one GET before saving it (REFERENCE.md §4.1).
    [probe] = receiver.received("GET")
    assert probe.path == "/mailchimp/hooks?key=s3cret"
    assert probe.user_agent == "MailChimp.com WebHook Validator"

    listed = driver.list_webhooks(list_id)
    assert listed["list_id"] == list_id
    assert listed["total_items"] == 1
    assert [w["id"] for w in listed["webhooks"]] == [hook["id"]]
    assert "signing_secret" not in listed["webhooks"][0]
    secret: str = hook["signing_secret"]
    return secret


def run_batch(
    driver: Driver, list_id: str, *, receiver: WebhookReceiver, signing_secret: str
) -> None:
    members = f"/lists/{list_id}/members"
    dorothy = {
        "email_address": DOROTHY,
        "status_if_new": "subscribed",
        "merge_fields": {"FNAME": "Dorothy", "COMPANY": "NACA"},
    }
    submitted = driver.start_batch(
        {
            "operations": [
                {
                    "method": "GET",
                    "path": f"{members}/{subscriber_hash(ADA)}",
                    "operation_id": "ada",
                },
                {
                    "method": "PUT",
                    "path": f"{members}/{subscriber_hash(DOROTHY)}",
                    "operation_id": "dorothy",
                    "body": json.dumps(dorothy),  # a JSON *string* (REFERENCE.md §7.1)
                },
                {
                    "method": "GET",
                    "path": f"{members}/{subscriber_hash(UNKNOWN)}",
                    "operation_id": "missing",
                },
            ]
        }
    )
    assert submitted["status"] in {"pending", "preprocessing", "started", "finalizing", "finished"}
    batch_id = submitted["id"]

    def finished() -> dict[str, Any] | None:
        status = driver.batch_status(batch_id)
        return status if status["status"] == "finished" else None

    batch = wait_for(finished, what=f"batch {batch_id} to finish")
    assert batch["total_operations"] == 3
    assert batch["finished_operations"] == 3  # errored ones count as finished (§7.1)
    assert batch["errored_operations"] == 1
    assert batch["response_body_url"]

    results = batch_results(batch["response_body_url"])
    assert set(results) == {"ada", "dorothy", "missing"}
    assert results["ada"]["status_code"] == 200
    assert results["ada"]["response"]["email_address"] == ADA
    assert results["dorothy"]["status_code"] == 200
    assert results["dorothy"]["response"]["status"] == "subscribed"
    assert results["dorothy"]["response"]["merge_fields"]["COMPANY"] == "NACA"
    assert results["missing"]["status_code"] == 404
    assert results["missing"]["response"]["title"] == "Resource Not Found"
    # The batch's write really happened.
    assert driver.get_member(list_id, DOROTHY)["merge_fields"]["FNAME"] == "Dorothy"

    # Dorothy's subscription came through the API; the webhook listens to api sources.
    delivery = wait_for(lambda: receiver.received("POST"), what="a subscribe delivery")[0]
    assert delivery.user_agent == "MailChimp.com"
    assert delivery.headers["content-type"].startswith("application/x-www-form-urlencoded")
    form = dict(urllib.parse.parse_qsl(delivery.body.decode()))
    assert form["type"] == "subscribe"
    assert form["data[email]"] == DOROTHY
    assert form["data[list_id]"] == list_id
    assert form["data[merges][COMPANY]"] == "NACA"
    assert_signed(delivery, signing_secret)


def assert_signed(delivery: Received, secret: str) -> None:
    """Verify X-Mailchimp-Signature as a receiver would (REFERENCE.md §4.1, 2026 docs)."""
    header = delivery.headers["x-mailchimp-signature"]  # t={unix_ts},v1={hex}
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    assert abs(time.time() - timestamp) < 300
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + delivery.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)


def upload_logo(driver: Driver) -> None:
    png = png_bytes(3, 2)
    uploaded = driver.upload_file(
        {"name": "logo.png", "file_data": base64.b64encode(png).decode("ascii")}
    )
    assert uploaded["type"] == "image"
    assert uploaded["name"] == "logo.png"
    assert uploaded["size"] == len(png)
    assert (uploaded["width"], uploaded["height"]) == (3, 2)
    assert isinstance(uploaded["id"], int)
    assert fetch(uploaded["full_size_url"]) == png
    assert driver.get_file(uploaded["id"])["full_size_url"] == uploaded["full_size_url"]


def errors_surface_through_the_client(driver: Driver, list_id: str) -> None:
    with pytest.raises(driver.error_type) as missing:
        driver.get_member(list_id, UNKNOWN)
    status, body = driver.problem(missing.value)
    assert status == 404
    assert body["status"] == 404
    assert body["title"] == "Resource Not Found"
    assert set(body) >= {"type", "title", "status", "detail", "instance"}

    with pytest.raises(driver.error_type) as fake:
        driver.upsert_member(list_id, FAKE, {"email_address": FAKE, "status_if_new": "subscribed"})
    status, body = driver.problem(fake.value)
    assert status == 400
    assert body["title"] == "Invalid Resource"
    assert body["detail"] == f"{FAKE} looks fake or invalid, please enter a real email address."


def test_scenario(driver: Driver, receiver: WebhookReceiver) -> None:
    list_id = make_audience(driver)
    add_company_field(driver, list_id)
    upsert_ada(driver, list_id)
    batch_subscribe(driver, list_id)
    tag_ada(driver, list_id)
    signing_secret = add_webhook(driver, list_id, receiver)
    run_batch(driver, list_id, receiver=receiver, signing_secret=signing_secret)
    upload_logo(driver)
    errors_surface_through_the_client(driver, list_id)


def test_mailchimp_marketing_with_an_api_key_on_the_classic_host(served: ServedEmulator) -> None:
    """Basic auth with the key; the host is the classic per-dc form."""
    account = create_account(served, dc="us4")
    client = mailchimp_marketing.Client()
    client.set_config({"api_key": account["api_key"], "timeout": 10})  # server from the key
    client.api_client.host = f"{served.url}/us4/3.0"
    assert client.ping.get() == {"health_status": "Everything's Chimpy!"}
    assert client.root.get_root()["account_id"] == account["account_id"]
