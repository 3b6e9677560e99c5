"""Key rotation: re-encrypt every stored secret with the newest key.

Operators put a new key first in `CHIMPLINK_SECRET_KEYS` (or let `chimplink
keys rotate --new-key` add one to the key file), run the rotation, then
remove the old keys. Afterwards every row carries the new key id
(reliability.md T7 c). Rows are processed in batches of `batch_size`, keyset
by primary key; run it inside one transaction or let the CLI commit per call.

Each secret is decrypted with its binding checked and encrypted again, so a
tampered or swapped ciphertext is reported as a failure, never blessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chimplink.store._common import utc
from chimplink.store.audit import AuditEvent, record_audit
from chimplink.store.crypto import (
    DecryptionError,
    TokenCipher,
    access_token_context,
    cleanup_token_context,
    code_verifier_context,
    signing_secret_context,
)
from chimplink.store.push import webhook_secret_context
from chimplink.store.tables import (
    InstallationSecretRow,
    OAuthStateRow,
    PendingCleanupRow,
    PushTenantRow,
)

__all__ = ["SECRET_KINDS", "RotationReport", "count_secrets_by_key", "rotate_secrets"]


@dataclass
class RotationReport:
    """Counts per kind of secret: re-encrypted, already current, failed to decrypt,
    and changed by someone else during the rotation (run it again)."""

    key_id: str
    rotated: dict[str, int] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)

    @property
    def total_failed(self) -> int:
        return sum(self.failed.values())

    def _add(self, kind: str, outcome: str) -> None:
        counts: dict[str, int] = getattr(self, outcome)
        counts[kind] = counts.get(kind, 0) + 1


# (kind, table, primary key, ciphertext column, key id column, context of a row)
_Column = tuple[str, Any, str, str, str, Any]
_COLUMNS: tuple[_Column, ...] = (
    (
        "access tokens",
        InstallationSecretRow,
        "installation_id",
        "token_ciphertext",
        "token_key_id",
        access_token_context,
    ),
    (
        "webhook signing secrets",
        InstallationSecretRow,
        "installation_id",
        "signing_secret_ciphertext",
        "signing_secret_key_id",
        signing_secret_context,
    ),
    (
        "pending clean-up tokens",
        PendingCleanupRow,
        "id",
        "token_ciphertext",
        "token_key_id",
        cleanup_token_context,
    ),
    (
        "OAuth code verifiers",
        OAuthStateRow,
        "state_hash",
        "code_verifier_ciphertext",
        "code_verifier_key_id",
        code_verifier_context,
    ),
    (
        "push webhook secrets",
        PushTenantRow,
        "tenant_id",
        "webhook_secret_ciphertext",
        "webhook_secret_key_id",
        webhook_secret_context,
    ),
)

# What the report counts, in order: every kind of secret the database holds.
SECRET_KINDS: tuple[str, ...] = tuple(column[0] for column in _COLUMNS)


async def rotate_secrets(
    *,
    session: AsyncSession,
    cipher: TokenCipher,
    batch_size: int = 500,
    force: bool = False,
    now: datetime | None = None,
) -> RotationReport:
    """Re-encrypt every secret not yet under the newest key (all of them with `force`)."""
    report = RotationReport(key_id=cipher.current_key_id)
    for kind, table, pk_name, text_name, key_name, context_of in _COLUMNS:
        pk, text, key = (getattr(table, name) for name in (pk_name, text_name, key_name))
        last: Any = None
        while True:
            query = select(pk, text, key).where(text.is_not(None)).order_by(pk).limit(batch_size)
            if last is not None:
                query = query.where(pk > last)
            rows = (await session.execute(query)).all()
            if not rows:
                break
            for row_id, ciphertext, row_key in rows:
                if row_key == cipher.current_key_id and not force:
                    report._add(kind, "current")
                    continue
                try:
                    sealed = cipher.reencrypt(ciphertext, context=context_of(row_id))
                except DecryptionError:
                    report._add(kind, "failed")
                    continue
                # Compare-and-swap: a secret replaced meanwhile (a reconnect) is
                # left alone rather than overwritten with the old value.
                result = await session.execute(
                    update(table)
                    .where(pk == row_id, text == ciphertext)
                    .values({text_name: sealed.ciphertext, key_name: sealed.key_id})
                    .execution_options(synchronize_session=False)
                )
                report._add(kind, "rotated" if getattr(result, "rowcount", 0) else "changed")
            last = rows[-1][0]
    await record_audit(
        session=session,
        event=AuditEvent.KEYS_ROTATED,
        details={
            "key_id": report.key_id,
            "rotated": sum(report.rotated.values()),
            "failed": report.total_failed,
        },
        now=utc(now),
    )
    return report


async def count_secrets_by_key(*, session: AsyncSession) -> dict[str, int]:
    """How many stored secrets each key id protects (to check an old key is unused)."""
    counts: dict[str, int] = {}
    for _kind, table, _pk, text_name, key_name, _context in _COLUMNS:
        rows = await session.execute(
            select(getattr(table, key_name)).where(getattr(table, text_name).is_not(None))
        )
        for (key,) in rows:
            counts[key] = counts.get(key, 0) + 1
    return counts
