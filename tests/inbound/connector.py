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
from collections.abc import Collection, Iterable, Mapping

from chimplink.platforms import (
    ConnectorError,
    Consent,
    ConsentWithdrawn,
    Contact,
    EmailChanged,
    FieldSpec,
    InboundChange,
    ProfileChanged,
)
from tests.sync.connector import DEFAULT_FIELDS, DEFAULT_MAP, MemoryConnector

FIELDS = DEFAULT_FIELDS
FIELD_MAP = DEFAULT_MAP


class MemoryPlatform(MemoryConnector):
    """The sync tests' in-memory connector, with `apply` really writing back."""

    def __init__(self, fields: Iterable[FieldSpec] = FIELDS) -> None:
        super().__init__(fields)
        self.calls: list[InboundChange] = []
        self.effective: list[InboundChange] = []
        self.refuse: type[InboundChange] | None = None  # apply raises for this kind

    def remove(self, key: str) -> None:
        del self._contacts[key]

    def __getitem__(self, key: str) -> Contact:
        return self._contacts[key]

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
