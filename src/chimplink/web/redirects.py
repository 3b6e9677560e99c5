"""Post-connect redirects accept only same-origin relative paths (RFC 9700 §4.11.1, T3).

An open redirector on the host that serves the OAuth callback would let an
attacker bounce a user (and, with a lax authorization server, a code) to
their own site. So `return_to` must be a plain path on this host:

- printable ASCII only (no controls, spaces, non-ASCII look-alikes);
- starts with exactly one `/` (`//evil` and `/\\evil` are protocol-relative
  in browsers), and contains no backslash anywhere;
- no scheme or host (`https:evil`, `javascript:…`), no fragment;
- the same holds after percent-decoding (`/%2F%2Fevil`, `/%5Cevil`), in case
  anything on the way decodes it.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

__all__ = ["MAX_RETURN_TO", "safe_return_path"]

MAX_RETURN_TO = 512


def _plain_path(value: str) -> bool:
    if not value.startswith("/") or value.startswith("//"):
        return False
    if any(not 0x21 <= ord(char) <= 0x7E for char in value) or "\\" in value:
        return False
    parts = urlsplit(value)
    return not (parts.scheme or parts.netloc or parts.fragment)


def safe_return_path(value: str) -> str:
    """`value` if it is a safe same-origin path, else ValueError."""
    if len(value) > MAX_RETURN_TO or "#" in value:
        raise ValueError("return_to is not a same-origin path")
    decoded = value
    for _ in range(3):  # double encoding too
        if not _plain_path(decoded):
            raise ValueError("return_to is not a same-origin path")
        decoded, previous = unquote(decoded), decoded
        if decoded == previous:
            return value
    raise ValueError("return_to is not a same-origin path")
