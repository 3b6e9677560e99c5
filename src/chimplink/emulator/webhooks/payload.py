"""What a webhook delivery looks like on the wire (REFERENCE.md §4.1).

Mailchimp posts `application/x-www-form-urlencoded` bodies with PHP-style
bracketed keys, encoded as PHP's `http_build_query` does: brackets, `@`, `:`
and `/` percent-encoded, spaces as `+`. Observed raw bodies look like

    type=subscribe&fired_at=2021-06-11+08%3A54%3A35&data%5Bid%5D=b9a27e5b65&
    data%5Bemail%5D=anna%40mailinator.se&data%5Bmerges%5D%5BFNAME%5D=Anna&...

The 2026 docs add an optional signature (REFERENCE.md §4.1, "Signing"):
`X-Mailchimp-Signature: t={unix_ts},v1={hex HMAC-SHA256(secret, "{t}.{raw_body}")}`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote_plus

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Deliveries and the create-time validator identify themselves so (REFERENCE.md §4.1).
DELIVERY_USER_AGENT = "MailChimp.com"
VALIDATOR_USER_AGENT = "MailChimp.com WebHook Validator"
SIGNATURE_HEADER = "X-Mailchimp-Signature"

_FIRED_AT = "%Y-%m-%d %H:%M:%S"


def _php_quote(value: str) -> str:
    # PHP's urlencode also encodes "~", which Python's quote_plus leaves alone.
    return quote_plus(value, safe="").replace("~", "%7E")


def fired_at(value: str | None = None) -> str:
    """Mailchimp's `fired_at`: "YYYY-MM-DD HH:MM:SS" (UTC here).

    Accepts that format, an ISO 8601 timestamp (converted to UTC), or nothing (now).
    """
    if value:
        try:
            return datetime.strptime(value, _FIRED_AT).strftime(_FIRED_AT)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(UTC)
            return parsed.strftime(_FIRED_AT)
    return datetime.now(UTC).strftime(_FIRED_AT)


def form_fields(*, event_type: str, fired: str, data: Mapping[str, str]) -> list[tuple[str, str]]:
    """The ordered form fields: `type`, `fired_at`, then `data[<key>]` in the event's order.

    A key such as `merges][FNAME` renders as `data[merges][FNAME]`.
    """
    fields = [("type", event_type), ("fired_at", fired)]
    fields.extend((f"data[{key}]", str(value)) for key, value in data.items())
    return fields


def encode_form(fields: list[tuple[str, str]]) -> str:
    return "&".join(f"{_php_quote(name)}={_php_quote(value)}" for name, value in fields)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of "{timestamp}.{raw body}" keyed by the signing secret."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"
