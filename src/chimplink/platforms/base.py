"""The other side of the integration: what a platform gives chimplink and takes back.

A connector is how chimplink reads a platform's contacts and writes back what
changed in Mailchimp. Three come built in (`sql`, `push`, `demo`); a platform
can also write its own in Python by implementing `Connector`.

Contacts are read in pages ordered by a *change cursor*: an opaque string that
only grows (e.g. `updated_at` plus the key, or a sequence number). The sync
engine stores the cursor of the last contact Mailchimp acknowledged and asks
for the contacts after it, so a crash never skips a contact (the cursor never
passes an unacknowledged write) and a re-run re-reads at most one chunk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

FieldValue = str | int | float | bool | None


class Consent(StrEnum):
    """What the platform recorded about marketing consent.

    Only `GRANTED` may ever lead to `subscribed`, and only for a new member
    (`status_if_new`, REFERENCE.md §8.2; reliability.md §3.3).
    """

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    UNKNOWN = "unknown"


class FieldType(StrEnum):
    """Platform field types, chosen to map onto Mailchimp merge-field types (§8.5)."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"  # YYYY-MM-DD
    BIRTHDAY = "birthday"  # MM/DD
    PHONE = "phone"
    URL = "url"
    ZIP = "zip"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One platform field that can be mapped to a merge field."""

    name: str
    type: FieldType = FieldType.TEXT
    label: str = ""


@dataclass(frozen=True, slots=True)
class Contact:
    """One contact as the platform holds it.

    `key` is the platform's stable id (it survives email changes); `labels`
    are the platform's segments or labels, synced as Mailchimp tags.
    """

    key: str
    email: str
    consent: Consent
    cursor: str
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    labels: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Erasure:
    """A contact the platform erased (GDPR): never sent again; deleted
    permanently in Mailchimp when the operator enables it."""

    key: str
    email: str
    cursor: str


# -- what comes back from Mailchimp (applied by the inbound processor) -------------


@dataclass(frozen=True, slots=True)
class ConsentWithdrawn:
    """The person unsubscribed, or Mailchimp cleaned the address (bounces, abuse)."""

    key: str
    reason: str  # "unsubscribed" | "cleaned"


@dataclass(frozen=True, slots=True)
class ProfileChanged:
    """Profile fields changed in Mailchimp, already mapped back to platform field names."""

    key: str
    fields: Mapping[str, FieldValue]


@dataclass(frozen=True, slots=True)
class EmailChanged:
    key: str
    new_email: str


InboundChange = ConsentWithdrawn | ProfileChanged | EmailChanged


class ConnectorError(Exception):
    """The platform's data or configuration cannot be read; the message says why."""


@runtime_checkable
class Connector(Protocol):
    """What chimplink needs from a platform."""

    name: str

    async def describe_fields(self) -> list[FieldSpec]:
        """The fields contacts carry, for the mapping form."""
        ...

    def contacts(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Contact]]:
        """Pages of contacts with a cursor greater than `after`, in cursor order."""
        ...

    def erasures(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Erasure]]:
        """Pages of erased contacts after `after`, in cursor order (empty if unsupported)."""
        ...

    async def apply(self, change: InboundChange) -> None:
        """Write a change made in Mailchimp back to the platform. Must be idempotent."""
        ...


# -- files: an optional capability, apart from `Connector` -------------------------------


@dataclass(frozen=True, slots=True)
class Photo:
    """One photo (or any file) as the platform holds it, without its bytes.

    `name` is the file name shown to people, with its extension when it has
    one; `cursor` grows with every change to the photo (bytes, name, album),
    like a contact's. `content_hash` is the SHA-256 (hex) of the bytes when the
    platform keeps it: chimplink can then tell an unchanged photo without
    reading it. `width` and `height` are 0 when unknown.
    """

    key: str
    name: str
    album: str | None
    content_type: str
    size: int
    cursor: str
    content_hash: str | None = None
    width: int = 0
    height: int = 0


@runtime_checkable
class PhotoLibrary(Protocol):
    """What chimplink needs from a platform that holds photos (REFERENCE.md §1's
    photo editor): list them, read their bytes, and write photos pulled from
    Mailchimp's File Manager. A connector may implement it besides `Connector`.
    """

    name: str

    def photos(
        self, *, after: str | None, page_size: int, album: str | None = None
    ) -> AsyncIterator[list[Photo]]:
        """Pages of photos with a cursor greater than `after`, in cursor order
        (only those of `album` when given)."""
        ...

    async def get_photo(self, key: str) -> Photo | None:
        """One photo's metadata; None when there is no photo with that key."""
        ...

    async def read_photo(self, key: str) -> bytes:
        """The photo's bytes; `ConnectorError` when it is gone."""
        ...

    async def write_photo(
        self, *, name: str, data: bytes, album: str | None = None, key: str | None = None
    ) -> Photo:
        """Store a photo: a new one (`key` None), or new bytes and name for `key`."""
        ...
