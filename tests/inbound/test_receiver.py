"""The receiver with bad input: wrong secret → 404 and nothing stored; malformed → 400 and a
dead letter with the reason; bad signature → 401, nothing stored, a security log line
without the body (T11, T12)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
from structlog.testing import capture_logs

from chimplink.connect import WEBHOOK_PATH_PREFIX, webhook_secret
from chimplink.platforms import ConsentWithdrawn
from chimplink.store.inbox import DEAD_LETTER_BODY_LIMIT
from chimplink.sync.inbound import MAX_BODY_BYTES
from tests.inbound.conftest import Scene
from tests.web.harness import row_counts

UNSUBSCRIBE = (
    b"type=unsubscribe&fired_at=2026-01-02+03%3A04%3A05&data%5Baction%5D=unsub"
    b"&data%5Breason%5D=manual&data%5Bid%5D=8a25ff1d98&data%5Blist_id%5D={list_id}"
    b"&data%5Bemail%5D=ann%40example.org&data%5Bemail_type%5D=html"
)


def _unsubscribe(scene: Scene) -> bytes:
    return UNSUBSCRIBE.replace(b"{list_id}", scene.list_id.encode())


def _problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


async def test_a_valid_delivery_is_stored_and_answered_200_without_calling_mailchimp(
    scene: Scene,
) -> None:
    mark = scene.world.transport.mark()
    response = await scene.post(_unsubscribe(scene))
    assert response.status_code == 200
    assert response.content == b""
    assert scene.world.transport.since(mark) == []  # no Mailchimp call while it waits
    [item] = await scene.inbox()
    assert item.event_type == "unsubscribe"


async def test_wrong_secrets_are_the_same_404_as_any_unknown_address_and_store_nothing(
    scene: Scene,
) -> None:
    body = _unsubscribe(scene)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=scene.world.app), base_url="http://chimplink.test"
    ) as client:
        reference = await client.post("/no/such/address", content=body)
    assert reference.status_code == 404
    counts = await row_counts(scene.world)
    key = scene.world.services.webhook_key
    installation_id = scene.installation.id
    secret = webhook_secret(key, installation_id)
    other = str(uuid.uuid4())
    # The last character changed, whatever it was (a fixed "0" equals it one time in 16).
    near_miss = secret[:-1] + ("1" if secret[-1] == "0" else "0")
    for path in (
        f"{WEBHOOK_PATH_PREFIX}/{installation_id}/{'0' * 32}",
        f"{WEBHOOK_PATH_PREFIX}/{installation_id}/{near_miss}",
        f"{WEBHOOK_PATH_PREFIX}/{other}/{secret}",
        f"{WEBHOOK_PATH_PREFIX}/{other}/{webhook_secret(key, other)}",
    ):
        response = await scene.post(body, path=path)
        assert response.status_code == 404, path
        assert response.content == reference.content, path
        garbage = await scene.post(b"\xff\xfe not a form", path=path)
        assert garbage.status_code == 404 and garbage.content == reference.content
    assert await row_counts(scene.world) == counts


async def test_the_validation_get_and_empty_post_still_get_200_and_store_nothing(
    scene: Scene,
) -> None:
    counts = await row_counts(scene.world)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=scene.world.app), base_url="http://chimplink.test"
    ) as client:
        validator = await client.get(
            scene.path, headers={"User-Agent": "MailChimp.com WebHook Validator"}
        )
        empty = await client.post(scene.path, content=b"")
    assert (validator.status_code, validator.content) == (200, b"")
    assert (empty.status_code, empty.content) == (200, b"")
    assert await row_counts(scene.world) == counts


async def test_malformed_deliveries_get_400_and_are_kept_as_dead_letters(scene: Scene) -> None:
    cases = {
        b"type=unsubscribe&fired_at=2026-01-02+03%3A04%3A05&data%5Blist_id%5D=x": "data.email",
        b"type=subscribe&fired_at=yesterday&data%5Blist_id%5D=x&data%5Bemail%5D=a%40b.c": (
            "fired_at"
        ),
        b"type=teleport&fired_at=2026-01-02+03%3A04%3A05": "unknown webhook event type",
        b"fired_at=2026-01-02+03%3A04%3A05": "no 'type'",
        b"\xff\xfe\xfd": "not UTF-8",
        b"a=1&a]]=2": "malformed form key",
        b"type=profile&type=profile": "duplicate form key",
    }
    for body, expected in cases.items():
        response = await scene.post(body)
        assert response.status_code == 400, body
        problem = _problem(response)
        assert problem["title"] == "Malformed delivery"
        assert problem["status"] == 400
        assert expected in problem["detail"], (body, problem)
    letters = await scene.dead_letters()
    assert len(letters) == len(cases)
    assert {letter.reason for letter in letters} == {
        _problem(await scene.post(body))["detail"] for body in cases
    }
    assert await scene.inbox() == []  # nothing reached the inbox


async def test_an_oversized_delivery_is_refused_and_kept_cut(scene: Scene) -> None:
    body = b"type=profile&fired_at=2026-01-02+03%3A04%3A05&data%5Bnote%5D=" + b"x" * MAX_BODY_BYTES
    response = await scene.post(body)
    assert response.status_code == 400
    assert "larger than" in _problem(response)["detail"]
    [letter] = await scene.dead_letters()
    assert len(letter.body) == DEAD_LETTER_BODY_LIMIT
    assert letter.body_size > MAX_BODY_BYTES


async def test_bad_signatures_are_refused_store_nothing_and_are_logged_without_the_body(
    scene: Scene,
) -> None:
    body = _unsubscribe(scene)
    counts = await row_counts(scene.world)
    now = int(time.time())
    attempts = [
        {"signed": False},  # the installation has a signing secret: a signature is due
        {"signed": True, "timestamp": now - 3600},  # stale
        {"signed": True, "timestamp": now + 3600},  # from the future
        {"signed": False, "headers": {"X-Mailchimp-Signature": f"t={now},v1={'0' * 64}"}},
        {"signed": False, "headers": {"X-Mailchimp-Signature": "garbage"}},
    ]
    with capture_logs() as logs:
        for attempt in attempts:
            response = await scene.post(body, **attempt)
            assert response.status_code == 401, attempt
            problem = _problem(response)
            assert problem["title"] == "Invalid signature"
            assert "secret" not in problem["detail"]
    # A body signed for another body does not pass either.
    good = await scene.post(body.replace(b"manual", b"abuse"))
    assert good.status_code == 200
    assert await row_counts(scene.world) != counts  # (that one was stored)
    rejected = [e for e in logs if e["event"] == "inbound.signature_rejected"]
    assert len(rejected) == len(attempts)
    assert all(e["security"] is True and e["log_level"] == "warning" for e in rejected)
    assert "ann@example.org" not in json.dumps(logs, default=str)
    assert "ann%40example.org" not in json.dumps(logs, default=str)


async def test_a_tampered_body_fails_its_signature(scene: Scene) -> None:
    body = _unsubscribe(scene)
    secret = await scene.signing_secret()
    from chimplink.mailchimp.webhook_events import sign

    header = sign(secret=secret, timestamp=int(time.time()), body=body)
    tampered = body.replace(b"ann%40example.org", b"bob%40example.org")
    response = await scene.post(tampered, signed=False, headers={"X-Mailchimp-Signature": header})
    assert response.status_code == 401
    assert await scene.inbox() == []


async def test_a_forged_but_well_signed_unsubscribe_changes_nothing(scene: Scene) -> None:
    """A delivery is a hint: the member is re-read, and Mailchimp says "subscribed"."""
    assert (await scene.post(_unsubscribe(scene))).status_code == 200
    await scene.process()
    assert scene.platform.calls == []
    [item] = await scene.inbox()
    assert item.note == "already in step: nothing to apply"
    assert (await scene.member("ann@example.org"))["status"] == "subscribed"


async def test_events_chimplink_does_not_apply_are_acknowledged_not_stored(scene: Scene) -> None:
    body = (
        b"type=campaign&fired_at=2026-01-02+03%3A04%3A05&data%5Bid%5D=5aa2102003"
        b"&data%5Bsubject%5D=News&data%5Bstatus%5D=sent&data%5Blist_id%5D=" + scene.list_id.encode()
    )
    assert (await scene.post(body)).status_code == 200
    assert await scene.inbox() == []
    assert await scene.dead_letters() == []


async def test_a_delivery_for_another_audience_is_not_applied(scene: Scene) -> None:
    body = _unsubscribe(scene).replace(scene.list_id.encode(), b"0ther1ist0")
    await scene.action("ann@example.org", action="unsubscribe")  # even if it were true there
    scene.platform.calls.clear()
    await scene.post(body)
    report = await scene.process()
    notes = [i.note for i in await scene.inbox()]
    assert "another audience than the synced one: not applied" in notes
    assert report.processed == 2
    assert scene.platform.calls == [ConsentWithdrawn(key="1", reason="unsubscribed")]
