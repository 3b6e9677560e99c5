"""The secret in each installation's webhook URL: `/webhooks/mailchimp/{installation_id}/{secret}`.

Audience webhooks may be unsigned, so Mailchimp's own advice is a secret in
the URL (reliability.md §2.2). The secret is derived, not stored:
`HMAC-SHA256(webhook_key, "chimplink/webhook-path/v1" NUL installation_id)`,
first 32 hex digits (128 bits). So:

- checking a path costs no database read for a forged secret, and the
  comparison is constant-time;
- the secret is exactly 32 hex digits, which the log redactor removes from
  any log line (chimplink.logging), so access logs never carry it;
- an uninstalled installation's URL stops working because the installation is
  gone, whatever the secret.

`webhook_key` derives from the session secret (services.py): rotating
`CHIMPLINK_SESSION_SECRET` changes every webhook URL, after which each
audience has to be chosen again (that re-registers the webhook).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from chimplink.connect.services import Services

__all__ = ["WEBHOOK_PATH_PREFIX", "is_valid_webhook_secret", "webhook_secret", "webhook_url"]

WEBHOOK_PATH_PREFIX = "/webhooks/mailchimp"

_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def webhook_secret(key: bytes, installation_id: str) -> str:
    message = b"chimplink/webhook-path/v1\x00" + installation_id.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def webhook_url(services: Services, installation_id: str) -> str:
    """The URL registered at Mailchimp for this installation's audience webhook."""
    secret = webhook_secret(services.webhook_key, installation_id)
    return f"{services.config.public_url}{WEBHOOK_PATH_PREFIX}/{installation_id}/{secret}"


def is_valid_webhook_secret(services: Services, installation_id: str, secret: str) -> bool:
    """Whether `secret` belongs to `installation_id` (constant time; no database access)."""
    well_formed = bool(_ID.match(installation_id))
    # Compute either way, so a malformed id takes as long as a wrong secret.
    expected = webhook_secret(services.webhook_key, installation_id if well_formed else "-")
    matches = hmac.compare_digest(expected.encode("ascii"), secret.encode("utf-8", "replace"))
    return well_formed and matches
