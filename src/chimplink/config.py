"""Settings: every environment variable chimplink reads, in one place.

All variables carry the prefix `CHIMPLINK_`. Build settings with
`load_settings()` at an entry point (CLI command, ASGI lifespan) and pass them
down; there is no module-level settings object. A bad value raises
`ConfigError`, whose message names the variable and never repeats a secret.

Secrets (`load_secrets()`): the encryption keys for stored tokens and the
session-cookie secret come from `CHIMPLINK_SECRET_KEYS` / `CHIMPLINK_SESSION_SECRET`.
In *embedded mode* (SQLite and the embedded job runner: one process on one
machine) whatever is unset is generated on first run into `CHIMPLINK_KEY_FILE`
(mode 0600). Outside embedded mode they are required: several processes
generating their own keys would each be unable to read the others' tokens.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import os
import secrets as _secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "CONNECTOR_KINDS",
    "ENV_PREFIX",
    "ConfigError",
    "JobsBackend",
    "LogFormat",
    "OAuthClientConfig",
    "Secrets",
    "Settings",
    "generate_fernet_key",
    "load_secrets",
    "load_settings",
    "replace_key_file_keys",
    "write_key_file",
]

ENV_PREFIX = "CHIMPLINK_"
CONNECTOR_KINDS = ("none", "demo", "sql", "push")

# Hosts that never resolve on the public Internet (RFC 6761): plain http is
# tolerated for them only, so that the emulator works locally and in tests
# while a misconfigured production URL cannot send the client secret in clear.
_LOCAL_HOST_SUFFIXES = (".test", ".localhost", ".internal")
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class ConfigError(Exception):
    """Configuration is missing or invalid. The message is meant for the operator, as is."""


class JobsBackend(StrEnum):
    EMBEDDED = "embedded"
    PROCRASTINATE = "procrastinate"


class LogFormat(StrEnum):
    AUTO = "auto"  # console on a terminal, JSON otherwise
    JSON = "json"
    CONSOLE = "console"


@dataclass(frozen=True)
class OAuthClientConfig:
    """What the connect flow needs; built by `Settings.oauth_client()`."""

    client_id: str
    client_secret: SecretStr = field(repr=False)
    login_url: str
    redirect_uri: str


def _is_local_host(host: str) -> bool:
    return host in _LOCAL_HOSTS or host.endswith(_LOCAL_HOST_SUFFIXES)


def _check_http_url(value: str, *, https_only: bool) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL such as https://example.com")
    if parts.query or parts.fragment:
        raise ValueError("must not contain a query string or a fragment")
    if https_only and parts.scheme != "https" and not _is_local_host(parts.hostname):
        raise ValueError(
            "must use https (plain http is accepted only for localhost and *.test hosts)"
        )
    return value.rstrip("/")


def _fernet_key_ok(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False


def _split_keys(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def generate_fernet_key() -> str:
    """A new random key in the format `CHIMPLINK_SECRET_KEYS` takes (32 bytes, url-safe base64)."""
    return base64.urlsafe_b64encode(_secrets.token_bytes(32)).decode("ascii")


class Settings(BaseSettings):
    """chimplink's configuration; each field is read from `CHIMPLINK_<FIELD NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
    )

    database_url: str = Field(
        "sqlite+aiosqlite:///./chimplink.db",
        description="SQLAlchemy URL: SQLite (embedded) or PostgreSQL.",
    )
    secret_keys: SecretStr | None = Field(
        None,
        description="Comma-separated Fernet keys for tokens at rest, newest first.",
    )
    key_file: Path = Field(
        Path("./chimplink-keys"),
        description="Where embedded mode keeps generated secrets (mode 0600).",
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The URL users reach chimplink at; the OAuth redirect URI derives from it.",
    )
    mailchimp_client_id: str | None = Field(None, description="OAuth client id.")
    mailchimp_client_secret: SecretStr | None = Field(None, description="OAuth client secret.")
    mailchimp_login_url: str = Field(
        "https://login.mailchimp.com",
        description="OAuth server (the emulator's URL in the demo and tests).",
    )
    mailchimp_api_url: str | None = Field(
        None,
        description="API base override; also the only API host metadata may point to.",
    )
    platform_secret: SecretStr | None = Field(
        None, description="HMAC key shared with the platform for signed links."
    )
    session_secret: SecretStr | None = Field(
        None, description="Signs session cookies (generated in embedded mode)."
    )
    jobs: JobsBackend = Field(JobsBackend.EMBEDDED, description="embedded | procrastinate")
    mailchimp_max_connections: int = Field(
        5,
        ge=1,
        le=10,
        description="Concurrent requests per Mailchimp account (Mailchimp allows 10 "
        "per user, shared with the user's other apps).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Minimum level of log lines."
    )
    log_format: LogFormat = Field(LogFormat.AUTO, description="auto | json | console")
    connector: str = Field(
        "none",
        description="Where the platform's data comes from: none | demo | sql | push | "
        "python:<module>:<function> (platforms/registry.py).",
    )
    connector_url: str | None = Field(
        None,
        description="The platform's database (SQLAlchemy URL or SQLite path) for the "
        "demo and sql connectors.",
    )
    connector_mapping: Path | None = Field(
        None, description="The sql connector's mapping file (TOML)."
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        backend = scheme.split("+", 1)[0]
        if backend not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(
                "must be a sqlite:// or postgresql:// URL, "
                "e.g. sqlite+aiosqlite:///./chimplink.db or postgresql://user@host/db"
            )
        return value.strip()

    @field_validator("secret_keys")
    @classmethod
    def _secret_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        keys = _split_keys(value.get_secret_value())
        if not keys:
            raise ValueError("lists no key")
        for position, key in enumerate(keys, start=1):
            if not _fernet_key_ok(key):
                raise ValueError(
                    f"key {position} of {len(keys)} is not a valid key (expected 32 bytes in "
                    "url-safe base64; make one with `chimplink keys generate`)"
                )
        return SecretStr(",".join(keys))

    @field_validator("session_secret", "platform_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters long (use a random value)")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        return _check_http_url(value, https_only=False)

    @field_validator("mailchimp_login_url", "mailchimp_api_url")
    @classmethod
    def _mailchimp_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_http_url(value, https_only=True)

    @field_validator("connector")
    @classmethod
    def _connector(cls, value: str) -> str:
        value = value.strip()
        if value in CONNECTOR_KINDS:
            return value
        module, _, function = value.removeprefix("python:").partition(":")
        if value.startswith("python:") and module and function:
            return value
        raise ValueError(
            f"must be one of {', '.join(CONNECTOR_KINDS)} or python:<module>:<function>"
        )

    @field_validator("mailchimp_client_id")
    @classmethod
    def _client_id(cls, value: str | None) -> str | None:
        return None if value is None else value.strip() or None

    # -- derived values ------------------------------------------------------

    @property
    def embedded(self) -> bool:
        """One process, one machine: SQLite with the in-process job runner."""
        return self.jobs is JobsBackend.EMBEDDED and self.database_url.startswith("sqlite")

    @property
    def oauth_redirect_uri(self) -> str:
        """The one redirect URI chimplink sends, byte-identical every time (RFC 9700 §2.1)."""
        return f"{self.public_url}/oauth/callback"

    @property
    def allowed_api_bases(self) -> tuple[str, ...]:
        """API bases the metadata's `api_endpoint` may name besides `https://<dc>.api.mailchimp.com`."""
        return (self.mailchimp_api_url,) if self.mailchimp_api_url else ()

    def oauth_client(self) -> OAuthClientConfig:
        """The OAuth client settings, or ConfigError naming what is missing."""
        missing = [
            _env_name(name)
            for name in ("mailchimp_client_id", "mailchimp_client_secret")
            if getattr(self, name) is None
        ]
        if missing:
            raise ConfigError(
                f"{' and '.join(missing)} must be set to connect Mailchimp accounts "
                "(register an app at Mailchimp: Account → Extras → Registered apps)"
            )
        assert self.mailchimp_client_id is not None
        assert self.mailchimp_client_secret is not None
        return OAuthClientConfig(
            client_id=self.mailchimp_client_id,
            client_secret=self.mailchimp_client_secret,
            login_url=self.mailchimp_login_url,
            redirect_uri=self.oauth_redirect_uri,
        )

    def require_platform_secret(self) -> SecretStr:
        if self.platform_secret is None:
            raise ConfigError(
                f"{_env_name('platform_secret')} must be set: the platform signs the links "
                "that open a chimplink session with it"
            )
        return self.platform_secret


def _env_name(field_name: str) -> str:
    return f"{ENV_PREFIX}{field_name.upper()}"


def _describe(error: Mapping[str, Any]) -> str:
    location = error.get("loc") or ()
    name = _env_name(str(location[0])) if location else "configuration"
    message = str(error.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ")
    # Never echo the input: it may be a secret.
    return f"{name}: {message}"


def _unknown_variables(environ: Mapping[str, str]) -> list[str]:
    known = {_env_name(name) for name in Settings.model_fields}
    problems = []
    for name in sorted(environ):
        if name.upper().startswith(ENV_PREFIX) and name.upper() not in known:
            close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{name}: unknown setting{hint}")
    return problems


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (keyword arguments win); ConfigError if invalid.

    Unknown `CHIMPLINK_*` variables are errors too: a typo in a variable name
    would otherwise silently fall back to a default.
    """
    problems = _unknown_variables(os.environ)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems.extend(_describe(error) for error in exc.errors())
    else:
        if not problems:
            return settings
    raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


# -- secrets -------------------------------------------------------------------


@dataclass(frozen=True)
class Secrets:
    """Key material, resolved from the environment or the key file."""

    secret_keys: tuple[SecretStr, ...] = field(repr=False)  # newest first
    session_secret: SecretStr = field(repr=False)
    key_file: Path | None  # set when any value came from the key file


_KEY_FILE_FIELDS = ("SECRET_KEYS", "SESSION_SECRET")


def _read_key_file(path: Path) -> dict[str, str]:
    try:
        info = path.stat()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{_env_name('key_file')}: cannot read {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{_env_name('key_file')}: {path} is not a regular file")
    if info.st_mode & 0o077:
        raise ConfigError(
            f"{_env_name('key_file')}: {path} is readable by other users "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); it holds the keys to every stored "
            f"token. Run `chmod 600 {path}` and start again."
        )
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{_env_name('key_file')}: cannot read {path}: {exc}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or name.strip() not in _KEY_FILE_FIELDS:
            raise ConfigError(
                f"{_env_name('key_file')}: {path} line {number} is not "
                f"one of {', '.join(f'{k}=…' for k in _KEY_FILE_FIELDS)}"
            )
        values[name.strip()] = value.strip()
    return values


def write_key_file(path: Path, *, secret_keys: list[str], session_secret: str) -> None:
    """Write the key file atomically with mode 0600 (it never exists with wider permissions)."""
    body = (
        "# chimplink secrets. Keep this file private (mode 0600) and back it up:\n"
        "# without it, the stored Mailchimp tokens cannot be decrypted.\n"
        f"# Written {datetime.now(UTC).isoformat(timespec='seconds')}.\n"
        f"SECRET_KEYS={','.join(secret_keys)}\n"
        f"SESSION_SECRET={session_secret}\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{_secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def replace_key_file_keys(path: Path, *, secret_keys: list[str]) -> None:
    """Rewrite the key file's SECRET_KEYS (newest first), keeping its session secret.

    `chimplink keys rotate` uses this to add a new key before re-encrypting
    and to retire the old ones after every secret uses the new key.
    """
    if not secret_keys or not all(_fernet_key_ok(k) for k in secret_keys):
        raise ValueError("secret_keys must hold at least one valid key")
    stored = _read_key_file(path)
    if not stored:
        raise ConfigError(f"{_env_name('key_file')}: {path} does not exist")
    write_key_file(
        path,
        secret_keys=secret_keys,
        session_secret=stored.get("SESSION_SECRET") or _secrets.token_urlsafe(48),
    )


def load_secrets(settings: Settings) -> Secrets:
    """Resolve the encryption keys and the session secret; ConfigError if impossible.

    Environment values win. In embedded mode, missing values come from the key
    file, which is created (0600) on first run; a key file other users can
    read is refused rather than used.
    """
    env_keys = settings.secret_keys
    env_session = settings.session_secret
    if env_keys is not None and env_session is not None:
        return Secrets(
            secret_keys=tuple(SecretStr(k) for k in _split_keys(env_keys.get_secret_value())),
            session_secret=env_session,
            key_file=None,
        )
    if not settings.embedded:
        missing = [
            _env_name(name)
            for name, value in (("secret_keys", env_keys), ("session_secret", env_session))
            if value is None
        ]
        raise ConfigError(
            f"{' and '.join(missing)} must be set when chimplink does not run embedded "
            "(PostgreSQL or distributed jobs): every process must share the same keys. "
            "Make a key with `chimplink keys generate`."
        )
    path = settings.key_file
    stored = _read_key_file(path)
    if not stored:
        stored = {
            "SECRET_KEYS": generate_fernet_key(),
            "SESSION_SECRET": _secrets.token_urlsafe(48),
        }
        try:
            write_key_file(
                path,
                secret_keys=[stored["SECRET_KEYS"]],
                session_secret=stored["SESSION_SECRET"],
            )
        except OSError as exc:
            raise ConfigError(
                f"{_env_name('key_file')}: cannot create {path}: {exc.strerror}"
            ) from None
    file_keys = _split_keys(stored.get("SECRET_KEYS", ""))
    if env_keys is None and (not file_keys or not all(_fernet_key_ok(k) for k in file_keys)):
        raise ConfigError(f"{_env_name('key_file')}: {path} holds no valid SECRET_KEYS line")
    file_session = stored.get("SESSION_SECRET", "")
    if env_session is None and len(file_session) < 32:
        raise ConfigError(f"{_env_name('key_file')}: {path} holds no valid SESSION_SECRET line")
    keys = _split_keys(env_keys.get_secret_value()) if env_keys is not None else file_keys
    return Secrets(
        secret_keys=tuple(SecretStr(k) for k in keys),
        session_secret=env_session if env_session is not None else SecretStr(file_session),
        key_file=path,
    )
