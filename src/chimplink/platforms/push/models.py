"""What a platform sends to the push API, and how each piece is checked.

Validation happens per contact: `check_contact` returns the contact ready to
store, or the list of what is wrong with it (each error names the field), so
one bad contact in a batch of a thousand is refused alone and the platform
learns exactly why. Field values are checked against the types the tenant
declared (`PUT /api/v1/fields`): a number field takes a JSON number, a date
`YYYY-MM-DD`, a birthday `MM/DD`, the others text; `null` clears a value.

Also here: the change cursor (`encode_cursor`), the shape of a contact in
answers and webhooks (`contact_document`), and the check of a webhook URL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
)

from chimplink.platforms.base import Consent, FieldType
from chimplink.store.push import PushContact, PushContactInput, PushField

__all__ = [
    "MAX_FIELDS",
    "ContactIn",
    "FieldIn",
    "FieldsIn",
    "ItemError",
    "check_contact",
    "check_fields",
    "check_webhook_url",
    "contact_document",
    "decode_cursor",
    "encode_cursor",
    "errors_of",
    "is_email",
    "value_problem",
]

MAX_FIELDS = 100
MAX_LABELS = 100
MAX_TEXT = 1000  # characters of a text value (Mailchimp keeps 255 bytes of a text field, §8.5)
_CURSOR_WIDTH = 20
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_HOST_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_BIRTHDAY = re.compile(r"^(\d{2})/(\d{2})$")
_TEXT_TYPES = frozenset({FieldType.TEXT, FieldType.PHONE, FieldType.URL, FieldType.ZIP})
# Plain http only where it never crosses the Internet (as for chimplink's own URLs).
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_LOCAL_SUFFIXES = (".localhost", ".test", ".internal")

FieldValues = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
            "description": "Values by declared field name: text, a number, a date YYYY-MM-DD, "
            "a birthday MM/DD, or null to clear.",
        }
    ),
]


# -- the change cursor -------------------------------------------------------------------


def encode_cursor(seq: int) -> str:
    """A sequence value as a cursor: 20 digits, so string order is change order."""
    return f"{seq:0{_CURSOR_WIDTH}d}"


def decode_cursor(cursor: str | None) -> int:
    """The sequence value of a cursor (0 for none); ValueError for text no cursor has."""
    if cursor is None or cursor == "":
        return 0
    if len(cursor) != _CURSOR_WIDTH or not cursor.isascii() or not cursor.isdigit():
        raise ValueError(f"{cursor!r} is not a cursor chimplink gave out (20 digits)")
    return int(cursor)


# -- contacts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemError:
    """What is wrong with one contact: `field` is a dotted path (`fields.birthday`, `labels.2`)."""

    field: str
    message: str


def is_email(address: str) -> bool:
    """The syntax Mailchimp accepts: one @, a dotted local part, a host with a letter TLD."""
    if len(address) > 254 or address.count("@") != 1:
        return False
    local, host = address.split("@")
    if not 1 <= len(local) <= 64 or not _LOCAL.match(local):
        return False
    labels = host.split(".")
    if len(labels) < 2 or not all(_HOST_LABEL.match(label) for label in labels):
        return False
    tld = labels[-1]
    return 2 <= len(tld) <= 63 and tld.isascii() and tld.isalpha()


class ContactIn(BaseModel):
    """One contact. Upserting replaces the stored contact as a whole."""

    model_config = ConfigDict(extra="forbid")

    key: Annotated[
        str,
        Field(
            min_length=1,
            max_length=255,
            description="The platform's stable id for the contact (survives email changes).",
        ),
    ]
    email: Annotated[str, Field(max_length=254, description="The contact's email address.")]
    consent: Annotated[
        Consent,
        Field(
            description="Recorded marketing consent. Only `granted` ever subscribes a new "
            "member; `unknown` and `withdrawn` never do."
        ),
    ] = Consent.UNKNOWN
    fields: FieldValues = {}
    labels: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]],
        Field(
            max_length=MAX_LABELS,
            description="Segments or labels, synced as Mailchimp tags.",
        ),
    ] = []

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        if value != value.strip():
            raise ValueError("must not start or end with whitespace")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        address = value.strip()
        if not is_email(address):
            raise ValueError("not an email address")
        return address

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        cleaned = [label.strip() for label in value]
        if any(not label or _CONTROL.search(label) for label in cleaned):
            raise ValueError("labels must be non-blank text without control characters")
        return cleaned


def errors_of(exc: ValidationError) -> list[ItemError]:
    """Pydantic's errors as `ItemError`s with plain messages."""
    found = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        found.append(ItemError(where, message))
    return found


def value_problem(kind: FieldType, value: Any) -> str | None:
    """Why `value` cannot be a value of a `kind` field; None if it can."""
    if value is None:
        return None
    if kind in _TEXT_TYPES:
        if not isinstance(value, str):
            return f"must be text (a JSON string) for a {kind.value} field"
        if len(value) > MAX_TEXT:
            return f"must be at most {MAX_TEXT} characters"
        return None
    if kind is FieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a JSON number for a number field"
        return None if math.isfinite(value) else "must be a finite number"
    if kind is FieldType.DATE:
        if isinstance(value, str) and len(value) == 10:
            try:
                date.fromisoformat(value)
                return None
            except ValueError:
                pass
        return "must be a date written YYYY-MM-DD"
    # FieldType.BIRTHDAY
    found = _BIRTHDAY.match(value) if isinstance(value, str) else None
    if found is not None:
        try:
            date(2000, int(found.group(1)), int(found.group(2)))  # a leap year: 02/29 is one
            return None
        except ValueError:
            pass
    return "must be a birthday written MM/DD"


def check_contact(
    raw: object, declared: Mapping[str, FieldType]
) -> PushContactInput | list[ItemError]:
    """`raw` (one element of the request's `contacts`) ready to store, or what is wrong with it."""
    if not isinstance(raw, dict):
        return [ItemError("", "must be a JSON object")]
    try:
        contact = ContactIn.model_validate(raw)
    except ValidationError as exc:
        return errors_of(exc)
    errors = []
    for name, value in contact.fields.items():
        kind = declared.get(name)
        if kind is None:
            errors.append(
                ItemError(
                    f"fields.{name}",
                    "not a declared field (declare it with PUT /api/v1/fields)",
                )
            )
            continue
        problem = value_problem(kind, value)
        if problem is not None:
            errors.append(ItemError(f"fields.{name}", problem))
    if errors:
        return errors
    return PushContactInput(
        key=contact.key,
        email=contact.email,
        consent=contact.consent.value,
        fields=contact.fields,
        labels=tuple(contact.labels),
    )


def contact_document(
    contact: PushContact, declared: Sequence[PushField] | None = None
) -> dict[str, Any]:
    """A contact as answers and webhooks show it (only declared fields, when given)."""
    names = None if declared is None else {f.name for f in declared}
    return {
        "key": contact.key,
        "email": contact.email,
        "consent": contact.consent,
        "fields": {
            name: value for name, value in contact.fields.items() if names is None or name in names
        },
        "labels": list(contact.labels),
        "cursor": encode_cursor(contact.seq),
        "updated_at": contact.updated_at.isoformat().replace("+00:00", "Z"),
    }


# -- declared fields -----------------------------------------------------------------------


class FieldIn(BaseModel):
    """A field contacts carry; it can be mapped to a Mailchimp merge field."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str,
        Field(
            pattern=_FIELD_NAME.pattern,
            description="A letter, then letters, digits or _ (at most 64).",
        ),
    ]
    type: FieldType = FieldType.TEXT
    label: Annotated[str, Field(max_length=100, description="Shown in the mapping form.")] = ""


class FieldsIn(BaseModel):
    """Every field the tenant's contacts carry (replaces the previous declaration)."""

    model_config = ConfigDict(extra="forbid")

    fields: Annotated[list[FieldIn], Field(max_length=MAX_FIELDS)]

    @field_validator("fields")
    @classmethod
    def _unique(cls, value: list[FieldIn]) -> list[FieldIn]:
        seen: set[str] = set()
        for item in value:
            if item.name in seen:
                raise ValueError(f"the field {item.name!r} is declared twice")
            seen.add(item.name)
        return value


def check_fields(raw: object) -> tuple[list[PushField], list[ItemError]]:
    """A `PUT /api/v1/fields` body ready to store, and what is wrong with it (use it if nothing)."""
    try:
        parsed = FieldsIn.model_validate(raw)
    except ValidationError as exc:
        return [], errors_of(exc)
    return [PushField(f.name, f.type.value, f.label or f.name) for f in parsed.fields], []


# -- webhook endpoints ----------------------------------------------------------------------


def check_webhook_url(url: str) -> str:
    """The URL webhooks go to, checked; ValueError says what is wrong.

    https, except for hosts that never leave the machine or the test network
    (localhost, *.test, …); no user or password (the signature authenticates
    chimplink); no fragment.
    """
    text = url.strip()
    if len(text) > 2048:
        raise ValueError("the URL is longer than 2048 characters")
    if _CONTROL.search(text) or " " in text:
        raise ValueError("the URL contains spaces or control characters")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("must be an http(s) URL such as https://platform.example/webhooks")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain a user name or password")
    if parts.fragment:
        raise ValueError("must not contain a fragment (#...)")
    local = host in _LOCAL_HOSTS or host.endswith(_LOCAL_SUFFIXES)
    if parts.scheme != "https" and not local:
        raise ValueError("must use https (plain http is accepted only for localhost and *.test)")
    return text
