"""A mapping checked against the database: every table and column it names, reflected.

Reflection runs on the sync side of the async engine (`run_sync`). Every
problem found — a table or column that does not exist, a column whose type
cannot do its job — is reported at the line of the key that names it, all at
once, so one fix-and-retry round finds them all.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from chimplink.platforms.base import ConnectorError
from chimplink.platforms.mapping_file import (
    FieldMapping,
    KeyPath,
    MappingFile,
    MappingProblem,
    normalize_consent_value,
)
from chimplink.platforms.sql.cursor import CursorCodec, cursor_codec

__all__ = ["MappedField", "ResolvedMapping", "SourceTable", "resolve"]

Column = sa.Column[Any]


@dataclass(frozen=True, slots=True)
class SourceTable:
    """A table read page by page in (cursor column, key) order."""

    table: sa.Table
    key: Column
    cursor: Column
    codec: CursorCodec
    # The key may be NULL or empty: such rows are left out (and counted).
    key_may_be_missing: bool


@dataclass(frozen=True, slots=True)
class MappedField:
    name: str
    spec: FieldMapping
    column: Column


@dataclass(frozen=True, slots=True)
class JoinedTags:
    table: sa.Table
    key: Column
    label: Column


@dataclass(frozen=True, slots=True)
class ResolvedMapping:
    file: MappingFile
    dialect: str
    contacts: SourceTable
    email: Column
    consent: Column | None
    fields: tuple[MappedField, ...]
    tags_column: Column | None = None
    tags_join: JoinedTags | None = None
    erasure_flag: Column | None = None
    erasures: SourceTable | None = None
    erasure_email: Column | None = None
    granted: frozenset[str] = field(default_factory=frozenset)
    withdrawn: frozenset[str] = field(default_factory=frozenset)


async def resolve(engine: AsyncEngine, file: MappingFile) -> ResolvedMapping:
    """Reflect what `file` names; MappingError (lines named) when anything is missing."""
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: _Resolver(sync, file).resolve())
    except (DBAPIError, OSError) as exc:
        raise ConnectorError(
            f"cannot read the platform database "
            f"{engine.url.render_as_string(hide_password=True)}: {exc}"
        ) from exc


class _Resolver:
    def __init__(self, connection: Connection, file: MappingFile) -> None:
        self.connection = connection
        self.file = file
        self.mapping = file.mapping
        self.dialect = connection.dialect.name
        self.metadata = sa.MetaData()
        self.problems: list[MappingProblem] = []

    def fail(self, path: KeyPath, message: str) -> None:
        self.problems.append(self.file.problem(path, message))

    def resolve(self) -> ResolvedMapping:
        m = self.mapping
        table = self.table(("table",), m.table)
        if table is None:
            raise self.file.error(self.problems)
        key = self.column(("key",), table, m.key)
        email = self.column(("email",), table, m.email)
        cursor_path: KeyPath = (m.cursor_key,)
        cursor = self.column(cursor_path, table, m.cursor_column)
        consent = self.column(("consent", "column"), table, m.consent.column) if m.consent else None
        fields = []
        for name, spec in m.fields.items():
            column = self.column(("fields", name, "column"), table, spec.column)
            if column is not None:
                fields.append(MappedField(name, spec, column))
        key_kind = self.key_kind(("key",), key)
        self.check_cursor(cursor_path, cursor, sequence=m.sequence is not None)

        tags_column = tags_join = None
        if m.tags is not None and m.tags.column is not None:
            tags_column = self.column(("tags", "column"), table, m.tags.column)
        elif m.tags is not None:
            assert m.tags.table and m.tags.key and m.tags.label  # parse_mapping checked
            join_table = self.table(("tags", "table"), m.tags.table)
            if join_table is not None:
                join_key = self.column(("tags", "key"), join_table, m.tags.key)
                label = self.column(("tags", "label"), join_table, m.tags.label)
                if join_key is not None and label is not None:
                    tags_join = JoinedTags(join_table, join_key, label)

        erasure_flag = erasure_email = None
        erasures: SourceTable | None = None
        if m.erasures is not None and m.erasures.flag is not None:
            erasure_flag = self.column(("erasures", "flag"), table, m.erasures.flag)
        elif m.erasures is not None:
            erasure_spec = m.erasures
            assert erasure_spec.table and erasure_spec.key
            erased_table = self.table(("erasures", "table"), erasure_spec.table)
            if erased_table is not None:
                erased_key = self.column(("erasures", "key"), erased_table, erasure_spec.key)
                if erasure_spec.email is not None:
                    erasure_email = self.column(
                        ("erasures", "email"), erased_table, erasure_spec.email
                    )
                erased_cursor_path: KeyPath = (
                    "erasures",
                    "updated_at" if erasure_spec.updated_at else "sequence",
                )
                erased_cursor = self.column(
                    erased_cursor_path,
                    erased_table,
                    erasure_spec.updated_at or erasure_spec.sequence or "",
                )
                erased_kind = self.key_kind(("erasures", "key"), erased_key)
                self.check_cursor(
                    erased_cursor_path, erased_cursor, sequence=erasure_spec.sequence is not None
                )
                if erased_key is not None and erased_cursor is not None and erased_kind:
                    erasures = SourceTable(
                        table=erased_table,
                        key=erased_key,
                        cursor=erased_cursor,
                        codec=cursor_codec(
                            order_column=erased_cursor,
                            sequence=erasure_spec.sequence is not None,
                            key_kind=erased_kind,
                            dialect=self.dialect,
                        ),
                        key_may_be_missing=True,
                    )
        self.check_write_back(consent)
        if self.problems:
            raise self.file.error(self.problems)
        assert key is not None and email is not None and cursor is not None and key_kind
        contacts = SourceTable(
            table=table,
            key=key,
            cursor=cursor,
            codec=cursor_codec(
                order_column=cursor,
                sequence=m.sequence is not None,
                key_kind=key_kind,
                dialect=self.dialect,
            ),
            key_may_be_missing=bool(key.nullable) and not key.primary_key,
        )
        return ResolvedMapping(
            file=self.file,
            dialect=self.dialect,
            contacts=contacts,
            email=email,
            consent=consent,
            fields=tuple(fields),
            tags_column=tags_column,
            tags_join=tags_join,
            erasure_flag=erasure_flag,
            erasures=erasures,
            erasure_email=erasure_email,
            granted=frozenset(map(normalize_consent_value, m.consent.granted if m.consent else ())),
            withdrawn=frozenset(
                map(normalize_consent_value, m.consent.withdrawn if m.consent else ())
            ),
        )

    # -- lookups ----------------------------------------------------------------------

    def table(self, path: KeyPath, name: str) -> sa.Table | None:
        schema = self.mapping.schema_
        qualified = f"{schema}.{name}" if schema else name
        if qualified in self.metadata.tables:
            return self.metadata.tables[qualified]
        try:
            return sa.Table(name, self.metadata, autoload_with=self.connection, schema=schema)
        except DBAPIError as exc:
            if schema is None:
                raise
            # SQLite: "unknown database"; the connection may not take more questions.
            self.fail(("schema",), f"cannot read schema {schema!r}: {exc.orig}")
            raise self.file.error(self.problems) from exc
        except NoSuchTableError:
            inspector = sa.inspect(self.connection)
            try:
                known = [*inspector.get_table_names(schema), *inspector.get_view_names(schema)]
            except SQLAlchemyError:
                known = []
            where = f"in schema {schema!r}" if schema else "in the database"
            self.fail(
                path,
                f"no table or view {name!r} {where}" + _hint(name, known, what="tables"),
            )
            return None

    def column(self, path: KeyPath, table: sa.Table, name: str) -> Column | None:
        column = table.c.get(name)
        if column is None:
            self.fail(
                path,
                f"table {table.name!r} has no column {name!r}"
                + _hint(name, table.c.keys(), what="columns"),
            )
        return column

    def key_kind(self, path: KeyPath, column: Column | None) -> str | None:
        if column is None:
            return None
        kind = column.type
        if isinstance(kind, sa.Integer):
            return "integer"
        if isinstance(kind, sa.Uuid):
            return "uuid"
        if isinstance(kind, sa.String):
            return "text"
        self.fail(
            path,
            f"column {column.name!r} has type {kind}; "
            "a key must be an integer, text or uuid column",
        )
        return None

    def check_cursor(self, path: KeyPath, column: Column | None, *, sequence: bool) -> None:
        if column is None:
            return
        kind = column.type
        if sequence:
            if not isinstance(kind, sa.Integer):
                self.fail(path, f"column {column.name!r} has type {kind}; a sequence is an integer")
            return
        if isinstance(kind, sa.DateTime):
            return
        if self.dialect == "sqlite" and isinstance(kind, sa.String):
            return  # SQLite keeps timestamps as text anyway
        advice = "; for an integer column use `sequence =`" if isinstance(kind, sa.Integer) else ""
        self.fail(
            path,
            f"column {column.name!r} has type {kind}; updated_at must be a timestamp column"
            + advice,
        )

    def check_write_back(self, consent: Column | None) -> None:
        write_back = self.mapping.write_back
        if write_back is None or consent is None or write_back.consent is None:
            return
        value = write_back.consent
        kind = consent.type
        fits = (
            isinstance(value, bool)
            if isinstance(kind, sa.Boolean)
            else (isinstance(value, int) and not isinstance(value, bool))
            if isinstance(kind, sa.Integer)
            else isinstance(value, str)
            if isinstance(kind, sa.String)
            else True
        )
        if not fits:
            self.fail(
                ("write_back", "consent"),
                f"{value!r} does not fit column {consent.name!r} ({kind})",
            )


def _hint(name: str, known: Iterable[str], *, what: str) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    if names:
        shown = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
        return f" ({what}: {shown})"
    return ""
