"""Outgoing webhooks to a real local receiver: signatures a platform can verify on its own,
retries with backoff, given up after the last attempt and kept with the reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from chimplink.platforms import ConsentWithdrawn
from chimplink.platforms.push import DeliveryPolicy, DeliveryReport, deliver_due
from chimplink.store.crypto import TokenCipher
from chimplink.store.push import remove_push_webhook, set_push_webhook
from chimplink.store.push_outbox import (
    DEAD_RETENTION,
    DELIVERED_RETENTION,
    DeliveryStatus,
    PushDelivery,
    claim_push_deliveries,
    list_push_deliveries,
    mark_push_delivered,
    prune_push_deliveries,
)
from tests.platforms.push.conftest import Platform, person
from tests.platforms.push.receiver import Receiver, receiver

# Exactly the nominal delays (no jitter): 30 s, 60 s, 120 s, …
STEADY = DeliveryPolicy(random=lambda: 1.0)


@pytest.fixture
def endpoint() -> Iterator[Receiver]:
    with receiver() as made:
        yield made


async def _configure(platform: Platform, url: str) -> str | None:
    """Point the tenant's webhooks at `url`; the secret when a new one was made."""
    async with platform.db.sessions.begin() as session:
        secret = await set_push_webhook(
            session=session, cipher=platform.cipher, tenant_id=platform.tenant_id, url=url
        )
    return secret.get_secret_value() if secret is not None else None


async def _queue(platform: Platform, url: str, count: int = 1) -> str:
    """Configure the endpoint, then let Mailchimp withdraw `count` consents: one webhook each."""
    secret = await _configure(platform, url)
    assert secret is not None
    await platform.push(*(person(str(n)) for n in range(count)))
    for n in range(count):
        await platform.connector.apply(ConsentWithdrawn(key=str(n), reason="unsubscribed"))
    return secret


async def _deliver(
    platform: Platform,
    policy: DeliveryPolicy = STEADY,
    cipher: TokenCipher | None = None,
    wait: float = 5,
) -> DeliveryReport:
    async with httpx.AsyncClient(timeout=wait) as http:
        return await deliver_due(
            sessions=platform.db.sessions,
            cipher=cipher or platform.cipher,
            http=http,
            policy=policy,
            clock=platform.clock,
        )


async def _outbox(platform: Platform) -> list[PushDelivery]:
    async with platform.db.sessions() as session:
        return await list_push_deliveries(session=session, tenant_id=platform.tenant_id)


def _expected_signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """Standard Webhooks, computed here without chimplink's code or the package's."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = message_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


async def test_a_platform_can_verify_the_signature_on_its_own(
    platform: Platform, endpoint: Receiver
) -> None:
    platform.clock.now = datetime.now(UTC).replace(microsecond=0)
    secret = await _queue(platform, endpoint.url())
    report = await _deliver(platform)
    assert report.counts() == {"delivered": 1, "retrying": 0, "dead": 0}

    [sent] = endpoint.received
    [delivery] = await _outbox(platform)
    assert sent.path == "/hooks/chimplink"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["webhook-id"] == delivery.message_id
    assert sent.headers["webhook-timestamp"] == str(int(platform.clock.now.timestamp()))
    assert sent.body == delivery.payload.encode()
    assert sent.headers["webhook-signature"] == _expected_signature(
        secret, sent.headers["webhook-id"], sent.headers["webhook-timestamp"], sent.body
    )
    # The reference implementation agrees, and refuses a body changed on the way.
    verified = Webhook(secret).verify(sent.body, sent.headers)
    assert verified["data"]["contact"]["consent"] == "withdrawn"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(sent.body.replace(b"withdrawn", b"granted"), sent.headers)
    assert json.loads(sent.body)["type"] == "contact.consent_withdrawn"

    assert delivery.status is DeliveryStatus.DELIVERED and delivery.last_status == 204
    assert delivery.attempts == 1 and delivery.finished_at == platform.clock.now
    assert (await _deliver(platform)).counts() == {"delivered": 0, "retrying": 0, "dead": 0}
    assert len(endpoint.received) == 1


async def test_failures_are_retried_with_backoff_until_delivered(platform: Platform) -> None:
    with receiver(failures=3, fail_with=503) as failing:
        secret = await _queue(platform, failing.url())
        start = platform.clock.now
        for attempt, delay in enumerate((30, 60, 120), start=1):
            assert (await _deliver(platform)).retrying == 1
            [delivery] = await _outbox(platform)
            assert delivery.attempts == attempt and delivery.status is DeliveryStatus.PENDING
            assert delivery.last_status == 503 and delivery.last_error == "HTTP 503"
            assert delivery.next_attempt_at == platform.clock.now + timedelta(seconds=delay)
            platform.clock.advance(seconds=delay - 1)
            assert (await _deliver(platform)).counts() == {"delivered": 0, "retrying": 0, "dead": 0}
            platform.clock.advance(seconds=1)
        assert (await _deliver(platform)).delivered == 1
        assert platform.clock.now == start + timedelta(seconds=210)

    [delivery] = await _outbox(platform)
    assert delivery.status is DeliveryStatus.DELIVERED and delivery.attempts == 4
    assert delivery.last_error is None
    sent = failing.received
    assert len(sent) == 4
    assert {s.headers["webhook-id"] for s in sent} == {delivery.message_id}
    stamps = [int(s.headers["webhook-timestamp"]) for s in sent]
    assert stamps == [int((start + timedelta(seconds=t)).timestamp()) for t in (0, 30, 90, 210)]
    for s in sent:  # each attempt signed for its own timestamp
        assert s.headers["webhook-signature"] == _expected_signature(
            secret, s.headers["webhook-id"], s.headers["webhook-timestamp"], s.body
        )


async def test_given_up_after_the_last_attempt_and_kept_with_the_reason(
    platform: Platform,
) -> None:
    policy = DeliveryPolicy(max_attempts=3, random=lambda: 1.0)
    with receiver(failures=100) as failing:
        await _queue(platform, failing.url())
        reports = []
        for _ in range(3):
            reports.append((await _deliver(platform, policy)).counts())
            platform.clock.advance(hours=1)
        assert reports[-1] == {"delivered": 0, "retrying": 0, "dead": 1}
        platform.clock.advance(days=1)
        assert (await _deliver(platform, policy)).counts() == {
            "delivered": 0,
            "retrying": 0,
            "dead": 0,
        }
        assert len(failing.received) == 3
    [delivery] = await _outbox(platform)
    assert delivery.status is DeliveryStatus.DEAD and delivery.attempts == 3
    assert delivery.last_error == "gave up after 3 attempts; last: HTTP 500"
    assert delivery.last_status == 500


async def test_gone_is_final_at_once(platform: Platform) -> None:
    with receiver(status=410) as gone:
        await _queue(platform, gone.url())
        assert (await _deliver(platform)).dead == 1
    [delivery] = await _outbox(platform)
    assert delivery.status is DeliveryStatus.DEAD and delivery.attempts == 1
    assert delivery.last_error == "the endpoint answered 410 Gone"


@pytest.mark.parametrize(
    ("status", "error"),
    [(302, "HTTP 302: redirects are not followed"), (400, "HTTP 400"), (429, "HTTP 429")],
)
async def test_other_answers_are_retried(platform: Platform, status: int, error: str) -> None:
    with receiver(status=status) as refusing:
        await _queue(platform, refusing.url())
        assert (await _deliver(platform)).retrying == 1
    [delivery] = await _outbox(platform)
    assert delivery.status is DeliveryStatus.PENDING and delivery.last_error == error


async def test_an_unreachable_endpoint_is_retried(platform: Platform) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    await _queue(platform, f"http://127.0.0.1:{port}/hooks")
    assert (await _deliver(platform)).retrying == 1
    [delivery] = await _outbox(platform)
    assert delivery.last_error == "connection failed (ConnectError)"
    assert delivery.last_status is None


async def test_a_slow_endpoint_is_retried(platform: Platform) -> None:
    with receiver(delay=1.0) as slow:
        await _queue(platform, slow.url())
        assert (await _deliver(platform, wait=0.2)).retrying == 1
    [delivery] = await _outbox(platform)
    assert delivery.last_error == "no answer in time" and delivery.last_status is None


async def test_many_changes_are_delivered_in_one_run(
    platform: Platform, endpoint: Receiver
) -> None:
    await _queue(platform, endpoint.url(), count=60)
    assert (await _deliver(platform, DeliveryPolicy(batch=25))).delivered == 60
    assert len({r.headers["webhook-id"] for r in endpoint.received}) == 60
    keys = {json.loads(r.body)["data"]["key"] for r in endpoint.received}
    assert keys == {str(n) for n in range(60)}


async def test_a_removed_endpoint_ends_the_delivery(platform: Platform, endpoint: Receiver) -> None:
    await _queue(platform, endpoint.url())
    async with platform.db.sessions.begin() as session:
        await remove_push_webhook(session=session, tenant_id=platform.tenant_id)
    assert (await _deliver(platform)).dead == 1
    assert endpoint.received == []
    [delivery] = await _outbox(platform)
    assert delivery.last_error == "no webhook endpoint is configured"


async def test_an_unreadable_secret_is_retried_not_sent(
    platform: Platform, endpoint: Receiver
) -> None:
    await _queue(platform, endpoint.url())
    stranger = TokenCipher([TokenCipher.generate_key()])
    assert (await _deliver(platform, cipher=stranger)).retrying == 1
    assert endpoint.received == []
    [delivery] = await _outbox(platform)
    assert delivery.last_error is not None and "cannot be decrypted" in delivery.last_error
    platform.clock.advance(minutes=5)
    assert (await _deliver(platform)).delivered == 1


async def test_a_claim_overtaken_by_a_later_one_records_nothing(
    platform: Platform, endpoint: Receiver
) -> None:
    await _queue(platform, endpoint.url())
    now = platform.clock.now
    async with platform.db.sessions.begin() as session:
        [first] = await claim_push_deliveries(session=session, now=now)
        assert await claim_push_deliveries(session=session, now=now) == []  # leased
    later = now + timedelta(minutes=3)  # the lease ran out: the worker is presumed dead
    async with platform.db.sessions.begin() as session:
        [second] = await claim_push_deliveries(session=session, now=later)
        assert second.attempts == first.attempts + 1
        assert not await mark_push_delivered(session=session, delivery=first, status=200, now=later)
        assert await mark_push_delivered(session=session, delivery=second, status=200, now=later)


async def test_delivered_and_dead_webhooks_are_pruned_after_their_retention(
    platform: Platform,
) -> None:
    with receiver(status=204) as ok:
        await _queue(platform, ok.url())
        await _deliver(platform)
    with receiver(status=410) as gone:
        await _configure(platform, gone.url())
        await platform.push(person("9"))
        await platform.connector.apply(ConsentWithdrawn(key="9", reason="cleaned"))
        await _deliver(platform)
    now = platform.clock.now
    async with platform.db.sessions.begin() as session:
        assert await prune_push_deliveries(session=session, now=now + DELIVERED_RETENTION) == 0
        assert (
            await prune_push_deliveries(
                session=session, now=now + DELIVERED_RETENTION + timedelta(seconds=1)
            )
            == 1
        )
        [dead] = await list_push_deliveries(session=session, tenant_id=platform.tenant_id)
        assert dead.status is DeliveryStatus.DEAD
        assert (
            await prune_push_deliveries(
                session=session, now=now + DEAD_RETENTION + timedelta(seconds=1)
            )
            == 1
        )
