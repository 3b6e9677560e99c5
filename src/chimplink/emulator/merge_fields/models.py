"""Merge fields (audience fields): state and Mailchimp's rules for defining them.

REFERENCE.md §8.5: a merge field has a `name` and a `type` (text, number,
address, phone, date, url, imageurl, radio, dropdown, birthday, zip), an
optional `tag` (the key members use in `merge_fields`), `required`,
`default_value`, `public`, `display_order`, `help_text` and type-specific
`options`. New audiences get FNAME, LNAME, ADDRESS and PHONE (merge ids 1–4).

Tags are uppercased and at most 10 characters, as Mailchimp stores them; a
longer tag is refused (400 Invalid Resource, field `tag`) rather than
silently cut, so an integration never writes to a tag it did not ask for.
Without a tag, one is generated from the name (see `generate_tag`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, register_store

TYPES = (
    "text",
    "number",
    "address",
    "phone",
    "date",
    "url",
    "imageurl",
    "radio",
    "dropdown",
    "birthday",
    "zip",
)
MAX_TAG_LENGTH = 10
# EMAIL is merge field 0 of every audience: never listed, never re-usable.
RESERVED_TAGS = frozenset({"EMAIL"})
_TAG_CHARS = re.compile(r"^[A-Z0-9_]+$")
_NOT_TAG_CHARS = re.compile(r"[^A-Z0-9_]")

DATE_FORMATS = ("MM/DD/YYYY", "DD/MM/YYYY")
BIRTHDAY_FORMATS = ("MM/DD", "DD/MM")
PHONE_FORMATS = ("none", "US")
US_COUNTRY_ID = 164  # Mailchimp's country id for the United States (address default)


class MergeField(BaseModel):
    merge_id: int
    tag: str
    name: str
    type: str
    list_id: str
    required: bool = False
    default_value: str = ""
    public: bool = False
    display_order: int = 0
    options: dict[str, Any] = Field(default_factory=dict)
    help_text: str = ""


@register_store("merge_fields")
class MergeFieldsStore(BaseModel):
    # list_id → str(merge_id) → field (JSON object keys are strings)
    fields: dict[str, dict[str, MergeField]] = Field(default_factory=dict)
    # list_id → the next merge_id to hand out
    next_id: dict[str, int] = Field(default_factory=dict)


def merge_fields_of(account: Account) -> MergeFieldsStore:
    return account.store(MergeFieldsStore)


def fields_in(account: Account, list_id: str) -> list[MergeField]:
    """The audience's merge fields in display order."""
    found = merge_fields_of(account).fields.get(list_id, {})
    return sorted(found.values(), key=lambda f: (f.display_order, f.merge_id))


def by_tag(account: Account, list_id: str) -> dict[str, MergeField]:
    return {f.tag: f for f in merge_fields_of(account).fields.get(list_id, {}).values()}


def require_field(account: Account, list_id: str, merge_id: str) -> MergeField:
    found = merge_fields_of(account).fields.get(list_id, {}).get(merge_id.strip())
    if found is None:
        raise problems.not_found()
    return found


def drop_list(account: Account, list_id: str) -> None:
    store = merge_fields_of(account)
    store.fields.pop(list_id, None)
    store.next_id.pop(list_id, None)


def add_defaults(account: Account, list_id: str) -> None:
    """FNAME, LNAME, ADDRESS and PHONE, as every new Mailchimp audience has (§8.5)."""
    defaults: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
        ("FNAME", "First Name", "text", {"size": 25}),
        ("LNAME", "Last Name", "text", {"size": 25}),
        ("ADDRESS", "Address", "address", {"default_country": US_COUNTRY_ID}),
        ("PHONE", "Phone Number", "phone", {"phone_format": "none"}),
    )
    for tag, name, kind, options in defaults:
        _insert(
            account,
            list_id,
            tag=tag,
            name=name,
            kind=kind,
            options=options,
            public=False,
            display_order=None,
        )


def _insert(
    account: Account,
    list_id: str,
    *,
    tag: str,
    name: str,
    kind: str,
    options: dict[str, Any],
    public: bool,
    display_order: int | None,
    required: bool = False,
    default_value: str = "",
    help_text: str = "",
) -> MergeField:
    store = merge_fields_of(account)
    in_list = store.fields.setdefault(list_id, {})
    merge_id = store.next_id.get(list_id, 1)
    store.next_id[list_id] = merge_id + 1
    if display_order is None:
        # EMAIL holds display position 1; new fields go last.
        display_order = max((f.display_order for f in in_list.values()), default=1) + 1
    field = MergeField(
        merge_id=merge_id,
        tag=tag,
        name=name,
        type=kind,
        list_id=list_id,
        required=required,
        default_value=default_value,
        public=public,
        display_order=display_order,
        options=options,
        help_text=help_text,
    )
    in_list[str(merge_id)] = field
    return field


# -- tags ----------------------------------------------------------------------


def normalise_tag(raw: str) -> str:
    """Mailchimp stores tags uppercased; a tag must be 1–10 of A–Z, 0–9 and _."""
    tag = raw.strip().upper()
    if not tag:
        raise problems.field_error("tag", "The merge tag cannot be empty.")
    if len(tag) > MAX_TAG_LENGTH:
        raise problems.field_error(
            "tag",
            f"The merge tag must be at most {MAX_TAG_LENGTH} characters long; "
            f"{tag!r} has {len(tag)}.",
        )
    if not _TAG_CHARS.match(tag):
        raise problems.field_error(
            "tag", "The merge tag may contain only letters, digits and underscores."
        )
    return tag


def generate_tag(name: str, taken: Iterable[str], merge_id: int) -> str:
    """A tag for a field created without one: the name's letters and digits,
    uppercased and cut to 10 characters (`Favorite Color` → `FAVORITECO`).
    When that is empty or taken, Mailchimp's own fallback form `MMERGE<id>`."""
    used = set(taken) | RESERVED_TAGS
    candidate = _NOT_TAG_CHARS.sub("", name.upper())[:MAX_TAG_LENGTH]
    if candidate and candidate not in used:
        return candidate
    fallback = f"MMERGE{merge_id}"
    suffix = merge_id
    while fallback in used:
        suffix += 1
        fallback = f"MMERGE{suffix}"
    return fallback


def _duplicate_tag(tag: str) -> problems.ProblemError:
    return problems.invalid_resource(
        detail=f'A Merge Field with the tag "{tag}" already exists for this list.',
        errors=[{"field": "tag", "message": f'The tag "{tag}" is already in use.'}],
    )


# -- options ---------------------------------------------------------------------


def _options(
    kind: str, raw: Mapping[str, Any] | None, current: Mapping[str, Any]
) -> dict[str, Any]:
    """The options a field of `kind` keeps, with Mailchimp's defaults (§8.5)."""
    given = dict(raw or {})
    merged = {**current, **given}
    if kind == "text":
        return {"size": 25}
    if kind in ("radio", "dropdown"):
        choices = merged.get("choices")
        if not isinstance(choices, list) or not [c for c in choices if str(c).strip()]:
            raise problems.field_error(
                "options.choices",
                f"A {kind} merge field needs at least one choice in options.choices.",
            )
        if any(not isinstance(c, str) for c in choices):
            raise problems.field_error("options.choices", "Choices must be strings.")
        return {"choices": [c for c in choices if c.strip()]}
    if kind == "date":
        date_format = merged.get("date_format") or DATE_FORMATS[0]
        if date_format not in DATE_FORMATS:
            raise problems.field_error(
                "options.date_format", f"date_format must be one of: {', '.join(DATE_FORMATS)}."
            )
        return {"date_format": date_format}
    if kind == "birthday":
        date_format = merged.get("date_format") or BIRTHDAY_FORMATS[0]
        if date_format not in BIRTHDAY_FORMATS:
            raise problems.field_error(
                "options.date_format",
                f"date_format must be one of: {', '.join(BIRTHDAY_FORMATS)}.",
            )
        return {"date_format": date_format}
    if kind == "phone":
        phone_format = merged.get("phone_format") or "none"
        if phone_format not in PHONE_FORMATS:
            raise problems.field_error(
                "options.phone_format", f"phone_format must be one of: {', '.join(PHONE_FORMATS)}."
            )
        return {"phone_format": phone_format}
    if kind == "address":
        country = merged.get("default_country", US_COUNTRY_ID)
        return {"default_country": country}
    return {}


# -- create / update ----------------------------------------------------------------


def create(account: Account, list_id: str, body: Mapping[str, Any]) -> MergeField:
    """Apply POST /lists/{list_id}/merge-fields (body already schema-valid)."""
    name = str(body["name"]).strip()
    if not name:
        raise problems.field_error("name", "The merge field name cannot be empty.")
    kind = str(body["type"])
    options = _options(kind, body.get("options"), {})
    store = merge_fields_of(account)
    taken = set(by_tag(account, list_id))
    raw_tag = body.get("tag")
    if raw_tag is not None and str(raw_tag).strip():
        tag = normalise_tag(str(raw_tag))
        if tag in taken or tag in RESERVED_TAGS:
            raise _duplicate_tag(tag)
    else:
        tag = generate_tag(name, taken, store.next_id.get(list_id, 1))
    return _insert(
        account,
        list_id,
        tag=tag,
        name=name,
        kind=kind,
        options=options,
        public=bool(body.get("public", False)),
        display_order=body.get("display_order"),
        required=bool(body.get("required", False)),
        default_value=str(body.get("default_value", "")),
        help_text=str(body.get("help_text", "")),
    )


def update(account: Account, field: MergeField, body: Mapping[str, Any]) -> str | None:
    """Apply PATCH /lists/{list_id}/merge-fields/{merge_id}; return the old tag if it changed.

    The type cannot change (it is read-only in the spec's PATCH schema).
    """
    old_tag: str | None = None
    if "tag" in body and body["tag"] is not None and str(body["tag"]).strip():
        tag = normalise_tag(str(body["tag"]))
        if tag != field.tag:
            if tag in RESERVED_TAGS or tag in by_tag(account, field.list_id):
                raise _duplicate_tag(tag)
            old_tag = field.tag
            field.tag = tag
    if "name" in body:
        name = str(body["name"]).strip()
        if not name:
            raise problems.field_error("name", "The merge field name cannot be empty.")
        field.name = name
    if "options" in body:
        field.options = _options(field.type, body.get("options"), field.options)
    for key in ("required", "public"):
        if key in body:
            setattr(field, key, bool(body[key]))
    for key in ("default_value", "help_text"):
        if key in body:
            setattr(field, key, str(body[key]))
    if "display_order" in body:
        field.display_order = int(body["display_order"])
    return old_tag


def remove(account: Account, field: MergeField) -> None:
    merge_fields_of(account).fields.get(field.list_id, {}).pop(str(field.merge_id), None)
