"""`SqlConnector`: contacts from any database SQLAlchemy reaches, by a mapping file.

What it does with rows that are not clean (each case is tested):

- **no key** (NULL, or empty text): left out — without a key a contact cannot
  be tracked, resumed or written back — and counted in a warning log line,
  `sql.rows_without_key`, each time contacts are read;
- **no email** (NULL) or a bad one: yielded with the email as it is (`""` for
  NULL); the sync engine records an "invalid email" outcome for that record;
- **NULL cursor column**: yielded first, in key order, before every row that
  has one (see `cursor.py`); an incremental run started after them sees them
  again only when the platform sets the column;
- **consent** that is NULL or in neither list: `Consent.UNKNOWN` (never
  subscribed);
- **a field value that does not fit its type** (`"n/a"` in a number column):
  passed on as its text; Mailchimp judges it for that record;
- **a key that cannot be encoded** (text in an SQLite INTEGER column): left
  out, with a warning naming the key, and paging continues past it;
- **duplicate keys**: both rows are yielded; the key column should be unique
  (a primary key), or rows sharing a key and a timestamp may be missed at a
  page boundary.

Pages are read with keyset pagination, one short connection per page, so no
transaction stays open while the engine talks to Mailchimp and memory holds
one page. The connector is read-only unless the mapping has `[write_back]`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import URL, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from chimplink.platforms.base import (
    ConnectorError,
    Consent,
    ConsentWithdrawn,
    Contact,
    EmailChanged,
    Erasure,
    FieldSpec,
    FieldValue,
    InboundChange,
    ProfileChanged,
)
from chimplink.platforms.mapping_file import (
    MappingFile,
    SqlMapping,
    load_mapping,
    normalize_consent_value,
)
from chimplink.platforms.sql.cursor import Position
from chimplink.platforms.sql.engine import platform_engine
from chimplink.platforms.sql.schema import ResolvedMapping, SourceTable, resolve
from chimplink.platforms.sql.values import to_column_value, to_field_value

__all__ = ["SqlConnector"]

_log = structlog.get_logger("chimplink.platforms")

Column = sa.Column[Any]
# Where `_pages` puts things in a row.
_ORDER, _KEY, _FIRST_COLUMN = 0, 1, 2
# Keys per IN (...) list when reading join-table tags: far below every database's limit.
_IN_CHUNK = 500


class SqlConnector:
    """A `Connector` over one table; build it with `await SqlConnector.open(...)`."""

    name = "sql"

    def __init__(self, *, engine: AsyncEngine, resolved: ResolvedMapping, owns_engine: bool):
        self._engine = engine
        self._r = resolved
        self._owns_engine = owns_engine
        raw = resolved.dialect == "sqlite"
        # On SQLite a cell holds whatever was written, whatever the declared type: read
        # it untouched (a malformed date must not abort the page) and convert it here.
        self._selected: dict[str, ColumnElement[Any]] = {}
        for column in self._contact_columns():
            expression: ColumnElement[Any] = (
                sa.type_coerce(column, sa.types.NullType()) if raw else column
            )
            self._selected[column.name] = expression.label(f"c{len(self._selected)}")
        # Rows are read by position (`_pages` puts order and key first): a row's
        # `_mapping` costs a dict per access, and this runs for every cell of a sync.
        self._position = {name: _FIRST_COLUMN + i for i, name in enumerate(self._selected)}
        self._field_positions = [
            (f.name, f.spec.type, self._position[f.column.name]) for f in resolved.fields
        ]

    @classmethod
    async def open(
        cls,
        database: str | URL | Path | AsyncEngine,
        *,
        mapping: MappingFile | str | Path,
    ) -> Self:
        """Check `mapping` against the database; `ConnectorError` names each bad line.

        `database` is a URL (any driver; blocking SQLite and PostgreSQL drivers are
        swapped for async ones) or an engine the caller keeps owning.
        """
        file = mapping if isinstance(mapping, MappingFile) else load_mapping(mapping)
        if isinstance(database, AsyncEngine):
            engine, owns = database, False
        else:
            engine, owns = platform_engine(database), True
        try:
            resolved = await resolve(engine, file)
        except BaseException:
            if owns:
                await engine.dispose()
            raise
        return cls(engine=engine, resolved=resolved, owns_engine=owns)

    async def aclose(self) -> None:
        if self._owns_engine:
            await self._engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def mapping(self) -> SqlMapping:
        return self._r.file.mapping

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def writable(self) -> bool:
        """Whether `apply` writes anything (the mapping has `[write_back]`)."""
        write_back = self.mapping.write_back
        return write_back is not None and write_back.configured

    # -- reading ----------------------------------------------------------------------

    async def describe_fields(self) -> list[FieldSpec]:
        return [
            FieldSpec(name=f.name, type=f.spec.type, label=f.spec.label or f.name)
            for f in self._r.fields
        ]

    async def contacts(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Contact]]:
        source = self._r.contacts
        where = [sa.not_(self._erased())] if self._r.erasure_flag is not None else []
        await self._warn_missing_keys(source, where)
        async for page in _pages(
            self._engine,
            source,
            after=after,
            page_size=page_size,
            columns=list(self._selected.values()),
            where=where,
        ):
            labels = await self._joined_labels([row[_KEY] for _, row in page])
            contacts = []
            for cursor, row in page:
                contact = self._contact(cursor, row, labels)
                if contact is not None:
                    contacts.append(contact)
            if contacts:
                yield contacts

    async def count_contacts(self, *, after: str | None) -> int:
        """How many contacts `contacts(after=...)` would yield (for progress and size checks)."""
        source = self._r.contacts
        position = source.codec.decode(after) if after is not None else None
        query = (
            sa.select(sa.func.count())
            .select_from(source.table)
            .where(*_has_key(source), *_after(source, position))
        )
        if self._r.erasure_flag is not None:
            query = query.where(sa.not_(self._erased()))
        async with self._engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def erasures(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Erasure]]:
        _check_page_size(page_size)
        if self._r.erasure_flag is not None:
            source = self._r.contacts
            email: ColumnElement[Any] | None = self._selected[self._r.email.name]
            where = [self._erased()]
        elif self._r.erasures is not None:
            source = self._r.erasures
            column = self._r.erasure_email
            email = column.label("c_email") if column is not None else None
            where = []
        else:
            return
        columns = [email] if email is not None else []
        async for page in _pages(
            self._engine, source, after=after, page_size=page_size, columns=columns, where=where
        ):
            erasures = []
            for cursor, row in page:
                key = _platform_key(source, row[_KEY])
                if key is not None:
                    address = row[_FIRST_COLUMN] if email is not None else None
                    erasures.append(Erasure(key=key, email=_text(address), cursor=cursor))
            if erasures:
                yield erasures

    def _contact_columns(self) -> list[Column]:
        r = self._r
        columns = [r.email, *(f.column for f in r.fields)]
        if r.consent is not None:
            columns.append(r.consent)
        if r.tags_column is not None:
            columns.append(r.tags_column)
        unique: dict[str, Column] = {}
        for column in columns:
            unique.setdefault(column.name, column)
        return list(unique.values())

    def _value(self, row: Row[Any], column: Column) -> Any:
        return row[self._position[column.name]]

    def _contact(
        self, cursor: str, row: Row[Any], labels: dict[object, set[str]]
    ) -> Contact | None:
        r = self._r
        key = _platform_key(r.contacts, row[_KEY])
        if key is None:
            return None
        fields: dict[str, FieldValue] = {
            name: to_field_value(kind, row[position])
            for name, kind, position in self._field_positions
        }
        if r.tags_column is not None:
            separator = self.mapping.tags.separator if self.mapping.tags else ","
            cell = self._value(row, r.tags_column)
            found = {part.strip() for part in _text(cell).split(separator)} - {""}
        else:
            found = labels.get(row[_KEY], set())
        return Contact(
            key=key,
            email=_text(self._value(row, r.email)),
            consent=self._consent(self._value(row, r.consent) if r.consent is not None else None),
            cursor=cursor,
            fields=fields,
            labels=frozenset(found),
        )

    def _consent(self, value: object) -> Consent:
        if value is None:
            return Consent.UNKNOWN
        normalized = normalize_consent_value(value)
        if normalized in self._r.granted:
            return Consent.GRANTED
        if normalized in self._r.withdrawn:
            return Consent.WITHDRAWN
        return Consent.UNKNOWN

    async def _joined_labels(self, keys: Sequence[object]) -> dict[object, set[str]]:
        join = self._r.tags_join
        found: dict[object, set[str]] = {}
        if join is None or not keys:
            return found
        async with self._engine.connect() as connection:
            for start in range(0, len(keys), _IN_CHUNK):
                chunk = list(keys[start : start + _IN_CHUNK])
                result = await connection.execute(
                    sa.select(join.key, join.label).where(join.key.in_(chunk))
                )
                for key, label in result:
                    text = _text(label).strip()
                    if text:
                        found.setdefault(key, set()).add(text)
        return found

    def _erased(self) -> ColumnElement[bool]:
        """Rows the flag column marks as erased: true, non-zero, non-empty, or any timestamp."""
        flag = self._r.erasure_flag
        assert flag is not None
        kind = flag.type
        condition: ColumnElement[bool]
        if isinstance(kind, sa.Boolean):
            condition = flag == sa.true()
        elif isinstance(kind, sa.Integer | sa.Numeric | sa.Float):
            condition = flag != 0
        elif isinstance(kind, sa.String):
            condition = flag != ""
        else:
            condition = sa.true()
        return sa.and_(flag.is_not(None), condition)

    async def _warn_missing_keys(
        self, source: SourceTable, where: Sequence[ColumnElement[bool]]
    ) -> None:
        if not source.key_may_be_missing:
            return
        query = sa.select(sa.func.count()).select_from(source.table).where(*where)
        query = query.where(sa.or_(source.key.is_(None), *_empty_text(source)))
        async with self._engine.connect() as connection:
            missing = (await connection.execute(query)).scalar_one()
        if missing:
            _log.warning(
                "sql.rows_without_key",
                table=source.table.name,
                column=source.key.name,
                rows=missing,
                detail="rows without a key are not synced",
            )

    # -- writing back -------------------------------------------------------------------

    async def apply(self, change: InboundChange) -> None:
        """Write Mailchimp's change to the row; a no-op when the row already says so.

        Raises ConnectorError when write-back is not configured for this kind of
        change, a field is not mapped at all, or a value cannot be stored. Mapped
        fields not listed in `write_back.fields` are left alone (the operator chose
        not to take them back). A key with no row (deleted or erased on the
        platform since) is a no-op, logged: there is nothing to update. With
        `touch` (the default for an `updated_at` cursor) a row that changed gets
        an `updated_at` after every other row's, so it moves past any cursor.
        """
        write_back = self.mapping.write_back
        source_name = self._r.file.source
        if write_back is None or not write_back.configured:
            raise ConnectorError(
                f"write-back is not configured: add a [write_back] section to {source_name} "
                "to let chimplink write Mailchimp's changes to the platform"
            )
        r = self._r
        wanted: dict[str, tuple[Column, Any]] = {}  # column name → (column, field type or None)
        match change:
            case ConsentWithdrawn():
                if write_back.consent is None or r.consent is None:
                    raise ConnectorError(
                        f"consent write-back is not configured: set write_back.consent "
                        f"in {source_name}"
                    )
                wanted[r.consent.name] = (r.consent, None)
            case EmailChanged():
                if not write_back.email:
                    raise ConnectorError(
                        f"email write-back is not configured: set write_back.email = true "
                        f"in {source_name}"
                    )
                wanted[r.email.name] = (r.email, None)
            case ProfileChanged():
                mapped = {f.name: f for f in r.fields}
                unknown = sorted(set(change.fields) - set(mapped))
                if unknown:
                    raise ConnectorError(
                        f"unknown platform fields {', '.join(map(repr, unknown))} "
                        f"(mapped in {source_name}: {', '.join(sorted(mapped)) or 'none'})"
                    )
                for name in change.fields:
                    if name in write_back.fields:
                        wanted[mapped[name].column.name] = (mapped[name].column, mapped[name])
                if not wanted:
                    return
        try:
            key = r.contacts.codec.key.database_key(change.key)
        except ValueError as exc:
            raise ConnectorError(f"{change.key!r} is not a key of {r.contacts.table.name}") from exc
        table, key_column = r.contacts.table, r.contacts.key
        columns = [column for column, _ in wanted.values()]
        try:
            async with self._engine.begin() as connection:
                query = sa.select(*(self._raw(c) for c in columns)).where(key_column == key)
                if r.erasure_flag is not None:
                    query = query.where(sa.not_(self._erased()))
                row = (await connection.execute(query.with_for_update())).first()
                if row is None:
                    _log.info(
                        "sql.apply_without_row", table=table.name, change=type(change).__name__
                    )
                    return
                current = dict(zip([c.name for c in columns], row, strict=True))
                updates = self._updates(change, wanted, current)
                if not updates:
                    return
                if write_back.touch is not False and self.mapping.updated_at is not None:
                    updates[r.contacts.cursor.name] = await self._touch_value(connection)
                await connection.execute(sa.update(table).where(key_column == key).values(updates))
        except IntegrityError as exc:
            raise ConnectorError(
                f"the platform refused the change to {table.name} key {change.key!r}: {exc.orig}"
            ) from exc

    def _raw(self, column: Column) -> ColumnElement[Any]:
        if self._r.dialect == "sqlite":
            return sa.type_coerce(column, sa.types.NullType()).label(column.name)
        return column

    def _updates(
        self, change: InboundChange, wanted: dict[str, tuple[Column, Any]], current: dict[str, Any]
    ) -> dict[str, Any]:
        write_back = self.mapping.write_back
        assert write_back is not None
        updates: dict[str, Any] = {}
        match change:
            case ConsentWithdrawn():
                column = self._r.consent
                assert column is not None
                if self._consent(current[column.name]) is not Consent.WITHDRAWN:
                    updates[column.name] = write_back.consent
            case EmailChanged():
                if _text(current[self._r.email.name]) != change.new_email:
                    updates[self._r.email.name] = change.new_email
            case ProfileChanged():
                for name, (column, mapped) in wanted.items():
                    value = change.fields[mapped.name]
                    stored = to_column_value(column, mapped.spec.type, value, current=current[name])
                    before = to_field_value(mapped.spec.type, current[name])
                    after = to_field_value(mapped.spec.type, stored)
                    if before != after:
                        updates[name] = stored
        return updates

    async def _touch_value(self, connection: AsyncConnection) -> Any:
        """A time after every row's, so the changed row moves past any cursor."""
        column = self._r.contacts.cursor
        now = datetime.now(UTC)
        if self._r.dialect == "sqlite":
            stored = (
                await connection.execute(
                    sa.select(sa.func.max(sa.type_coerce(column, sa.String())))
                )
            ).scalar()
            return sa.literal(_sqlite_stamp(stored, now), type_=sa.String())
        latest: object = (await connection.execute(sa.select(sa.func.max(column)))).scalar()
        aware = bool(getattr(column.type, "timezone", False))
        moment = now if aware else now.replace(tzinfo=None)
        if isinstance(latest, datetime):
            if (latest.tzinfo is not None) != (moment.tzinfo is not None):
                latest = (
                    latest.replace(tzinfo=UTC)
                    if latest.tzinfo is None
                    else latest.astimezone(UTC).replace(tzinfo=None)
                )
            moment = max(moment, latest + timedelta(microseconds=1))
        return moment


async def _pages(
    engine: AsyncEngine,
    source: SourceTable,
    *,
    after: str | None,
    page_size: int,
    columns: Sequence[ColumnElement[Any]],
    where: Sequence[ColumnElement[bool]],
) -> AsyncIterator[list[tuple[str, Row[Any]]]]:
    """Pages of (cursor, row) after `after`: rows with a NULL cursor column first."""
    _check_page_size(page_size)
    codec = source.codec
    position = codec.decode(after) if after is not None else None
    order = codec.order.expression(source.cursor)
    key = codec.key.expression(source.key)
    base = sa.select(order.label("_order"), source.key.label("_key"), *columns).where(
        *where, *_has_key(source)
    )
    if source.cursor.nullable and (position is None or position.in_nulls):
        last = position.key if position is not None else None
        while True:
            query = base.where(source.cursor.is_(None))
            if last is not None:
                query = query.where(key > last)
            rows = await _fetch(engine, query.order_by(key).limit(page_size))
            if rows:
                last = rows[-1][_KEY]
                yield _with_cursors(source, rows)
            if len(rows) < page_size:
                break
        position = None
    while True:
        query = base.where(source.cursor.is_not(None))
        if position is not None:
            # `order >= :o AND (...)` lets an index on (order, key) bound the scan.
            query = query.where(
                order >= position.order, sa.or_(order > position.order, key > position.key)
            )
        rows = await _fetch(engine, query.order_by(order, key).limit(page_size))
        if rows:
            position = Position(in_nulls=False, order=rows[-1][_ORDER], key=rows[-1][_KEY])
            yield _with_cursors(source, rows)
        if len(rows) < page_size:
            return


def _after(source: SourceTable, position: Position | None) -> list[ColumnElement[bool]]:
    """The rows `_pages` reads after `position`, as one condition (for counting)."""
    if position is None:
        return []
    order = source.codec.order.expression(source.cursor)
    key = source.codec.key.expression(source.key)
    if position.in_nulls:
        return [
            sa.or_(sa.and_(source.cursor.is_(None), key > position.key), source.cursor.is_not(None))
        ]
    return [order >= position.order, sa.or_(order > position.order, key > position.key)]


def _has_key(source: SourceTable) -> list[ColumnElement[bool]]:
    return [source.key.is_not(None), *(sa.not_(c) for c in _empty_text(source))]


async def _fetch(engine: AsyncEngine, query: sa.Select[Any]) -> list[Row[Any]]:
    async with engine.connect() as connection:
        return list((await connection.execute(query)).all())


def _with_cursors(source: SourceTable, rows: list[Row[Any]]) -> list[tuple[str, Row[Any]]]:
    page = []
    for row in rows:
        try:
            cursor = source.codec.encode(row[_ORDER], row[_KEY])
        except ValueError as exc:
            _log.warning(
                "sql.row_skipped", table=source.table.name, key=repr(row[_KEY]), reason=str(exc)
            )
            continue
        page.append((cursor, row))
    return page


def _platform_key(source: SourceTable, value: object) -> str | None:
    try:
        return source.codec.key.platform_key(value)
    except ValueError as exc:
        _log.warning("sql.row_skipped", table=source.table.name, key=repr(value), reason=str(exc))
        return None


def _empty_text(source: SourceTable) -> list[ColumnElement[bool]]:
    return [source.key == ""] if source.codec.key.kind == "text" else []


def _check_page_size(page_size: int) -> None:
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, not {page_size}")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def _sqlite_stamp(latest: object, now: datetime) -> str:
    """`now` (or just after `latest`) written the way the column's latest value is."""
    moment = now.astimezone(UTC).replace(tzinfo=None)
    text = latest if isinstance(latest, str) else ""
    if text:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(UTC).replace(tzinfo=None)
            moment = max(moment, parsed + timedelta(microseconds=1))
    separator = "T" if "T" in text else " "
    return moment.isoformat(sep=separator, timespec="microseconds") + (
        "Z" if text.endswith("Z") else ""
    )
