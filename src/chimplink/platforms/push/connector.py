"""`PushConnector`: the contacts a platform pushed to chimplink's API, as a `Connector`.

Reading follows the tenant's change sequence (`store/push.py`), so the sync
engine sees every upsert after its checkpoint, and erasures come from the
tombstones. `apply` writes Mailchimp's change to the stored contact — the
platform reads it back with `GET /api/v1/contacts` — and, in the same
transaction, queues a signed webhook to the platform (`events.py`,
`delivery.py`) when the tenant configured an endpoint. A change that changes
nothing (a repeat) neither moves the cursor nor sends a webhook.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chimplink.platforms.base import (
    ConnectorError,
    Consent,
    ConsentWithdrawn,
    Contact,
    EmailChanged,
    Erasure,
    FieldSpec,
    FieldType,
    InboundChange,
    ProfileChanged,
)
from chimplink.platforms.push.events import EventType, event_body, new_message_id
from chimplink.platforms.push.models import decode_cursor, encode_cursor, is_email, value_problem
from chimplink.store.push import (
    PushContact,
    PushContactUpdate,
    PushField,
    count_push_contacts,
    get_push_contacts,
    get_push_fields,
    list_push_contacts,
    list_push_erasures,
    update_push_contact,
)
from chimplink.store.push_outbox import enqueue_push_delivery

__all__ = ["PushConnector"]

_log = structlog.get_logger("chimplink.platforms")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PushConnector:
    """One tenant's pushed contacts. Cheap to make: it holds only the session factory."""

    name = "push"

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        tenant_id: str,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._sessions = sessions
        self.tenant_id = tenant_id
        self._clock = clock

    # -- reading ----------------------------------------------------------------------------

    async def _declared(self) -> list[PushField]:
        async with self._sessions() as session:
            return await get_push_fields(session=session, tenant_id=self.tenant_id)

    async def describe_fields(self) -> list[FieldSpec]:
        return [
            FieldSpec(name=f.name, type=FieldType(f.type), label=f.label)
            for f in await self._declared()
        ]

    async def contacts(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Contact]]:
        _check_page_size(page_size)
        last = _decode(after)
        names = {f.name for f in await self._declared()}
        while True:
            # One short session per page: nothing stays open while the engine works.
            async with self._sessions() as session:
                page = await list_push_contacts(
                    session=session, tenant_id=self.tenant_id, after=last, limit=page_size
                )
            if page:
                last = page[-1].seq
                yield [_contact(row, names) for row in page]
            if len(page) < page_size:
                return

    async def count_contacts(self, *, after: str | None) -> int:
        """How many contacts `contacts(after=...)` would yield (for progress and size checks)."""
        async with self._sessions() as session:
            return await count_push_contacts(
                session=session, tenant_id=self.tenant_id, after=_decode(after)
            )

    async def get_contacts(self, keys: Collection[str]) -> Mapping[str, Contact]:
        """The stored contacts among `keys` (the inbound processor's lookup)."""
        names = {f.name for f in await self._declared()}
        async with self._sessions() as session:
            found = await get_push_contacts(session=session, tenant_id=self.tenant_id, keys=keys)
        return {key: _contact(row, names) for key, row in found.items()}

    async def erasures(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Erasure]]:
        _check_page_size(page_size)
        last = _decode(after)
        while True:
            async with self._sessions() as session:
                page = await list_push_erasures(
                    session=session, tenant_id=self.tenant_id, after=last, limit=page_size
                )
            if page:
                last = page[-1].seq
                yield [Erasure(key=e.key, email=e.email, cursor=encode_cursor(e.seq)) for e in page]
            if len(page) < page_size:
                return

    # -- writing back --------------------------------------------------------------------------

    async def apply(self, change: InboundChange) -> None:
        """Store Mailchimp's change and queue its webhook; a repeat does neither.

        A contact the platform deleted since is left deleted (logged): there is
        nothing to update, and recreating it would undo the platform's delete.
        ConnectorError for a field the tenant did not declare, or a value that
        does not fit the field's type; nothing is changed then.
        """
        at = self._clock()
        detail: dict[str, Any]
        async with self._sessions.begin() as session:
            declared = await get_push_fields(session=session, tenant_id=self.tenant_id)
            match change:
                case ConsentWithdrawn(key=key, reason=reason):
                    updated = await update_push_contact(
                        session=session,
                        tenant_id=self.tenant_id,
                        key=key,
                        consent=Consent.WITHDRAWN.value,
                        now=at,
                    )
                    event, detail = EventType.CONSENT_WITHDRAWN, {"reason": reason}
                case ProfileChanged(key=key, fields=fields):
                    _check_profile(fields, declared)
                    updated = await update_push_contact(
                        session=session, tenant_id=self.tenant_id, key=key, fields=fields, now=at
                    )
                    event, detail = EventType.PROFILE_CHANGED, {"fields": _changed(updated)}
                case EmailChanged(key=key, new_email=email):
                    if not is_email(email):
                        raise ConnectorError("the new address is not an email address")
                    updated = await update_push_contact(
                        session=session, tenant_id=self.tenant_id, key=key, email=email, now=at
                    )
                    event, detail = EventType.EMAIL_CHANGED, {"email": email}
            if updated is None:
                _log.debug("push.apply_changed_nothing", change=type(change).__name__)
                return
            queued = await enqueue_push_delivery(
                session=session,
                tenant_id=self.tenant_id,
                message_id=new_message_id(),
                event_type=event.value,
                payload=event_body(
                    event_type=event,
                    contact=updated.after,
                    change=detail,
                    declared=declared,
                    at=at,
                ),
                now=at,
            )
        _log.info(
            "push.applied",
            tenant_id=self.tenant_id,
            change=type(change).__name__,
            webhook_queued=queued,
        )


def _contact(row: PushContact, names: Collection[str]) -> Contact:
    return Contact(
        key=row.key,
        email=row.email,
        consent=Consent(row.consent),
        cursor=encode_cursor(row.seq),
        # Values of fields no longer declared stay stored but are not synced.
        fields={name: value for name, value in row.fields.items() if name in names},
        labels=frozenset(row.labels),
    )


def _check_profile(fields: Mapping[str, Any], declared: list[PushField]) -> None:
    kinds = {f.name: FieldType(f.type) for f in declared}
    unknown = sorted(set(fields) - set(kinds))
    if unknown:
        raise ConnectorError(
            f"fields {', '.join(map(repr, unknown))} are not declared for this platform "
            f"(declared: {', '.join(sorted(kinds)) or 'none'})"
        )
    for name, value in fields.items():
        problem = value_problem(kinds[name], value)
        if problem is not None:
            raise ConnectorError(f"field {name!r}: the value from Mailchimp {problem}")


def _changed(updated: PushContactUpdate | None) -> dict[str, Any]:
    if updated is None:
        return {}
    before, after = updated.before.fields, updated.after.fields
    return {name: value for name, value in after.items() if before.get(name) != value}


def _decode(after: str | None) -> int:
    try:
        return decode_cursor(after)
    except ValueError as exc:
        raise ConnectorError(f"the push connector cannot resume: {exc}") from None


def _check_page_size(page_size: int) -> None:
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, not {page_size}")
