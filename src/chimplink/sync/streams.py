"""The platform's streams, read from a checkpoint in chunks (meltano's streams, small).

A stream is a name (its checkpoint's key in `sync_checkpoints`) and a way to
read pages after a cursor. Pages come in any size; the engine works in
chunks of at most `size` records (batch subscribe takes 500, REFERENCE.md §8.3).

A contact that changes while a run reads the platform shows up again later
in cursor order (its cursor grew); within one chunk only its newest version
is kept, and the runner serializes chunks that share a contact, so an older
version can never overwrite a newer one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol, TypeVar, runtime_checkable

from chimplink.platforms import Connector, Contact, Erasure

__all__ = [
    "CONTACTS",
    "ERASURES",
    "CountingConnector",
    "chunks",
    "count_contacts",
    "latest_per_key",
    "read_contacts",
    "read_erasures",
]

CONTACTS = "contacts"
ERASURES = "erasures"

T = TypeVar("T")


@runtime_checkable
class CountingConnector(Protocol):
    """Optional: a connector that can count contacts cheaply (for the progress total)."""

    async def count_contacts(self, *, after: str | None) -> int: ...


async def chunks(pages: AsyncIterator[list[T]], size: int) -> AsyncIterator[list[T]]:
    """Re-cut pages of any size into lists of at most `size` (never empty)."""
    if size < 1:
        raise ValueError("size must be >= 1")
    buffer: list[T] = []
    async for page in pages:
        buffer.extend(page)
        while len(buffer) >= size:
            yield buffer[:size]
            buffer = buffer[size:]
    if buffer:
        yield buffer


def latest_per_key(contacts: Sequence[Contact]) -> list[Contact]:
    """One contact per key, the last seen (the newest cursor), in cursor order."""
    last = {contact.key: index for index, contact in enumerate(contacts)}
    if len(last) == len(contacts):
        return list(contacts)
    return [c for index, c in enumerate(contacts) if last[c.key] == index]


def read_contacts(
    connector: Connector, *, after: str | None, size: int
) -> AsyncIterator[list[Contact]]:
    return chunks(connector.contacts(after=after, page_size=size), size)


def read_erasures(
    connector: Connector, *, after: str | None, size: int
) -> AsyncIterator[list[Erasure]]:
    return chunks(connector.erasures(after=after, page_size=size), size)


async def count_contacts(connector: Connector, *, after: str | None) -> int | None:
    if isinstance(connector, CountingConnector):
        return await connector.count_contacts(after=after)
    return None
