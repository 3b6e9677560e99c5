"""`DemoConnector`: the demo platform seen through the `Connector` protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import sqlalchemy as sa

from chimplink.platforms.base import (
    ConnectorError,
    ConsentWithdrawn,
    Contact,
    EmailChanged,
    Erasure,
    FieldSpec,
    InboundChange,
    ProfileChanged,
)
from chimplink.platforms.demo.photos import PhotoLibraryMethods
from chimplink.platforms.demo.schema import DEMO_FIELDS, contacts, erasures

if TYPE_CHECKING:
    from chimplink.platforms.demo.platform import DemoPlatform

__all__ = ["DemoConnector"]


class DemoConnector(PhotoLibraryMethods):
    """Contacts in `seq` order; the cursor is `seq` zero-padded to 12 digits.

    Also a `PhotoLibrary` (photos.py): the platform's photos, in their own `seq` order.

    Every contact has a key and an email (the table says NOT NULL); emails made
    invalid on purpose (`invalid_share`) are yielded as they are, for the sync
    engine to record as per-record failures.
    """

    name = "demo"

    def __init__(self, platform: DemoPlatform) -> None:
        self._platform = platform

    async def describe_fields(self) -> list[FieldSpec]:
        return list(DEMO_FIELDS)

    async def contacts(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Contact]]:
        _check_page_size(page_size)
        last = _decode(after)
        while True:
            # One short read per page: nothing stays open while the engine works.
            page = await self._platform._read_contacts(
                self._platform._contacts_after(last), limit=page_size
            )
            if page:
                last = int(page[-1].cursor)
                yield page
            if len(page) < page_size:
                return

    async def count_contacts(self, *, after: str | None) -> int:
        """How many contacts `contacts(after=...)` would yield (for progress and size checks)."""
        query = (
            sa.select(sa.func.count()).select_from(contacts).where(contacts.c.seq > _decode(after))
        )
        async with self._platform.engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def erasures(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Erasure]]:
        _check_page_size(page_size)
        last = _decode(after)
        while True:
            query = (
                sa.select(erasures).where(erasures.c.seq > last).order_by(erasures.c.seq)
            ).limit(page_size)
            async with self._platform.engine.connect() as connection:
                rows = (await connection.execute(query)).all()
            if rows:
                last = rows[-1].seq
                yield [
                    Erasure(key=str(row.contact_id), email=row.email, cursor=encode_cursor(row.seq))
                    for row in rows
                ]
            if len(rows) < page_size:
                return

    async def apply(self, change: InboundChange) -> None:
        """Consent withdrawn, profile fields, email changes; a repeat changes nothing.

        A key with no contact (erased since) is a no-op: erasure wins, nothing is
        recreated.
        """
        key = parse_key(change.key)
        platform = self._platform
        match change:
            case ConsentWithdrawn(reason=reason):
                await platform._withdraw(key, source=f"mailchimp:{reason}")
            case ProfileChanged(fields=fields):
                await platform._update(key, fields, missing_ok=True)
            case EmailChanged(new_email=email):
                await platform._change_email(key, email, missing_ok=True)


def encode_cursor(seq: int) -> str:
    return f"{seq:012d}"


def _decode(after: str | None) -> int:
    if after is None:
        return 0
    if len(after) != 12 or not after.isascii() or not after.isdigit():
        raise ConnectorError(f"the cursor {after!r} was not made by the demo platform")
    return int(after)


def parse_key(key: str) -> int:
    if not key.isascii() or not key.isdigit():
        raise ConnectorError(f"{key!r} is not a demo contact key")
    return int(key)


def _check_page_size(page_size: int) -> None:
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, not {page_size}")
