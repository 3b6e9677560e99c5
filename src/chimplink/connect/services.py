"""`Services`: what the lifecycle functions share, built once per process.

    async with open_services(settings) as services:      # web lifespan, CLI command
        await uninstall(services, installation_id=...)

One engine, one session factory, one cipher, one `httpx.AsyncClient` (its
connection pool is shared by every Mailchimp call, OAuth included), one
`LocalLimiter` for the whole process (Mailchimp's per-user connection limit
is per process here, not per request). Nothing is module-level.

`mailchimp_transport` routes every Mailchimp request (login and API) through
one transport: tests mount the emulator with `httpx.ASGITransport`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chimplink.config import ConfigError, Secrets, Settings, load_secrets
from chimplink.connect.config import ConnectConfig, OAuthApp
from chimplink.connect.errors import NotConfigured
from chimplink.mailchimp import LocalLimiter, RetryPolicy
from chimplink.store import TokenCipher, make_engine, make_session_factory

__all__ = ["Services", "open_services", "ping_database"]

# OAuth calls (token, metadata) use the pool's default; API calls set their own
# per-request timeout (Mailchimp's 120 s, see chimplink.mailchimp).
_HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

# A user waits on these calls: a few quick retries, never minutes of backoff.
# Work that can wait (remote clean-up) is retried by the job runner instead.
INTERACTIVE_RETRY = RetryPolicy(max_attempts=3, base_delay=0.25, max_delay=2.0, deadline=20.0)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    cipher: TokenCipher
    http: httpx.AsyncClient
    limiter: LocalLimiter
    config: ConnectConfig
    # Keys the per-installation secret in webhook URLs (webhook_paths.py).
    webhook_key: bytes = field(repr=False)
    interactive_retry: RetryPolicy = INTERACTIVE_RETRY
    clock: Callable[[], datetime] = _utcnow

    def require_oauth(self) -> OAuthApp:
        if self.config.oauth is None:
            raise NotConfigured(reason="CHIMPLINK_MAILCHIMP_CLIENT_ID/SECRET are not set")
        return self.config.oauth


def derive_webhook_key(secrets: Secrets) -> bytes:
    """A key for webhook URL secrets, derived from the session secret (domain-separated)."""
    return hmac.new(
        secrets.session_secret.get_secret_value().encode("utf-8"),
        b"chimplink/webhook-path-key/v1",
        hashlib.sha256,
    ).digest()


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    secrets: Secrets | None = None,
    mailchimp_transport: httpx.AsyncBaseTransport | None = None,
    config: ConnectConfig | None = None,
) -> AsyncIterator[Services]:
    """Build the shared services for one process; close them on exit. ConfigError if impossible."""
    resolved = secrets if secrets is not None else load_secrets(settings)
    if not resolved.secret_keys:
        raise ConfigError("no encryption key configured")
    engine = make_engine(settings.database_url)
    http = httpx.AsyncClient(
        transport=mailchimp_transport, timeout=_HTTP_TIMEOUT, follow_redirects=False
    )
    try:
        yield Services(
            engine=engine,
            sessions=make_session_factory(engine),
            cipher=TokenCipher(resolved.secret_keys),
            http=http,
            limiter=LocalLimiter(limit=settings.mailchimp_max_connections),
            config=config if config is not None else ConnectConfig.from_settings(settings),
            webhook_key=derive_webhook_key(resolved),
        )
    finally:
        await http.aclose()
        await engine.dispose()


async def ping_database(services: Services) -> None:
    """Raise if the database cannot answer a trivial query (health checks)."""
    async with services.sessions() as session:
        await session.execute(text("SELECT 1"))
