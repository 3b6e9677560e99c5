"""An in-memory `Connector` for the sync tests: contacts in a dict, cursors from a counter.

Every write gives the contact a new, larger cursor (like an `updated_at`
cursor), so it shows up again after the engine's checkpoint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable, Mapping

from chimplink.platforms import (
    Consent,
    Contact,
    Erasure,
    FieldSpec,
    FieldType,
    FieldValue,
    InboundChange,
)

DEFAULT_FIELDS = [
    FieldSpec("first_name", FieldType.TEXT, "First name"),
    FieldSpec("last_name", FieldType.TEXT, "Last name"),
    FieldSpec("city", FieldType.TEXT, "City"),
    FieldSpec("score", FieldType.NUMBER, "Loyalty score"),
]
DEFAULT_MAP = {"first_name": "FNAME", "last_name": "LNAME", "city": "", "score": ""}


class MemoryConnector:
    name = "memory"

    def __init__(self, fields: Iterable[FieldSpec] = DEFAULT_FIELDS) -> None:
        self.fields = list(fields)
        self._seq = 0
        self._contacts: dict[str, Contact] = {}
        self._erasures: list[Erasure] = []
        self.applied: list[InboundChange] = []

    def _cursor(self) -> str:
        self._seq += 1
        return f"{self._seq:012d}"

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
        if "labels" in changes:
            changes["labels"] = frozenset(changes["labels"])  # type: ignore[arg-type]
        contact = dataclasses.replace(current, cursor=self._cursor(), **changes)  # type: ignore[arg-type]
        self._contacts[key] = contact
        return contact

    def erase(self, key: str) -> Erasure:
        contact = self._contacts.pop(key)
        erasure = Erasure(key=key, email=contact.email, cursor=self._cursor())
        self._erasures.append(erasure)
        return erasure

    def all(self) -> list[Contact]:
        return sorted(self._contacts.values(), key=lambda c: c.cursor)

    async def describe_fields(self) -> list[FieldSpec]:
        return list(self.fields)

    async def contacts(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Contact]]:
        selected = [c for c in self.all() if after is None or c.cursor > after]
        for start in range(0, len(selected), page_size):
            yield selected[start : start + page_size]

    async def erasures(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Erasure]]:
        selected = [e for e in self._erasures if after is None or e.cursor > after]
        for start in range(0, len(selected), page_size):
            yield selected[start : start + page_size]

    async def apply(self, change: InboundChange) -> None:
        self.applied.append(change)

    async def count_contacts(self, *, after: str | None) -> int:
        return sum(1 for c in self._contacts.values() if after is None or c.cursor > after)
