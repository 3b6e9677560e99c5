"""The push connector's storage: API keys, contacts, erasures and per-tenant settings.

A platform that cannot give chimplink a database pushes its contacts to the
REST API (`web/routes/api_v1.py`); they are kept here, per tenant, and read
back by `platforms.push.PushConnector` in change order. The outgoing webhooks
(the outbox) are in `store/push_outbox.py`.

The change cursor is a per-tenant sequence (`PushTenantRow.last_seq`): each
created, changed or erased contact takes the next value. Every writer first
locks the tenant's row (`_lock`), so values commit in the order they are
taken; a reader that saw value n never later finds a new change below n.
Writes that change nothing take no value, so a repeated upsert is invisible
to the sync engine.

API keys are shown once and stored as SHA-256 (a 256-bit random key needs no
slow hash); a lookup by digest is followed by a constant-time comparison.
The webhook secret must be used in clear to sign, so it is encrypted
(`store/crypto.py`), bound to the tenant's row.

Repositories flush, never commit.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Select, String, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from chimplink.store._common import dialect_insert, new_id, sha256_hex, utc
from chimplink.store.audit import AuditEvent, record_audit
from chimplink.store.crypto import TokenCipher
from chimplink.store.tables import (
    PushApiKeyRow,
    PushContactRow,
    PushErasureRow,
    PushTenantRow,
)

__all__ = [
    "API_KEY_PREFIX",
    "MAX_BATCH",
    "DeleteStatus",
    "IssuedPushKey",
    "PushContact",
    "PushContactInput",
    "PushContactUpdate",
    "PushErasure",
    "PushField",
    "PushKey",
    "PushWebhook",
    "UpsertStatus",
    "authenticate_push_key",
    "count_push_contacts",
    "create_push_key",
    "delete_push_contacts",
    "get_push_contacts",
    "get_push_fields",
    "get_push_webhook",
    "list_push_contacts",
    "list_push_erasures",
    "list_push_keys",
    "remove_push_webhook",
    "revoke_push_key",
    "set_push_fields",
    "set_push_webhook",
    "update_push_contact",
    "upsert_push_contacts",
    "webhook_secret_context",
]

API_KEY_PREFIX = "clk_"
WEBHOOK_SECRET_PREFIX = "whsec_"
MAX_BATCH = 1000  # contacts or keys per write (the API's limit too)
_PREFIX_LENGTH = 12  # "clk_" and 8 characters: tells keys apart, reveals ~48 of 256 bits
_IN_CHUNK = 500
# A key's last use is written at most this often: a busy key is not a write per request.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def webhook_secret_context(tenant_id: str) -> str:
    return f"push_tenant:{tenant_id}:webhook_secret"


# -- API keys ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PushKey:
    id: str
    tenant_id: str
    prefix: str
    name: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class IssuedPushKey:
    """A new key: `key` is shown to the operator once and never stored."""

    key: SecretStr
    info: PushKey


def _push_key(row: PushApiKeyRow) -> PushKey:
    return PushKey(
        id=row.id,
        tenant_id=row.tenant_id,
        prefix=row.prefix,
        name=row.name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


async def create_push_key(
    *, session: AsyncSession, tenant_id: str, name: str | None = None, now: datetime | None = None
) -> IssuedPushKey:
    """A new API key for the tenant (its settings row is created too, if new)."""
    if name is not None and len(name) > 100:
        raise ValueError("a key name has at most 100 characters")
    at = utc(now)
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row = PushApiKeyRow(
        id=new_id(),
        tenant_id=tenant_id,
        key_hash=sha256_hex(key),
        prefix=key[:_PREFIX_LENGTH],
        name=name or None,
        created_at=at,
        last_used_at=None,
        revoked_at=None,
    )
    session.add(row)
    await _ensure_settings(session, tenant_id, at)
    await session.flush()
    await record_audit(
        session=session,
        event=AuditEvent.PUSH_KEY_CREATED,
        tenant_id=tenant_id,
        details={"key_id": row.id},
        now=at,
    )
    return IssuedPushKey(key=SecretStr(key), info=_push_key(row))


async def authenticate_push_key(
    *, session: AsyncSession, key: str, now: datetime | None = None
) -> PushKey | None:
    """The active key `key` is, or None (unknown, malformed or revoked: one answer for all)."""
    if not key.startswith(API_KEY_PREFIX) or len(key) > 200:
        return None
    digest = sha256_hex(key)
    row = (
        await session.execute(
            select(PushApiKeyRow)
            .where(PushApiKeyRow.key_hash == digest)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at is not None:
        return None
    at = utc(now)
    if row.last_used_at is None or at - row.last_used_at >= _LAST_USED_RESOLUTION:
        row.last_used_at = at
        await session.flush()
    return _push_key(row)


async def revoke_push_key(
    *, session: AsyncSession, tenant_id: str, key_id: str, now: datetime | None = None
) -> PushKey | None:
    """Revoke the tenant's key by id or by its shown prefix; None if the tenant has no such key.

    Revoking a revoked key keeps its first revocation time.
    """
    query = select(PushApiKeyRow).where(PushApiKeyRow.tenant_id == tenant_id)
    rows = (
        (
            await session.execute(
                query.where((PushApiKeyRow.id == key_id) | (PushApiKeyRow.prefix == key_id))
            )
        )
        .scalars()
        .all()
    )
    if len(rows) != 1:
        return None  # none, or a prefix shared by two keys: ask for the id
    row = rows[0]
    if row.revoked_at is None:
        row.revoked_at = utc(now)
        await session.flush()
        await record_audit(
            session=session,
            event=AuditEvent.PUSH_KEY_REVOKED,
            tenant_id=tenant_id,
            details={"key_id": row.id},
            now=row.revoked_at,
        )
    return _push_key(row)


async def list_push_keys(*, session: AsyncSession, tenant_id: str) -> list[PushKey]:
    rows = await session.execute(
        select(PushApiKeyRow)
        .where(PushApiKeyRow.tenant_id == tenant_id)
        .order_by(PushApiKeyRow.created_at, PushApiKeyRow.id)
        .execution_options(populate_existing=True)
    )
    return [_push_key(row) for row in rows.scalars()]


# -- per-tenant settings: fields and the webhook endpoint -------------------------------------


@dataclass(frozen=True)
class PushField:
    """A field the tenant's contacts carry; `type` is a `platforms.FieldType` value."""

    name: str
    type: str
    label: str


@dataclass(frozen=True)
class PushWebhook:
    url: str
    secret: SecretStr


async def _ensure_settings(session: AsyncSession, tenant_id: str, at: datetime) -> None:
    await session.execute(
        dialect_insert(session, PushTenantRow)
        .values(tenant_id=tenant_id, last_seq=0, fields=[], created_at=at, updated_at=at)
        .on_conflict_do_nothing(index_elements=[PushTenantRow.tenant_id])
    )


async def _settings(session: AsyncSession, tenant_id: str) -> PushTenantRow | None:
    return await session.get(PushTenantRow, tenant_id, populate_existing=True)


async def get_push_fields(*, session: AsyncSession, tenant_id: str) -> list[PushField]:
    settings = await _settings(session, tenant_id)
    if settings is None:
        return []
    return [PushField(f["name"], f["type"], f.get("label", "")) for f in settings.fields]


async def set_push_fields(
    *,
    session: AsyncSession,
    tenant_id: str,
    fields: Sequence[PushField],
    now: datetime | None = None,
) -> list[PushField]:
    """Replace the declared fields (validated by the caller). Stored values are kept."""
    at = utc(now)
    await _ensure_settings(session, tenant_id, at)
    await session.execute(
        update(PushTenantRow)
        .where(PushTenantRow.tenant_id == tenant_id)
        .values(
            fields=[{"name": f.name, "type": f.type, "label": f.label} for f in fields],
            updated_at=at,
        )
    )
    return list(fields)


def _new_webhook_secret() -> str:
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


async def set_push_webhook(
    *,
    session: AsyncSession,
    cipher: TokenCipher,
    tenant_id: str,
    url: str,
    new_secret: bool = False,
    now: datetime | None = None,
) -> SecretStr | None:
    """Point the tenant's webhooks at `url` (validated by the caller).

    A secret is made when the tenant has none, or when `new_secret` asks for
    one: it is returned (to show once). Otherwise the secret is kept and None
    is returned.
    """
    at = utc(now)
    await _ensure_settings(session, tenant_id, at)
    settings = await _settings(session, tenant_id)
    assert settings is not None
    settings.webhook_url = url
    settings.updated_at = at
    made: str | None = None
    if new_secret or settings.webhook_secret_ciphertext is None:
        made = _new_webhook_secret()
        sealed = cipher.encrypt(made, context=webhook_secret_context(tenant_id))
        settings.webhook_secret_ciphertext = sealed.ciphertext
        settings.webhook_secret_key_id = sealed.key_id
    await session.flush()
    await record_audit(
        session=session,
        event=AuditEvent.PUSH_WEBHOOK_SET,
        tenant_id=tenant_id,
        details={"new_secret": made is not None},
        now=at,
    )
    return SecretStr(made) if made is not None else None


async def get_push_webhook(
    *, session: AsyncSession, cipher: TokenCipher, tenant_id: str
) -> PushWebhook | None:
    """The endpoint and its secret, decrypted; None if none is set.

    DecryptionError if the secret cannot be opened with the configured keys.
    """
    settings = await _settings(session, tenant_id)
    if settings is None or settings.webhook_url is None:
        return None
    assert settings.webhook_secret_ciphertext is not None
    secret = cipher.decrypt(
        settings.webhook_secret_ciphertext, context=webhook_secret_context(tenant_id)
    )
    return PushWebhook(url=settings.webhook_url, secret=SecretStr(secret))


async def remove_push_webhook(
    *, session: AsyncSession, tenant_id: str, now: datetime | None = None
) -> bool:
    """Stop sending webhooks (the URL and the secret are deleted); False if none was set."""
    at = utc(now)
    result = await session.execute(
        update(PushTenantRow)
        .where(PushTenantRow.tenant_id == tenant_id, PushTenantRow.webhook_url.is_not(None))
        .values(
            webhook_url=None,
            webhook_secret_ciphertext=None,
            webhook_secret_key_id=None,
            updated_at=at,
        )
        .execution_options(synchronize_session=False)
    )
    removed = bool(getattr(result, "rowcount", 0))
    if removed:
        await record_audit(
            session=session, event=AuditEvent.PUSH_WEBHOOK_REMOVED, tenant_id=tenant_id, now=at
        )
    return removed


# -- contacts ----------------------------------------------------------------------------


class UpsertStatus(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class DeleteStatus(StrEnum):
    DELETED = "deleted"
    ERASED = "erased"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class PushContactInput:
    """A contact as the platform sent it, already validated (platforms/push/models.py)."""

    key: str
    email: str = field(repr=False)
    consent: str
    fields: Mapping[str, Any] = field(default_factory=dict, repr=False)
    labels: Sequence[str] = ()


@dataclass(frozen=True)
class PushContact:
    tenant_id: str
    key: str
    email: str = field(repr=False)  # personal data: kept out of repr (and so of logs)
    consent: str
    fields: Mapping[str, Any] = field(repr=False)
    labels: tuple[str, ...]
    seq: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class PushErasure:
    key: str
    email: str = field(repr=False)
    seq: int
    erased_at: datetime


@dataclass(frozen=True)
class PushContactUpdate:
    """A change `update_push_contact` made: the contact before and after."""

    before: PushContact
    after: PushContact


def _contact(row: PushContactRow) -> PushContact:
    return PushContact(
        tenant_id=row.tenant_id,
        key=row.key,
        email=row.email,
        consent=row.consent,
        fields=dict(row.fields),
        labels=tuple(row.labels),
        seq=row.seq,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _lock_existing(session: AsyncSession, tenant_id: str) -> int | None:
    """Lock the tenant's counter for this transaction; the last value taken (None: no row).

    A do-nothing UPDATE as the first statement: on PostgreSQL it takes the
    row lock, on SQLite the write lock (a read first would let two writers
    read the same value, and SQLite would refuse the second one's write).
    """
    statement = (
        update(PushTenantRow)
        .where(PushTenantRow.tenant_id == tenant_id)
        .values(last_seq=PushTenantRow.last_seq)
        .returning(PushTenantRow.last_seq)
        .execution_options(synchronize_session=False)
    )
    found = (await session.execute(statement)).scalar_one_or_none()
    return None if found is None else int(found)


async def _lock(session: AsyncSession, tenant_id: str, at: datetime) -> int:
    """`_lock_existing`, creating the tenant's settings row first if there is none."""
    found = await _lock_existing(session, tenant_id)
    if found is None:
        await _ensure_settings(session, tenant_id, at)
        found = await _lock_existing(session, tenant_id)
        assert found is not None  # inserted just now, in this transaction
    return found


async def _advance(session: AsyncSession, tenant_id: str, last: int) -> None:
    await session.execute(
        update(PushTenantRow)
        .where(PushTenantRow.tenant_id == tenant_id)
        .values(last_seq=last)
        .execution_options(synchronize_session=False)
    )


def _by_keys(session: AsyncSession, tenant_id: str, keys: list[str]) -> Select[Any]:
    """The tenant's contacts among `keys`.

    On PostgreSQL the keys are joined as one array (`unnest`), not listed in
    `IN (...)`: before its first ANALYZE of a freshly filled table the planner
    may read all the tenant's rows and test each against the list one by one
    (seconds for a large tenant); a join stays linear whatever plan it picks.
    """
    query = select(PushContactRow).where(PushContactRow.tenant_id == tenant_id)
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam("keys", keys, type_=ARRAY(String()))
        wanted = func.unnest(array).table_valued("key").render_derived(name="wanted")
        return query.join(wanted, PushContactRow.key == wanted.c.key)
    return query.where(PushContactRow.key.in_(keys))


async def _rows(
    session: AsyncSession, tenant_id: str, keys: Iterable[str]
) -> dict[str, PushContactRow]:
    wanted = list(dict.fromkeys(keys))
    found: dict[str, PushContactRow] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        query = _by_keys(session, tenant_id, wanted[start : start + _IN_CHUNK])
        rows = await session.execute(query.execution_options(populate_existing=True))
        found.update((row.key, row) for row in rows.scalars())
    return found


def _stored(item: PushContactInput) -> dict[str, Any]:
    """The columns an input sets, in stored form (labels sorted and unique)."""
    return {
        "email": item.email,
        "consent": item.consent,
        "fields": dict(item.fields),
        "labels": sorted(set(item.labels)),
    }


def _same(row: PushContactRow, values: Mapping[str, Any]) -> bool:
    return bool(
        row.email == values["email"]
        and row.consent == values["consent"]
        and dict(row.fields) == values["fields"]
        and sorted(row.labels) == values["labels"]
    )


def _check_batch(size: int) -> None:
    if size > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} contacts per call, not {size}")


async def upsert_push_contacts(
    *,
    session: AsyncSession,
    tenant_id: str,
    contacts: Sequence[PushContactInput],
    now: datetime | None = None,
) -> list[UpsertStatus]:
    """Create or replace each contact (keys must be unique in the call); a status per contact.

    A contact equal to the stored one is left alone (`unchanged`: no new
    cursor, so the sync engine does not read it again).
    """
    _check_batch(len(contacts))
    if len({c.key for c in contacts}) != len(contacts):
        raise ValueError("a key appears twice in one upsert")
    if not contacts:
        return []
    at = utc(now)
    last = await _lock(session, tenant_id, at)
    existing = await _rows(session, tenant_id, (c.key for c in contacts))
    statuses: list[UpsertStatus] = []
    created: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    for item in contacts:
        values = _stored(item)
        row = existing.get(item.key)
        if row is not None and _same(row, values):
            statuses.append(UpsertStatus.UNCHANGED)
            continue
        last += 1
        values.update(tenant_id=tenant_id, key=item.key, seq=last, updated_at=at)
        if row is None:
            created.append({**values, "created_at": at})
            statuses.append(UpsertStatus.CREATED)
        else:
            updated.append(values)
            statuses.append(UpsertStatus.UPDATED)
    if created:
        await session.execute(insert(PushContactRow), created)
    if updated:
        await session.execute(update(PushContactRow), updated)  # by primary key
    if created or updated:
        await _advance(session, tenant_id, last)
    return statuses


async def delete_push_contacts(
    *,
    session: AsyncSession,
    tenant_id: str,
    keys: Sequence[str],
    erase: bool = False,
    now: datetime | None = None,
) -> dict[str, DeleteStatus]:
    """Delete contacts; with `erase`, also record each in the erasure feed (GDPR).

    A plain delete only stops syncing the contact (its Mailchimp member
    stays). An erasure tells the sync engine to suppress the address for
    good and, if the operator enabled it, to delete the member permanently.
    """
    _check_batch(len(keys))
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    at = utc(now)
    last = await _lock(session, tenant_id, at)
    existing = await _rows(session, tenant_id, wanted)
    outcome: dict[str, DeleteStatus] = {}
    tombstones: list[dict[str, Any]] = []
    for key in wanted:
        row = existing.get(key)
        if row is None:
            outcome[key] = DeleteStatus.NOT_FOUND
            continue
        outcome[key] = DeleteStatus.ERASED if erase else DeleteStatus.DELETED
        if erase:
            last += 1
            tombstones.append(
                {
                    "tenant_id": tenant_id,
                    "seq": last,
                    "key": key,
                    "email": row.email,
                    "erased_at": at,
                }
            )
    gone = [{"t": tenant_id, "k": key} for key in wanted if key in existing]
    if gone:
        table = PushContactRow.metadata.tables[PushContactRow.__tablename__]
        # One statement per key, by primary key (executemany): a plan that cannot go wrong.
        await session.execute(
            delete(table).where(table.c.tenant_id == bindparam("t"), table.c.key == bindparam("k")),
            gone,
        )
    if tombstones:
        await session.execute(insert(PushErasureRow), tombstones)
        await _advance(session, tenant_id, last)
    return outcome


async def update_push_contact(
    *,
    session: AsyncSession,
    tenant_id: str,
    key: str,
    email: str | None = None,
    consent: str | None = None,
    fields: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> PushContactUpdate | None:
    """Set what is given (`fields` are merged into the stored ones); None if nothing changed.

    None too when there is no such contact: a change for a contact the
    platform deleted since has nothing to update.
    """
    at = utc(now)
    last = await _lock_existing(session, tenant_id)
    if last is None:
        return None  # the tenant never pushed anything
    row = (await _rows(session, tenant_id, [key])).get(key)
    if row is None:
        return None
    before = _contact(row)
    values: dict[str, Any] = {
        "email": before.email if email is None else email,
        "consent": before.consent if consent is None else consent,
        "fields": {**before.fields, **(fields or {})},
        "labels": sorted(before.labels),
    }
    if _same(row, values):
        return None
    row.email, row.consent, row.fields = values["email"], values["consent"], values["fields"]
    row.seq, row.updated_at = last + 1, at
    await session.flush()
    await _advance(session, tenant_id, last + 1)
    return PushContactUpdate(before=before, after=_contact(row))


async def list_push_contacts(
    *, session: AsyncSession, tenant_id: str, after: int = 0, limit: int = 100
) -> list[PushContact]:
    """Contacts changed after sequence value `after`, in change order."""
    rows = await session.execute(
        select(PushContactRow)
        .where(PushContactRow.tenant_id == tenant_id, PushContactRow.seq > after)
        .order_by(PushContactRow.seq)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return [_contact(row) for row in rows.scalars()]


async def get_push_contacts(
    *, session: AsyncSession, tenant_id: str, keys: Iterable[str]
) -> dict[str, PushContact]:
    return {key: _contact(row) for key, row in (await _rows(session, tenant_id, keys)).items()}


async def count_push_contacts(*, session: AsyncSession, tenant_id: str, after: int = 0) -> int:
    query = (
        select(func.count())
        .select_from(PushContactRow)
        .where(PushContactRow.tenant_id == tenant_id, PushContactRow.seq > after)
    )
    return int((await session.execute(query)).scalar_one())


async def list_push_erasures(
    *, session: AsyncSession, tenant_id: str, after: int = 0, limit: int = 100
) -> list[PushErasure]:
    rows = await session.execute(
        select(PushErasureRow)
        .where(PushErasureRow.tenant_id == tenant_id, PushErasureRow.seq > after)
        .order_by(PushErasureRow.seq)
        .limit(limit)
    )
    return [
        PushErasure(key=row.key, email=row.email, seq=row.seq, erased_at=row.erased_at)
        for row in rows.scalars()
    ]
