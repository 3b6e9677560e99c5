"""A small in-memory platform for the inbound tests, implementing the `Connector` protocol.

`apply` really changes the contact (a repeat changes nothing), and every
effective change moves the contact's cursor past every other one, as the
built-in connectors do. `calls` records every change chimplink asked for;
`effective` only those that changed something. `LookupPlatform` also offers
`get_contacts` (the optional `ContactLookup`); `MemoryPlatform` does not,
so the processor scans its stream.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Collection, Iterable, Mapping

from chimplink.platforms import (
    ConnectorError,
    Consent,
    ConsentWithdrawn,
    Contact,
    EmailChanged,
    Erasure,
    FieldSpec,
    FieldType,
    FieldValue,
    InboundChange,
    ProfileChanged,
)

FIELDS = [
    FieldSpec("first_name", FieldType.TEXT, "First name"),
    FieldSpec("last_name", FieldType.TEXT, "Last name"),
    FieldSpec("city", FieldType.TEXT, "City"),
    FieldSpec("score", FieldType.NUMBER, "Loyalty score"),
]
FIELD_MAP = {"first_name": "FNAME", "last_name": "LNAME", "city": "", "score": ""}


class MemoryPlatform:
    name = "memory"

    def __init__(self, fields: Iterable[FieldSpec] = FIELDS) -> None:
        self.fields = list(fields)
        self._seq = 0
        self._contacts: dict[str, Contact] = {}
        self.calls: list[InboundChange] = []
        self.effective: list[InboundChange] = []
        self.refuse: type[InboundChange] | None = None  # apply raises for this kind

    def _cursor(self) -> str:
        self._seq += 1
        return f"{self._seq:012d}"

    # -- the platform's own edits -------------------------------------------------------

    def put(
        self,
        key: str,
        email: str,
        *,
        consent: Consent = Consent.GRANTED,
        fields: Mapping[str, FieldValue] | None = None,
        labels: Iterable[str] = (),
    ) -> Contact:
        contact = Contact(
            key=key,
            email=email,
            consent=consent,
            cursor=self._cursor(),
            fields=dict(fields or {}),
            labels=frozenset(labels),
        )
        self._contacts[key] = contact
        return contact

    def edit(self, key: str, **changes: object) -> Contact:
        current = self._contacts[key]
        if "fields" in changes:
            changes["fields"] = {**current.fields, **changes["fields"]}  # type: ignore[dict-item]
        contact = dataclasses.replace(current, cursor=self._cursor(), **changes)  # type: ignore[arg-type]
        self._contacts[key] = contact
        return contact

    def remove(self, key: str) -> None:
        del self._contacts[key]

    def __getitem__(self, key: str) -> Contact:
        return self._contacts[key]

    # -- the Connector protocol ---------------------------------------------------------

    async def describe_fields(self) -> list[FieldSpec]:
        return list(self.fields)

    async def contacts(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Contact]]:
        selected = sorted(
            (c for c in self._contacts.values() if after is None or c.cursor > after),
            key=lambda c: c.cursor,
        )
        for start in range(0, len(selected), page_size):
            yield selected[start : start + page_size]

    async def erasures(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Erasure]]:
        for page in ():
            yield page

    async def apply(self, change: InboundChange) -> None:
        self.calls.append(change)
        if self.refuse is not None and isinstance(change, self.refuse):
            raise ConnectorError("the platform is read-only today")
        current = self._contacts.get(change.key)
        if current is None:
            return
        match change:
            case ConsentWithdrawn():
                updated = dataclasses.replace(current, consent=Consent.WITHDRAWN)
            case EmailChanged(new_email=email):
                updated = dataclasses.replace(current, email=email)
            case ProfileChanged(fields=fields):
                updated = dataclasses.replace(current, fields={**current.fields, **fields})
        if updated != current:
            self._contacts[change.key] = dataclasses.replace(updated, cursor=self._cursor())
            self.effective.append(change)


class LookupPlatform(MemoryPlatform):
    """The same platform, able to answer contacts by key."""

    name = "memory-lookup"

    def __init__(self, fields: Iterable[FieldSpec] = FIELDS) -> None:
        super().__init__(fields)
        self.lookups = 0

    async def get_contacts(self, keys: Collection[str]) -> Mapping[str, Contact]:
        self.lookups += 1
        return {k: self._contacts[k] for k in keys if k in self._contacts}
