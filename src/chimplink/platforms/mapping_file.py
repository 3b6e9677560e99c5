"""The SQL connector's mapping file: which table and columns hold the contacts.

A mapping file is TOML (read with `tomllib`). Example, with every section::

    table = "customers"          # the contacts table (or a view)
    schema = "public"            # optional: the database schema
    key = "id"                   # the stable id: an integer, text or uuid column
    email = "email"
    updated_at = "updated_at"    # a timestamp column… or: sequence = "change_seq"

    [consent]                    # optional: without it every contact's consent is unknown
    column = "newsletter"
    granted = ["yes", "1", "true"]      # compared case-insensitively, after trimming
    withdrawn = ["no", "0", "false"]    # anything else, and NULL, is unknown

    [fields.first_name]          # one table per platform field
    column = "first_name"
    type = "text"                # text | number | date | birthday | phone | url | zip
    label = "First name"         # optional, shown in the mapping form

    [tags]                       # optional: a comma-separated column…
    column = "labels"
    separator = ","
    # …or a join table:  table = "customer_labels", key = "customer_id", label = "label"

    [erasures]                   # optional: a table of erased contacts…
    table = "erased_customers"
    key = "customer_id"
    email = "email"              # optional
    updated_at = "erased_at"     # or: sequence = "id"
    # …or a flag column in the contacts table:  flag = "deleted_at"

    [write_back]                 # optional: without it the connector is read-only
    consent = "no"               # written to consent.column on unsubscribe / cleaned
    email = true                 # write email changes to the email column
    fields = ["first_name"]      # fields written back (to their own columns)
    touch = true                 # move updated_at forward on a change (default)

Every problem is reported with the file and the line of the key that causes
it — a TOML syntax error, an unknown key, a missing key, a wrong type here, or
(from `SqlConnector.open`) a table or column that is not in the database — so
an operator can fix the file without reading code. Nothing is read or synced
from a mapping that has a problem.

Write-back columns are the columns the values are read from: writing a new
email to a column other than the one read would make the next sync send the
old address back to Mailchimp (an echo), so there is no separate target.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chimplink.platforms.base import ConnectorError, FieldType

__all__ = [
    "DEFAULT_GRANTED",
    "DEFAULT_WITHDRAWN",
    "ConsentSpec",
    "ErasureSpec",
    "FieldMapping",
    "KeyPath",
    "MappingError",
    "MappingFile",
    "MappingProblem",
    "SqlMapping",
    "TagsSpec",
    "WriteBackSpec",
    "load_mapping",
    "normalize_consent_value",
    "parse_mapping",
]

KeyPath = tuple[str | int, ...]

DEFAULT_GRANTED = ("true", "t", "1", "yes", "y", "granted", "opt-in", "opted-in", "subscribed")
DEFAULT_WITHDRAWN = (
    "false",
    "f",
    "0",
    "no",
    "n",
    "withdrawn",
    "opt-out",
    "opted-out",
    "unsubscribed",
)

_Name = Annotated[str, Field(min_length=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ConsentSpec(_Section):
    column: _Name
    granted: list[str] = Field(default_factory=lambda: list(DEFAULT_GRANTED))
    withdrawn: list[str] = Field(default_factory=lambda: list(DEFAULT_WITHDRAWN))


class FieldMapping(_Section):
    column: _Name
    # Strict mode would demand a FieldType instance; the file holds its value.
    type: Annotated[FieldType, Field(strict=False)] = FieldType.TEXT
    label: str = ""


class TagsSpec(_Section):
    column: _Name | None = None
    separator: Annotated[str, Field(min_length=1)] = ","
    table: _Name | None = None
    key: _Name | None = None
    label: _Name | None = None


class ErasureSpec(_Section):
    flag: _Name | None = None
    table: _Name | None = None
    key: _Name | None = None
    email: _Name | None = None
    updated_at: _Name | None = None
    sequence: _Name | None = None


class WriteBackSpec(_Section):
    # Any TOML scalar; checked by the rules below, so one message instead of one per type.
    consent: Any = None
    email: bool = False
    fields: list[_Name] = Field(default_factory=list)
    touch: bool | None = None

    @property
    def configured(self) -> bool:
        return self.consent is not None or self.email or bool(self.fields)


class SqlMapping(_Section):
    table: _Name
    schema_: _Name | None = Field(default=None, alias="schema")
    key: _Name
    email: _Name
    updated_at: _Name | None = None
    sequence: _Name | None = None
    consent: ConsentSpec | None = None
    fields: dict[str, FieldMapping] = Field(default_factory=dict)
    tags: TagsSpec | None = None
    erasures: ErasureSpec | None = None
    write_back: WriteBackSpec | None = None

    @property
    def cursor_column(self) -> str:
        column = self.updated_at or self.sequence
        assert column is not None  # checked by parse_mapping
        return column

    @property
    def cursor_key(self) -> str:
        return "updated_at" if self.updated_at is not None else "sequence"


def normalize_consent_value(value: object) -> str:
    """How a consent cell (or a configured value) is compared: trimmed, lowercase text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


@dataclass(frozen=True, slots=True)
class MappingProblem:
    line: int
    message: str


class MappingError(ConnectorError):
    """A mapping file that cannot be used; every problem names its line."""

    def __init__(self, source: str, problems: Sequence[MappingProblem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__("\n".join(f"{source}, line {p.line}: {p.message}" for p in self.problems))


@dataclass(frozen=True, slots=True)
class MappingFile:
    """A parsed mapping and where it came from, to name lines in later errors."""

    mapping: SqlMapping
    source: str
    key_lines: Mapping[KeyPath, int] = field(repr=False)

    def line_of(self, path: KeyPath) -> int:
        """The line of the key at `path`, else of its closest enclosing key or table."""
        return _line_of(self.key_lines, path)

    def problem(self, path: KeyPath, message: str) -> MappingProblem:
        return MappingProblem(self.line_of(path), f"{_dotted(path)}: {message}")

    def error(self, problems: Sequence[MappingProblem]) -> MappingError:
        return MappingError(self.source, problems)


def load_mapping(path: str | Path) -> MappingFile:
    """Read and check a mapping file (the database is checked by `SqlConnector.open`)."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConnectorError(f"{source}: cannot read the mapping file: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise MappingError(
            source, [MappingProblem(line, "the file is not UTF-8 text (TOML must be UTF-8)")]
        ) from exc
    return parse_mapping(text, source=source)


def parse_mapping(text: str, *, source: str = "<mapping>") -> MappingFile:
    """Parse mapping text; `source` names it in messages (a path, usually)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, text=text, source=source) from exc
    lines = _index_lines(text)
    try:
        mapping = SqlMapping.model_validate(document)
    except ValidationError as exc:
        problems = [_problem_from_pydantic(error, lines, document) for error in exc.errors()]
        raise MappingError(source, problems) from exc
    parsed = MappingFile(mapping=mapping, source=source, key_lines=lines)
    problems = _check_rules(parsed)
    if problems:
        raise parsed.error(problems)
    return parsed


# -- rules across keys (the shape and types are pydantic's) --------------------------


def _check_rules(parsed: MappingFile) -> list[MappingProblem]:
    m = parsed.mapping
    problems: list[MappingProblem] = []
    if m.updated_at is None and m.sequence is None:
        problems.append(
            MappingProblem(
                1,
                'updated_at: missing: name the cursor column, `updated_at = "<timestamp column>"`'
                ' or `sequence = "<integer column>"`',
            )
        )
    elif m.updated_at is not None and m.sequence is not None:
        problems.append(
            parsed.problem(("sequence",), "give either updated_at or sequence, not both")
        )
    if m.consent is not None:
        granted = {normalize_consent_value(v) for v in m.consent.granted}
        both = sorted(granted & {normalize_consent_value(v) for v in m.consent.withdrawn})
        if both:
            problems.append(
                parsed.problem(
                    ("consent", "withdrawn"),
                    f"{', '.join(map(repr, both))} cannot mean both granted and withdrawn",
                )
            )
    if m.tags is not None:
        problems += _check_tags(parsed, m.tags)
    if m.erasures is not None:
        problems += _check_erasures(parsed, m.erasures)
    if m.write_back is not None:
        problems += _check_write_back(parsed, m.write_back)
    return problems


def _check_tags(parsed: MappingFile, tags: TagsSpec) -> list[MappingProblem]:
    join = (tags.table, tags.key, tags.label)
    if tags.column is not None and any(v is not None for v in join):
        return [parsed.problem(("tags",), "give either column, or table + key + label, not both")]
    if tags.column is None:
        missing = [n for n, v in zip(("table", "key", "label"), join, strict=True) if v is None]
        if missing:
            return [
                parsed.problem(
                    ("tags",),
                    f"missing {', '.join(missing)}: tags come from a column "
                    '(`column = "labels"`) or a join table (table, key and label)',
                )
            ]
    return []


def _check_erasures(parsed: MappingFile, erasures: ErasureSpec) -> list[MappingProblem]:
    table_keys = (erasures.table, erasures.key, erasures.email, erasures.updated_at)
    if erasures.flag is not None:
        if any(v is not None for v in (*table_keys, erasures.sequence)):
            return [
                parsed.problem(
                    ("erasures",), "give either flag, or table + key + a cursor column, not both"
                )
            ]
        return []
    problems = []
    missing = [n for n, v in (("table", erasures.table), ("key", erasures.key)) if v is None]
    if missing:
        problems.append(
            parsed.problem(
                ("erasures",),
                f"missing {', '.join(missing)}: erasures come from a flag column "
                '(`flag = "deleted_at"`) or a table (table, key, updated_at or sequence)',
            )
        )
    if erasures.updated_at is None and erasures.sequence is None:
        problems.append(
            parsed.problem(("erasures",), "missing updated_at or sequence (the cursor column)")
        )
    elif erasures.updated_at is not None and erasures.sequence is not None:
        problems.append(
            parsed.problem(("erasures", "sequence"), "give either updated_at or sequence, not both")
        )
    return problems


def _check_write_back(parsed: MappingFile, write_back: WriteBackSpec) -> list[MappingProblem]:
    m = parsed.mapping
    problems = []
    if write_back.consent is not None:
        if not isinstance(write_back.consent, str | int | bool):
            problems.append(
                parsed.problem(
                    ("write_back", "consent"),
                    "must be a string, an integer or a boolean, "
                    f"not {_toml_type(write_back.consent)}",
                )
            )
        elif m.consent is None:
            problems.append(
                parsed.problem(
                    ("write_back", "consent"), "needs a [consent] section naming the column"
                )
            )
        else:
            withdrawn = {normalize_consent_value(v) for v in m.consent.withdrawn}
            if normalize_consent_value(write_back.consent) not in withdrawn:
                problems.append(
                    parsed.problem(
                        ("write_back", "consent"),
                        f"{write_back.consent!r} would read back as not withdrawn; "
                        "it must be one of consent.withdrawn",
                    )
                )
    for index, name in enumerate(write_back.fields):
        if name not in m.fields:
            known = ", ".join(sorted(m.fields)) or "none are mapped"
            problems.append(
                parsed.problem(
                    ("write_back", "fields", index),
                    f"{name!r} is not a mapped field (fields: {known})",
                )
            )
    if write_back.touch and m.updated_at is None:
        problems.append(
            parsed.problem(
                ("write_back", "touch"), "touch needs an updated_at cursor column (not sequence)"
            )
        )
    return problems


# -- messages --------------------------------------------------------------------------

_AT_LINE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


def _syntax_error(exc: tomllib.TOMLDecodeError, *, text: str, source: str) -> MappingError:
    # Python 3.11 gives the position only inside the message text.
    message = str(exc)
    if found := _AT_LINE.search(message):
        line, column = int(found.group(1)), int(found.group(2))
        detail = f"TOML syntax error at column {column}: {message[: found.start()]}"
    else:
        line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
        detail = f"TOML syntax error at the end of the file: {_AT_END.sub('', message)}"
    return MappingError(source, [MappingProblem(line, detail)])


_SECTION_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {
    (): tuple(f.alias or name for name, f in SqlMapping.model_fields.items()),
    ("consent",): tuple(ConsentSpec.model_fields),
    ("tags",): tuple(TagsSpec.model_fields),
    ("erasures",): tuple(ErasureSpec.model_fields),
    ("write_back",): tuple(WriteBackSpec.model_fields),
    ("fields", "*"): tuple(FieldMapping.model_fields),
}


def _problem_from_pydantic(
    error: Any, lines: Mapping[KeyPath, int], document: Mapping[str, Any]
) -> MappingProblem:
    loc: KeyPath = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = loc[:-1]
        pattern = tuple(
            "*" if parent[:1] == ("fields",) and i == 1 else p for i, p in enumerate(parent)
        )
        allowed = _SECTION_KEYS.get(tuple(str(p) for p in pattern), ())
        message = f"unknown key (expected one of: {', '.join(allowed)})"
    elif kind == "missing":
        message = "missing required key"
    elif kind == "model_type" or kind == "dict_type":
        message = f"must be a table, not {_toml_type(error['input'])}"
    else:
        message = str(error["msg"])
        if "input" in error and not isinstance(error["input"], dict | list):
            message += f" (got {error['input']!r})"
    return MappingProblem(_line_of(lines, loc), f"{_dotted(loc) or '(top level)'}: {message}")


def _toml_type(value: object) -> str:
    match value:
        case bool():
            return "a boolean"
        case int():
            return "an integer"
        case float():
            return "a float"
        case str():
            return "a string"
        case list():
            return "an array"
        case _:
            return "a date or time"


def _dotted(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _line_of(lines: Mapping[KeyPath, int], path: KeyPath) -> int:
    for end in range(len(path), 0, -1):
        if (line := lines.get(path[:end])) is not None:
            return line
    return 1


# -- where each key is: a small scanner over the (already valid) TOML text ---------------

_BARE = r"[A-Za-z0-9_-]+"
_BASIC = r'"(?:[^"\\]|\\.)*"'
_LITERAL = r"'[^']*'"
_SIMPLE = rf"(?:{_BARE}|{_BASIC}|{_LITERAL})"
_DOTTED = rf"{_SIMPLE}(?:\s*\.\s*{_SIMPLE})*"
_KEY_LINE = re.compile(rf"^\s*({_DOTTED})\s*=")
_TABLE_LINE = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]")
_ARRAY_TABLE_LINE = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]")
_PART = re.compile(_SIMPLE)


def _key_parts(dotted: str) -> tuple[str, ...]:
    parts = []
    for token in _PART.findall(dotted):
        if token[0] in "\"'":
            token = tomllib.loads(f"k = {token}")["k"]
        parts.append(token)
    return tuple(parts)


def _index_lines(text: str) -> dict[KeyPath, int]:
    """Map each key path (tables, keys, array items) to the line it is written on."""
    lines: dict[KeyPath, int] = {}
    array_tables: dict[tuple[str, ...], int] = {}
    prefix: KeyPath = ()
    depth = 0  # open brackets of a multi-line array value
    closer = ""  # the delimiter of an open multi-line string
    item_path: KeyPath = ()
    item = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if closer:
            if closer in line:
                closer = ""
            continue
        if depth:
            if line.strip() and not line.strip().startswith("#"):
                lines.setdefault((*item_path, item), number)
                item += line.count(",")
            depth, closer = _scan_value(line, depth)
            continue
        if found := _ARRAY_TABLE_LINE.match(line):
            parts = _key_parts(found.group(1))
            index = array_tables.get(parts, -1) + 1
            array_tables[parts] = index
            prefix = (*parts, index)
            lines.setdefault(parts, number)
            lines[prefix] = number
        elif found := _TABLE_LINE.match(line):
            prefix = _key_parts(found.group(1))
            for end in range(1, len(prefix) + 1):
                lines.setdefault(prefix[:end], number)
        elif found := _KEY_LINE.match(line):
            path = (*prefix, *_key_parts(found.group(1)))
            for end in range(len(prefix) + 1, len(path) + 1):
                lines.setdefault(path[:end], number)
            depth, closer = _scan_value(line[found.end() :], 0)
            if depth:
                item_path, item = path, 0
    return lines


def _scan_value(value: str, depth: int) -> tuple[int, str]:
    """Bracket depth after `value`, and the delimiter of a multi-line string left open."""
    i = 0
    while i < len(value):
        for triple in ('"""', "'''"):
            if value.startswith(triple, i):
                end = value.find(triple, i + 3)
                if end < 0:
                    return depth, triple
                i = end + 3
                break
        else:
            char = value[i]
            if char == "#":
                break
            if char == '"':
                i += 1
                while i < len(value) and value[i] != '"':
                    i += 2 if value[i] == "\\" else 1
            elif char == "'":
                end = value.find("'", i + 1)
                i = len(value) if end < 0 else end
            elif char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
            i += 1
    return max(depth, 0), ""
