"""Webhook deliveries from Mailchimp: verify, then parse into typed events.

Deliveries are `application/x-www-form-urlencoded` POSTs with PHP-style
bracketed keys (`data[merges][FNAME]=Ann`, REFERENCE.md §4.1). Audience
events: subscribe, unsubscribe, profile, upemail, cleaned, campaign; batch
webhooks send `batch_operation_completed` (§7.3).

Signing (2026 docs, §4.1): `X-Mailchimp-Signature: t=<unix>,v1=<hex>` where
the hex is HMAC-SHA256(signing_secret, f"{t}.{raw_body}"). Older webhooks are
unsigned, so verification is for webhooks that have a secret. Verify the raw
bytes *before* parsing, reject timestamps more than 5 minutes away, and
compare in constant time. A delivery is a hint, not a fact: re-read the
member before acting on it (DESIGN.md).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from pydantic import Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from chimplink.mailchimp.errors import WebhookPayloadError, WebhookSignatureError
from chimplink.mailchimp.models._base import MailchimpModel, Timestamp

__all__ = [
    "SIGNATURE_HEADER",
    "SIGNATURE_TOLERANCE",
    "BatchOperationCompletedEvent",
    "CampaignEvent",
    "CleanedEvent",
    "MemberEventData",
    "ProfileEvent",
    "SubscribeEvent",
    "UnsubscribeEvent",
    "UpemailEvent",
    "WebhookEvent",
    "construct_event",
    "parse_event",
    "parse_form",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Mailchimp-Signature"
SIGNATURE_TOLERANCE = 300.0  # seconds (§4.1: "reject if the timestamp is >5 minutes old")

_KEY = re.compile(r"^(?P<base>[^\[\]]+)(?P<rest>(?:\[[^\[\]]*\])*)$")
_SUBKEY = re.compile(r"\[([^\[\]]*)\]")


# -- form decoding -------------------------------------------------------------------


def _insert(tree: dict[str, Any], path: list[str], value: str, raw_key: str) -> None:
    node: Any = tree
    for index, part in enumerate(path):
        last = index == len(path) - 1
        if part == "":
            # PHP's `key[]=v`: append; kept as a dict with the next index so
            # that `_listify` turns it into a list.
            part = str(len(node))
        if last:
            if part in node:
                raise WebhookPayloadError(f"duplicate form key {raw_key!r}")
            node[part] = value
            return
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise WebhookPayloadError(f"form key {raw_key!r} conflicts with a plain value")
        node = child


def _listify(value: Any) -> Any:
    """Turn `{"0": a, "1": b}` (from `x[0]`, `x[1]`) into `[a, b]`."""
    if not isinstance(value, dict):
        return value
    converted = {key: _listify(item) for key, item in value.items()}
    if converted and all(key.isdigit() for key in converted):
        indexes = sorted(int(key) for key in converted)
        if indexes == list(range(len(indexes))):
            return [converted[str(i)] for i in indexes]
    return converted


def parse_form(body: bytes | str) -> dict[str, Any]:
    """Decode a form body with PHP-style bracketed keys into nested dicts and lists."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookPayloadError("the delivery body is not UTF-8") from None
    else:
        text = body
    if not text.strip():
        # Mailchimp validates a new webhook URL with a GET or an empty POST (§4.1);
        # the receiver answers those before parsing.
        raise WebhookPayloadError("empty delivery body")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise WebhookPayloadError("the delivery body is not form-encoded") from None
    tree: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise WebhookPayloadError(f"malformed form key {key!r}")
        path = [match.group("base"), *_SUBKEY.findall(match.group("rest"))]
        _insert(tree, path, value, key)
    result: dict[str, Any] = _listify(tree)
    return result


# -- events --------------------------------------------------------------------------


class MemberEventData(MailchimpModel):
    """`data` of subscribe and profile events."""

    id: str | None = None
    list_id: str
    email: str
    email_type: str | None = None
    web_id: str | None = None
    ip_opt: str | None = None
    ip_signup: str | None = None
    merges: dict[str, Any] = Field(default_factory=dict)


class UnsubscribeData(MemberEventData):
    action: str | None = None  # "unsub" (observed); "delete" unconfirmed (§4.1)
    reason: str | None = None
    campaign_id: str | None = None


class UpemailData(MailchimpModel):
    list_id: str
    new_id: str | None = None
    new_email: str
    old_email: str


class CleanedData(MailchimpModel):
    list_id: str
    email: str
    reason: str | None = None  # hard | abuse
    campaign_id: str | None = None


class CampaignData(MailchimpModel):
    id: str
    list_id: str | None = None
    subject: str | None = None
    status: str | None = None  # sent | cancelled
    reason: str | None = None


class BatchOperationCompletedData(MailchimpModel):
    id: str
    status: str | None = None
    total_operations: int | None = None
    finished_operations: int | None = None
    errored_operations: int | None = None
    submitted_at: Timestamp = None
    completed_at: Timestamp = None
    response_body_url: str | None = None


class _Event(MailchimpModel):
    fired_at: datetime  # "YYYY-MM-DD HH:MM:SS"; Mailchimp does not state the zone

    @property
    def dedupe_key(self) -> str:
        """Deliveries carry no id and may repeat: type + data.id + fired_at (§4.1)."""
        data = getattr(self, "data", None)
        ident = getattr(data, "id", None) or getattr(data, "email", None) or ""
        kind = getattr(self, "type", "")
        return f"{kind}:{ident}:{self.fired_at.isoformat()}"


class SubscribeEvent(_Event):
    type: Literal["subscribe"]
    data: MemberEventData


class UnsubscribeEvent(_Event):
    type: Literal["unsubscribe"]
    data: UnsubscribeData


class ProfileEvent(_Event):
    type: Literal["profile"]
    data: MemberEventData


class UpemailEvent(_Event):
    """The address changed. Mailchimp also sends a profile event for it (§4.1)."""

    type: Literal["upemail"]
    data: UpemailData


class CleanedEvent(_Event):
    type: Literal["cleaned"]
    data: CleanedData


class CampaignEvent(_Event):
    type: Literal["campaign"]
    data: CampaignData


class BatchOperationCompletedEvent(_Event):
    type: Literal["batch_operation_completed"]
    data: BatchOperationCompletedData


WebhookEvent = Annotated[
    SubscribeEvent
    | UnsubscribeEvent
    | ProfileEvent
    | UpemailEvent
    | CleanedEvent
    | CampaignEvent
    | BatchOperationCompletedEvent,
    Field(discriminator="type"),
]

_EVENT_TYPES = frozenset(
    {"subscribe", "unsubscribe", "profile", "upemail", "cleaned", "campaign",
     "batch_operation_completed"}
)  # fmt: skip


@functools.cache
def _event_adapter() -> TypeAdapter[WebhookEvent]:
    return TypeAdapter(WebhookEvent)


def parse_event(body: bytes | str | Mapping[str, Any]) -> WebhookEvent:
    """Parse one delivery (raw form body, or already-decoded nested mapping)."""
    payload = dict(body) if isinstance(body, Mapping) else parse_form(body)
    kind = payload.get("type")
    if not isinstance(kind, str):
        raise WebhookPayloadError("the delivery has no 'type'")
    if kind not in _EVENT_TYPES:
        raise WebhookPayloadError(f"unknown webhook event type {kind!r}")
    try:
        return _event_adapter().validate_python(payload)
    except PydanticValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'][1:])}: {error['msg']}"
            for error in exc.errors()
        )
        raise WebhookPayloadError(f"malformed {kind} event: {problems}") from None


# -- signatures ------------------------------------------------------------------------


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """The header value Mailchimp would send (also used by tests and the emulator's peers)."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    *,
    body: bytes,
    header: str | None,
    secret: str,
    tolerance: float = SIGNATURE_TOLERANCE,
    now: Callable[[], float] = time.time,
) -> int:
    """Check `X-Mailchimp-Signature` against the raw body; return the signed timestamp.

    Raises `WebhookSignatureError` (never saying what the right signature was).
    Several `v1=` entries are accepted (secret rotation).
    """
    if not secret:
        raise ValueError("a signing secret is required to verify a signature")
    if not header:
        raise WebhookSignatureError(f"missing {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookSignatureError(f"malformed {SIGNATURE_HEADER} header")
        if name == "t":
            if not value.isdigit():
                raise WebhookSignatureError("the signature timestamp is not a number")
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value.strip().lower())
    if timestamp is None or not candidates:
        raise WebhookSignatureError(f"{SIGNATURE_HEADER} needs both t= and v1=")
    if abs(now() - timestamp) > tolerance:
        raise WebhookSignatureError("the signature timestamp is outside the tolerance")
    expected = sign(secret=secret, timestamp=timestamp, body=body).rpartition("v1=")[2]
    matched = False
    for candidate in candidates:
        # compare every candidate: the time taken must not depend on which matched
        matched |= hmac.compare_digest(candidate.encode("ascii", "replace"), expected.encode())
    if not matched:
        raise WebhookSignatureError("the signature does not match the body")
    return timestamp


def construct_event(
    *,
    body: bytes,
    header: str | None,
    secret: str,
    tolerance: float = SIGNATURE_TOLERANCE,
    now: Callable[[], float] = time.time,
) -> WebhookEvent:
    """Verify, then parse: never parse what failed verification."""
    verify_signature(body=body, header=header, secret=secret, tolerance=tolerance, now=now)
    return parse_event(body)
