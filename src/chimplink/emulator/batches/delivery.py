"""Outgoing calls of batch webhooks: URL validation and `batch_operation_completed` events.

Mailchimp validates a batch webhook's URL with a GET on creation (§7.3), as it
does for audience webhooks, with User-Agent `MailChimp.com WebHook Validator`;
deliveries are form-encoded POSTs with User-Agent `MailChimp.com` (§4.1). A
delivery is tried once and retried once after the first configured retry
delay; the outcome is kept for the control plane.

Not done: the 2026 docs' optional HMAC signing (§7.3). The 3.0.85 spec's batch
webhook has no signing fields and no create response carries a secret, so
batch deliveries are unsigned, as those of webhooks created before signing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

import httpx

from chimplink.emulator import problems
from chimplink.emulator.batches.models import Delivery

if TYPE_CHECKING:
    from chimplink.emulator.app import EmulatorApp

log = logging.getLogger("chimplink.emulator.batches")

VALIDATOR_AGENT = "MailChimp.com WebHook Validator"
DELIVERY_AGENT = "MailChimp.com"
_VERIFY_FAILED = "We couldn't verify the URL is working. Please double check and try again."


def check_url(url: str) -> None:
    """An http(s) URL with a host: anything else cannot be validated with a GET."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise problems.field_error("url", "Please enter a valid URL.")


async def validate_url(app: EmulatorApp, url: str) -> None:
    """GET the URL as Mailchimp's validator does; anything but 200 is a 400 (§4.1, §7.3)."""
    check_url(url)
    try:
        response = await app.http_client().get(url, headers={"User-Agent": VALIDATOR_AGENT})
    except httpx.HTTPError:
        raise problems.invalid_resource(
            detail=_VERIFY_FAILED, errors=[{"field": "url", "message": _VERIFY_FAILED}]
        ) from None
    if response.status_code != 200:
        message = f"{_VERIFY_FAILED} HTTP Code: {response.status_code}"
        raise problems.invalid_resource(
            detail=message, errors=[{"field": "url", "message": message}]
        )


async def deliver(app: EmulatorApp, delivery: Delivery, form: list[tuple[str, str]]) -> None:
    """POST the event; one retry after the first configured delay; record the outcome."""
    body = urlencode(form).encode("ascii")
    headers = {
        "User-Agent": DELIVERY_AGENT,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    delays = app.config.webhook_retry_delays_s
    retry_delay = delays[0] if delays else 1.0
    for attempt in range(2):
        if attempt:
            await asyncio.sleep(retry_delay)
        delivery.attempts += 1
        try:
            response = await app.http_client().post(delivery.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            delivery.response_status = None
            delivery.error = type(exc).__name__
            continue
        delivery.response_status = response.status_code
        delivery.error = None
        if 200 <= response.status_code < 300:
            delivery.status = "delivered"
            return
    delivery.status = "failed"
    log.info("batch webhook delivery to %s failed after %d attempts", delivery.url, 2)
