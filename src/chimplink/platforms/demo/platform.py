"""`DemoPlatform`: a sample platform on SQLite, used by `make demo` and the tests.

It plays the platform's side of the story: it holds contacts (generated with
`create`), changes them the way a shop's back office would (`edit`,
`withdraw_consent`, `change_email`, `add_label`, `erase`, …), keeps a photo
library (`platform.photos`, photos.py), and hands a `DemoConnector` to
chimplink. Every change bumps `updated_at` and takes the next change
sequence, so it moves the contact past any cursor; a change that changes
nothing (a repeat) bumps nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import URL, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

from chimplink.platforms.base import (
    ConnectorError,
    Consent,
    Contact,
    Erasure,
    FieldValue,
)
from chimplink.platforms.demo.connector import DemoConnector, encode_cursor, parse_key
from chimplink.platforms.demo.generate import LABELS, generate_contacts
from chimplink.platforms.demo.photos import DemoPhotos, insert_generated_photos
from chimplink.platforms.demo.schema import (
    CHANGE_COUNTER,
    DEMO_FIELDS,
    contact_labels,
    contacts,
    counters,
    erasures,
    labels,
    metadata,
)
from chimplink.platforms.sql.engine import platform_engine
from chimplink.platforms.sql.values import to_column_value, to_field_value

__all__ = ["DemoPlatform"]

_log = structlog.get_logger("chimplink.platforms")

_FIELD_TYPES = {spec.name: spec.type for spec in DEMO_FIELDS}
# Rows per INSERT batch while generating: big enough to amortize, small enough for memory.
_BATCH = 5_000
_IN_CHUNK = 500


class DemoPlatform:
    """A demo platform database; build it with `create` (new) or `open` (existing)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.photos = DemoPhotos(engine)

    @classmethod
    async def create(
        cls,
        url: str | URL | Path,
        *,
        contacts: int,
        seed: int = 7,
        invalid_share: float = 0.0,
        photos: int = 0,
        photo_bytes: int | None = None,
    ) -> Self:
        """A fresh demo database at `url` (a file path or an SQLite URL), replacing one there.

        The same `seed` gives the same contacts; `invalid_share` of them get an
        invalid or fake email on purpose. `photos` generated photos fill the
        library (drawings, or noise of about `photo_bytes` each when given).
        """
        generated = generate_contacts(count=contacts, seed=seed, invalid_share=invalid_share)
        engine = _demo_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(metadata.drop_all)
                await connection.run_sync(metadata.create_all)
                await connection.execute(
                    labels.insert(), [{"id": i, "name": n} for i, n in enumerate(LABELS, 1)]
                )
                label_ids = {name: i for i, name in enumerate(LABELS, 1)}
                rows: list[dict[str, Any]] = []
                links: list[dict[str, Any]] = []
                for contact in generated:
                    rows.append(
                        {
                            "id": contact.id,
                            "email": contact.email,
                            "first_name": contact.first_name,
                            "last_name": contact.last_name,
                            "company": contact.company,
                            "phone": contact.phone,
                            "birthday": contact.birthday,
                            "signup_date": contact.signup_date,
                            "plan": contact.plan,
                            "lifetime_value": contact.lifetime_value,
                            "marketing_consent": contact.consent.value,
                            "consent_source": contact.consent_source,
                            "updated_at": contact.updated_at,
                            "seq": contact.id,
                        }
                    )
                    links += [
                        {"contact_id": contact.id, "label_id": label_ids[label]}
                        for label in contact.labels
                    ]
                    if len(rows) == _BATCH:
                        await _insert(connection, rows, links)
                        rows, links = [], []
                await _insert(connection, rows, links)
                await connection.execute(
                    counters.insert().values(name=CHANGE_COUNTER, value=contacts)
                )
                await insert_generated_photos(
                    connection, count=photos, seed=seed, target_bytes=photo_bytes
                )
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    @classmethod
    async def open(cls, url: str | URL | Path) -> Self:
        """An existing demo database; `ConnectorError` when `url` holds none."""
        engine = _demo_engine(url)
        try:
            async with engine.connect() as connection:
                found = await connection.run_sync(
                    lambda sync: set(sa.inspect(sync).get_table_names())
                )
        except BaseException:
            await engine.dispose()
            raise
        missing = set(metadata.tables) - found
        if missing == {"photos"}:
            # Made before the demo had photos: add the (empty) library.
            async with engine.begin() as connection:
                await connection.run_sync(metadata.tables["photos"].create)
            missing = set()
        if missing:
            await engine.dispose()
            raise ConnectorError(
                f"{engine.url.render_as_string(hide_password=True)} is not a demo platform "
                f"database (no {', '.join(sorted(missing))} table); create one with "
                "DemoPlatform.create"
            )
        return cls(engine)

    async def aclose(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def connector(self) -> DemoConnector:
        """The platform as chimplink sees it (shares this platform's engine)."""
        return DemoConnector(self)

    # -- reading ----------------------------------------------------------------------

    async def get(self, key: str) -> Contact | None:
        found = await self._read_contacts(_READ.where(contacts.c.id == parse_key(key)), limit=1)
        return found[0] if found else None

    async def find_by_email(self, email: str) -> Contact | None:
        found = await self._read_contacts(_READ.where(contacts.c.email == email), limit=1)
        return found[0] if found else None

    async def find(
        self, *, consent: Consent | None = None, label: str | None = None, limit: int = 10
    ) -> list[Contact]:
        """Contacts in key order, optionally with one consent or one label."""
        query = _READ.order_by(contacts.c.id)
        if consent is not None:
            query = query.where(contacts.c.marketing_consent == consent.value)
        if label is not None:
            query = query.where(
                contacts.c.id.in_(
                    sa.select(contact_labels.c.contact_id)
                    .join(labels, labels.c.id == contact_labels.c.label_id)
                    .where(labels.c.name == label)
                )
            )
        return await self._read_contacts(query, limit=limit)

    async def count(self) -> int:
        async with self.engine.connect() as connection:
            query = sa.select(sa.func.count()).select_from(contacts)
            return int((await connection.execute(query)).scalar_one())

    # -- editing, as the platform's back office would --------------------------------------

    async def edit(self, key: str, **fields: FieldValue) -> Contact:
        """Change profile fields (names from `DEMO_FIELDS`)."""
        await self._update(parse_key(key), fields, missing_ok=False)
        return await self._get(key)

    async def set_consent(self, key: str, consent: Consent, *, source: str = "platform") -> Contact:
        async with self.engine.begin() as connection:
            row = await _row(connection, parse_key(key))
            if row is None:
                raise _unknown(key)
            if row.marketing_consent != consent.value:
                await _bump(
                    connection,
                    row.id,
                    {"marketing_consent": consent.value, "consent_source": source},
                )
        return await self._get(key)

    async def withdraw_consent(self, key: str) -> Contact:
        return await self.set_consent(key, Consent.WITHDRAWN)

    async def grant_consent(self, key: str) -> Contact:
        return await self.set_consent(key, Consent.GRANTED)

    async def change_email(self, key: str, email: str) -> Contact:
        await self._change_email(parse_key(key), email, missing_ok=False)
        return await self._get(key)

    async def add_label(self, key: str, label: str) -> Contact:
        async with self.engine.begin() as connection:
            contact_id = await _existing(connection, key)
            label_id = await _label_id(connection, label, create=True)
            linked = await connection.execute(
                sa.select(contact_labels).where(
                    contact_labels.c.contact_id == contact_id, contact_labels.c.label_id == label_id
                )
            )
            if linked.first() is None:
                await connection.execute(
                    contact_labels.insert().values(contact_id=contact_id, label_id=label_id)
                )
                await _bump(connection, contact_id, {})
        return await self._get(key)

    async def remove_label(self, key: str, label: str) -> Contact:
        async with self.engine.begin() as connection:
            contact_id = await _existing(connection, key)
            label_id = await _label_id(connection, label, create=False)
            if label_id is not None:
                removed = await connection.execute(
                    contact_labels.delete().where(
                        contact_labels.c.contact_id == contact_id,
                        contact_labels.c.label_id == label_id,
                    )
                )
                if removed.rowcount:
                    await _bump(connection, contact_id, {})
        return await self._get(key)

    async def touch(self, key: str) -> Contact:
        """Move a contact past the cursor without changing it (a re-save in the back office)."""
        async with self.engine.begin() as connection:
            await _bump(connection, await _existing(connection, key), {})
        return await self._get(key)

    async def add_contact(
        self,
        email: str,
        *,
        consent: Consent = Consent.UNKNOWN,
        labels: Iterable[str] = (),
        **fields: FieldValue,
    ) -> Contact:
        """A new contact (signup date today, plan `free` unless given)."""
        _check_fields(fields)
        values: dict[str, Any] = {
            "signup_date": datetime.now(UTC).date(),
            "plan": "free",
            "lifetime_value": 0.0,
        }
        for name, value in fields.items():
            values[name] = _stored(name, value, current=None)
        try:
            async with self.engine.begin() as connection:
                seq = await _next_seq(connection)
                result = await connection.execute(
                    contacts.insert()
                    .values(
                        email=email,
                        marketing_consent=consent.value,
                        consent_source="platform",
                        updated_at=_now(),
                        seq=seq,
                        **values,
                    )
                    .returning(contacts.c.id)
                )
                contact_id = int(result.scalar_one())
                for label in dict.fromkeys(labels):
                    label_id = await _label_id(connection, label, create=True)
                    await connection.execute(
                        contact_labels.insert().values(contact_id=contact_id, label_id=label_id)
                    )
        except IntegrityError as exc:
            raise ConnectorError(f"cannot add a contact with email {email!r}: {exc.orig}") from exc
        return await self._get(str(contact_id))

    async def erase(self, key: str) -> Erasure:
        """Erase a contact (GDPR): the row goes, an erasure record stays."""
        async with self.engine.begin() as connection:
            row = await _row(connection, parse_key(key))
            if row is None:
                raise _unknown(key)
            await connection.execute(
                contact_labels.delete().where(contact_labels.c.contact_id == row.id)
            )
            await connection.execute(contacts.delete().where(contacts.c.id == row.id))
            seq = await _next_seq(connection)
            await connection.execute(
                erasures.insert().values(
                    seq=seq, contact_id=row.id, email=row.email, erased_at=_now()
                )
            )
        return Erasure(key=str(row.id), email=row.email, cursor=encode_cursor(seq))

    # -- shared with the connector ------------------------------------------------------

    def _contacts_after(self, seq: int) -> sa.Select[Any]:
        return _READ.where(contacts.c.seq > seq).order_by(contacts.c.seq)

    async def _get(self, key: str) -> Contact:
        found = await self.get(key)
        if found is None:
            raise _unknown(key)
        return found

    async def _read_contacts(self, query: sa.Select[Any], *, limit: int) -> list[Contact]:
        """Contacts for a query built on `_READ`, with their labels."""
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query.limit(limit))).all()
            found: dict[int, set[str]] = {}
            ids = [row[0] for row in rows]
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                result = await connection.execute(
                    sa.select(contact_labels.c.contact_id, labels.c.name)
                    .join(labels, labels.c.id == contact_labels.c.label_id)
                    .where(contact_labels.c.contact_id.in_(chunk))
                )
                for contact_id, name in result:
                    found.setdefault(contact_id, set()).add(name)
        return [_contact(row, found.get(row[0], set())) for row in rows]

    async def _update(
        self, key: int, fields: Mapping[str, FieldValue], *, missing_ok: bool
    ) -> None:
        _check_fields(fields)
        async with self.engine.begin() as connection:
            row = await _row(connection, key)
            if row is None:
                return _missing(key, missing_ok)
            changed: dict[str, Any] = {}
            for name, value in fields.items():
                current = row._mapping[name]
                stored = _stored(name, value, current=current)
                kind = _FIELD_TYPES[name]
                if to_field_value(kind, current) != to_field_value(kind, stored):
                    changed[name] = stored
            if changed:
                await _bump(connection, key, changed)
        return None

    async def _withdraw(self, key: int, *, source: str) -> None:
        async with self.engine.begin() as connection:
            row = await _row(connection, key)
            if row is None:
                return _missing(key, missing_ok=True)
            if row.marketing_consent != Consent.WITHDRAWN.value:
                await _bump(
                    connection,
                    key,
                    {"marketing_consent": Consent.WITHDRAWN.value, "consent_source": source},
                )
        return None

    async def _change_email(self, key: int, email: str, *, missing_ok: bool) -> None:
        try:
            async with self.engine.begin() as connection:
                row = await _row(connection, key)
                if row is None:
                    return _missing(key, missing_ok)
                if row.email != email:
                    await _bump(connection, key, {"email": email})
        except IntegrityError as exc:
            raise ConnectorError(
                f"cannot change contact {key}'s email: another contact has {email!r}"
            ) from exc
        return None


def _demo_engine(url: str | URL | Path) -> AsyncEngine:
    engine = platform_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # Erasing a contact must take its labels along; readers must not block the writer.
        for pragma in (
            "PRAGMA foreign_keys=ON",
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
        ):
            cursor.execute(pragma)
    finally:
        cursor.close()


async def _insert(
    connection: AsyncConnection, rows: Sequence[dict[str, Any]], links: Sequence[dict[str, Any]]
) -> None:
    if rows:
        await connection.execute(contacts.insert(), rows)
    if links:
        await connection.execute(contact_labels.insert(), links)


async def _next_seq(connection: AsyncConnection) -> int:
    result = await connection.execute(
        counters.update()
        .where(counters.c.name == CHANGE_COUNTER)
        .values(value=counters.c.value + 1)
        .returning(counters.c.value)
    )
    return int(result.scalar_one())


async def _bump(connection: AsyncConnection, contact_id: int, values: Mapping[str, Any]) -> None:
    seq = await _next_seq(connection)
    await connection.execute(
        contacts.update()
        .where(contacts.c.id == contact_id)
        .values(**values, updated_at=_now(), seq=seq)
    )


async def _row(connection: AsyncConnection, key: int) -> Row[Any] | None:
    result = await connection.execute(sa.select(contacts).where(contacts.c.id == key))
    return result.first()


async def _existing(connection: AsyncConnection, key: str) -> int:
    row = await _row(connection, parse_key(key))
    if row is None:
        raise _unknown(key)
    return int(row.id)


async def _label_id(connection: AsyncConnection, name: str, *, create: bool) -> int | None:
    found = (await connection.execute(sa.select(labels.c.id).where(labels.c.name == name))).scalar()
    if found is not None or not create:
        return found
    result = await connection.execute(labels.insert().values(name=name).returning(labels.c.id))
    return int(result.scalar_one())


def _contact(row: Row[Any], found: set[str]) -> Contact:
    # Written out field by field: this runs once per contact per sync.
    (key, email, first, last, company, phone, birthday, signup, plan, value, consent, seq) = tuple(
        row
    )
    return Contact(
        key=str(key),
        email=email,
        consent=_CONSENTS.get(consent, Consent.UNKNOWN),
        cursor=encode_cursor(seq),
        fields={
            "first_name": first,
            "last_name": last,
            "company": company,
            "phone": phone,
            "birthday": f"{birthday.month:02d}/{birthday.day:02d}" if birthday else None,
            "signup_date": signup.isoformat(),
            "plan": plan,
            "lifetime_value": value,
        },
        labels=frozenset(found),
    )


_CONSENTS = {consent.value: consent for consent in Consent}
# What `_contact` reads, in its order.
_READ = sa.select(
    contacts.c.id,
    contacts.c.email,
    *(contacts.c[spec.name] for spec in DEMO_FIELDS),
    contacts.c.marketing_consent,
    contacts.c.seq,
)


def _check_fields(fields: Mapping[str, FieldValue]) -> None:
    unknown = sorted(set(fields) - set(_FIELD_TYPES))
    if unknown:
        raise ConnectorError(
            f"the demo platform has no field {', '.join(map(repr, unknown))} "
            f"(fields: {', '.join(_FIELD_TYPES)})"
        )


def _stored(name: str, value: FieldValue, *, current: object) -> object:
    column = contacts.c[name]
    stored = to_column_value(column, _FIELD_TYPES[name], value, current=current)
    if stored is None and not column.nullable:
        raise ConnectorError(f"the demo platform's {name} cannot be empty")
    return stored


def _unknown(key: str | int) -> KeyError:
    return KeyError(f"no demo contact with key {key}")


def _missing(key: int, missing_ok: bool) -> None:
    if not missing_ok:
        raise _unknown(key)
    # Erased or never there: an inbound change must not bring it back.
    _log.info("demo.apply_without_contact", key=key)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
