"""Logging: structlog for our code and the standard library's loggers alike.

Mailchimp tokens never expire and carry no scopes, so one token in a log file
is full, permanent access to a customer's account (reliability.md §1.4,
checklist T8). Every log line therefore goes through `Redactor`:

- a value under a sensitive key (`token`, `access_token`, `client_secret`,
  `authorization`, `code`, …, or any key ending in `_token` / `_secret` /
  `_password` / `_api_key`) becomes `"[redacted]"`, whatever its type;
- inside any string, at any depth: `Bearer …` / `Basic …` credentials,
  Mailchimp API keys, any run of exactly 32 hex digits (the shape of a
  Mailchimp OAuth token, and of a subscriber hash — an email's MD5), secrets in
  query strings (`?code=…&state=…`) and in `key=value` / JSON text become
  `[redacted]`;
- every email address, at any depth (also URL-encoded, also as a dict key),
  becomes `email:<first 12 hex digits of its SHA-256>` — stable, so lines about
  one person can still be correlated, but not readable. Pass
  `email_hash_key` to use a keyed hash (HMAC) that a dictionary cannot reverse.

Objects other than plain data are rendered to text first, then scrubbed, so a
model's `repr()` cannot smuggle an address past the filter. Exceptions are
formatted to text before redaction for the same reason.

Call `configure_logging()` once at an entry point; it installs one handler on
the root logger so uvicorn, SQLAlchemy and Alembic lines are scrubbed too
(run uvicorn with `log_config=None` so its records reach that handler).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
import logging
import re
import sys
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import PurePath
from typing import Any, TextIO
from urllib.parse import unquote
from uuid import UUID

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from chimplink.config import LogFormat, Settings

__all__ = [
    "REDACTED",
    "Redactor",
    "configure_from_settings",
    "configure_logging",
    "hash_email",
    "is_sensitive_key",
    "scrub_text",
]

REDACTED = "[redacted]"

_SENSITIVE_KEYS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "secret",
        "secrets",
        "client_secret",
        "signing_secret",
        "session_secret",
        "platform_secret",
        "secret_keys",
        "password",
        "passwd",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "code",
        "code_verifier",
        "oauth_state",
        "private_key",
        "credentials",
    }
)
_SENSITIVE_SUFFIXES = ("_token", "_secret", "_password", "_api_key", "_apikey")

# Keys that structlog's ProcessorFormatter adds for its own use: pass them through.
_META_KEYS = frozenset({"_record", "_from_structlog"})

_AUTH_HEADER = re.compile(r"(?i)\b(bearer|basic|oauth)(\s+)[A-Za-z0-9._~+/=-]{6,}")
_API_KEY = re.compile(r"\b[0-9a-f]{32}-[a-z]{2,}[0-9]+\b")
# Mailchimp OAuth tokens are 32 hex digits; so is a subscriber hash (the MD5 of
# an email address). Neither belongs in a log, wherever it appears.
_HEX32 = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32}(?![0-9A-Za-z])")
_SECRET_NAMES = (
    r"code|state|token|access_token|refresh_token|api_?key|client_secret|code_verifier"
    r"|signing_secret|secret|password|signature|sig"
)
_QUERY_SECRET = re.compile(rf"(?i)([?&;](?:{_SECRET_NAMES})=)[^&#;\s\"'<>]+")
_ASSIGNED_SECRET = re.compile(
    r"(?i)([\"']?\b(?:access_token|refresh_token|client_secret|code_verifier|signing_secret"
    r"|api_?key|password|authorization)[\"']?\s*[:=]\s*[\"']?)(?!\[redacted\])[^\"'&\s,;}]+"
)
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+(?:@|%40)"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)


def is_sensitive_key(key: object) -> bool:
    """Whether a value logged under `key` is a secret (case and `-`/`_` insensitive)."""
    name = str(key).strip().lower().replace("-", "_")
    return name in _SENSITIVE_KEYS or name.endswith(_SENSITIVE_SUFFIXES)


def hash_email(email: str, *, key: bytes | None = None) -> str:
    """`email:<12 hex digits>` for an address, case-insensitively (URL-encoding undone)."""
    normalized = unquote(email).strip().lower().encode("utf-8")
    if key is None:
        digest = hashlib.sha256(normalized).hexdigest()
    else:
        digest = hmac.new(key, normalized, hashlib.sha256).hexdigest()
    return f"email:{digest[:12]}"


def scrub_text(text: str, *, email_hash_key: bytes | None = None) -> str:
    """Remove credentials from free text and hash the email addresses in it."""
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _API_KEY.sub(REDACTED, text)
    text = _HEX32.sub(REDACTED, text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _ASSIGNED_SECRET.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _EMAIL.sub(lambda m: _hash_match(m.group(0), email_hash_key), text)


def _hash_match(found: str, key: bytes | None) -> str:
    """Hash an address found in text, keeping a `'` or `key=` prefix the pattern took in.

    `'` and `=` are legal in a local part but in logs they mostly come from a
    repr ('a@b.c') or a key=value pair (login_email=a@b.c): hashing only what
    follows such a prefix gives the same hash as the bare address, so log
    lines stay correlatable. Anything else is hashed whole.
    """
    prefix = _QUOTE_OR_KEY_PREFIX.match(found)
    rest = found[prefix.end() :] if prefix is not None else ""
    if prefix is None or rest.startswith(("@", "%40")):
        return hash_email(found, key=key)
    return prefix.group(0) + hash_email(rest, key=key)


# A leading quote (a repr) or an identifier followed by `=` (a key=value pair).
_QUOTE_OR_KEY_PREFIX = re.compile(r"'|[A-Za-z_][A-Za-z0-9_]*=")


def _as_text(value: object) -> str:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID | PurePath | Decimal):
        return str(value)
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return repr(value)


class Redactor:
    """A structlog processor: redacts secrets and hashes email addresses, at any depth."""

    def __init__(self, *, email_hash_key: bytes | None = None, max_depth: int = 10) -> None:
        self._email_hash_key = email_hash_key
        self._max_depth = max_depth

    def __repr__(self) -> str:
        return f"Redactor(keyed={self._email_hash_key is not None})"

    def __call__(
        self, logger: WrappedLogger, method_name: str, event_dict: EventDict
    ) -> dict[str, Any]:
        cleaned: dict[str, Any] = {}
        for key, value in event_dict.items():
            if key in _META_KEYS:
                cleaned[key] = value
            elif is_sensitive_key(key):
                cleaned[key] = REDACTED
            else:
                cleaned[self._key(key)] = self.scrub(value)
        return cleaned

    def _key(self, key: object) -> str:
        return scrub_text(
            key if isinstance(key, str) else _as_text(key), email_hash_key=self._email_hash_key
        )

    def scrub(self, value: object, depth: int = 0) -> object:
        """A copy of `value` with secrets redacted and addresses hashed."""
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return scrub_text(value, email_hash_key=self._email_hash_key)
        if isinstance(value, enum.Enum):
            return self.scrub(value.value, depth)
        if depth >= self._max_depth:
            return "[too deep]"
        if isinstance(value, Mapping):
            return {
                self._key(k): REDACTED if is_sensitive_key(k) else self.scrub(v, depth + 1)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self.scrub(item, depth + 1) for item in value]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            # Field by field, so a secret field is redacted by its name.
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return {"type": type(value).__name__, **self.scrub(fields, depth + 1)}  # type: ignore[dict-item]
        return scrub_text(_as_text(value), email_hash_key=self._email_hash_key)


def _renderer(json_output: bool) -> Processor:
    if json_output:
        return structlog.processors.JSONRenderer(sort_keys=False)
    return structlog.dev.ConsoleRenderer(colors=False)


def configure_logging(
    *,
    level: str | int = "INFO",
    json_output: bool | None = None,
    stream: TextIO | None = None,
    email_hash_key: bytes | None = None,
    cache_loggers: bool = True,
) -> Redactor:
    """Route structlog and stdlib logging through one redacting pipeline to `stream`.

    `json_output=None` chooses JSON unless `stream` is a terminal. Returns the
    redactor in use (tests and other sinks, e.g. error trackers, can reuse it).
    """
    out = stream if stream is not None else sys.stderr
    if json_output is None:
        json_output = not (hasattr(out, "isatty") and out.isatty())
    redactor = Redactor(email_hash_key=email_hash_key)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        # Tracebacks become text before redaction: exception messages and
        # locals can carry tokens or addresses too.
        structlog.processors.format_exc_info,
        redactor,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=cache_loggers,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _renderer(json_output),
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    handler.set_name("chimplink")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "chimplink":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    # uvicorn's own logging config gives its loggers private handlers that
    # bypass the root, and so the redactor: send them through the root instead.
    for name in _ROUTED_THROUGH_ROOT:
        routed = logging.getLogger(name)
        routed.handlers.clear()
        routed.propagate = True
        routed.setLevel(logging.NOTSET)
    return redactor


_ROUTED_THROUGH_ROOT = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure_from_settings(settings: Settings, *, stream: TextIO | None = None) -> Redactor:
    """`configure_logging()` with `CHIMPLINK_LOG_LEVEL` and `CHIMPLINK_LOG_FORMAT`."""
    json_output = {LogFormat.JSON: True, LogFormat.CONSOLE: False}.get(settings.log_format)
    return configure_logging(level=settings.log_level, json_output=json_output, stream=stream)
