"""Member identity: the subscriber hash (REFERENCE.md §8.1)."""

from __future__ import annotations

import hashlib
import re

__all__ = ["is_subscriber_hash", "member_key", "subscriber_hash"]

_HASH = re.compile(r"^[0-9a-f]{32}$")


def subscriber_hash(email: str) -> str:
    """MD5 of the lowercased address: the member's id in every member URL.

    Surrounding whitespace is stripped first, because Mailchimp stores the
    address trimmed and a stray space would otherwise address nobody.
    """
    normalized = email.strip().lower()
    if not normalized:
        raise ValueError("an empty email address has no subscriber hash")
    # Not a security use: Mailchimp defines the member id as this MD5.
    return hashlib.md5(normalized.encode("utf-8"), usedforsecurity=False).hexdigest()


def is_subscriber_hash(value: str) -> bool:
    return bool(_HASH.match(value))


def member_key(email_or_hash: str) -> str:
    """Accept an address or an existing hash; return the hash for URLs."""
    if is_subscriber_hash(email_or_hash):
        return email_or_hash
    if "@" not in email_or_hash:
        raise ValueError("expected an email address or a subscriber hash")
    return subscriber_hash(email_or_hash)
