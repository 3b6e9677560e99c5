"""The audience webhook receiver: `/webhooks/mailchimp/{installation_id}/{secret}`.

Mailchimp validates a webhook URL with a GET (or, some say, an empty POST)
before saving it, and then POSTs form-encoded deliveries (REFERENCE.md §4.1).
Both get 200 here when the secret matches an existing installation
(webhook_paths.py: constant-time, no database read for a forged secret).
Anything else gets the very same 404 as any unknown address, so the
endpoint is not an oracle for ids or secrets.

A delivery is handed to `sync.inbound.receive_delivery`, which verifies its
signature (when the installation has a signing secret), parses it and
stores it in the inbox, committed, before the answer:

    200  stored, or a duplicate of a stored delivery, or an event chimplink
         does not apply (campaign): Mailchimp stops retrying
    400  malformed (kept in the dead-letter table with the reason)
    401  missing, stale or wrong `X-Mailchimp-Signature`: nothing stored
    500  the inbox could not be written: Mailchimp retries (reliability.md §2.4)

No Mailchimp call happens here: the inbound processor (a job) re-reads
each member later, so the answer comes well within Mailchimp's 10 seconds.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chimplink.connect import WEBHOOK_PATH_PREFIX, is_valid_webhook_secret
from chimplink.store import InstallationStatus, find_installation
from chimplink.sync.inbound import MAX_BODY_BYTES, ReceiptOutcome, receive_delivery
from chimplink.web.state import State

router = APIRouter()

_SIGNATURE_HEADER = "X-Mailchimp-Signature"


def _problem(status: int, title: str, detail: str) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return Response(
        json.dumps(body).encode(), status_code=status, media_type="application/problem+json"
    )


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, but never more than `limit` + 1 bytes of it in memory."""
    received = bytearray()
    async for chunk in request.stream():
        received.extend(chunk)
        if len(received) > limit:
            break
    return bytes(received[: limit + 1])


@router.api_route(WEBHOOK_PATH_PREFIX + "/{installation_id}/{secret}", methods=["GET", "POST"])
async def receive(installation_id: str, secret: str, state: State, request: Request) -> Response:
    services = state.services
    if not is_valid_webhook_secret(services, installation_id, secret):
        return state.pages.not_found()
    async with services.sessions() as session:
        installation = await find_installation(session=session, installation_id=installation_id)
    if installation is None or installation.status is InstallationStatus.UNINSTALLED:
        return state.pages.not_found()
    if request.method == "GET":
        return Response(status_code=200)
    body = await _read_body(request, MAX_BODY_BYTES)
    if not body.strip():
        return Response(status_code=200)  # the validator's empty POST
    receipt = await receive_delivery(
        sessions=services.sessions,
        cipher=services.cipher,
        installation_id=installation_id,
        body=body,
        signature=request.headers.get(_SIGNATURE_HEADER),
        now=services.clock(),
    )
    if receipt.outcome is ReceiptOutcome.MALFORMED:
        return _problem(400, "Malformed delivery", receipt.detail or "unreadable delivery")
    if receipt.outcome is ReceiptOutcome.BAD_SIGNATURE:
        return _problem(
            401,
            "Invalid signature",
            f"The {_SIGNATURE_HEADER} header is missing, expired or does not match the body.",
        )
    return Response(status_code=200)
