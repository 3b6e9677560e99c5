"""Members' merge field values: Mailchimp's value formats per field type (REFERENCE.md §8.5).

    text      any string, cut to 255 bytes
    number    a number, or a string that parses as one
    date      YYYY-MM-DD, YYYY/MM/DD, DD-MM-YYYY or MM/DD/YYYY (stored as YYYY-MM-DD)
    birthday  MM/DD (or DD/MM when the field's date_format says so)
    address   an object with addr1, city, state, zip (+ addr2, country), all strings
    zip       five digits
    phone     a string; with phone_format "US", a ten-digit US number
    url, imageurl  an http(s) URL (reachability of images is not checked)
    radio, dropdown  one of the field's choices

An empty string clears a value. Failures are Mailchimp's "Invalid Resource"
with detail "Your merge fields were invalid." and `errors[{field: TAG,
message}]`; a missing required value reads "Please enter a value" (the
docs' own example). Unknown tags are ignored, as Mailchimp ignores them.
A value of the wrong JSON kind (null, a list, a boolean, an object for a
non-address field) fails the request schema instead, with the field named
`merge_fields.TAG` (the shape of Mailchimp's schema errors, §5).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from chimplink.emulator import problems
from chimplink.emulator.merge_fields.models import MergeField

TEXT_MAX_BYTES = 255
MERGE_DETAIL = "Your merge fields were invalid."
PLEASE_ENTER_A_VALUE = "Please enter a value"
_ADDRESS_REQUIRED = ("addr1", "city", "state", "zip")
_ADDRESS_OPTIONAL = ("addr2", "country")
_ZIP = re.compile(r"^\d{5}$")
_US_PHONE_DIGITS = re.compile(r"\D")
_DATE_PATTERNS: tuple[tuple[re.Pattern[str], tuple[str, str, str]], ...] = (
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), ("y", "m", "d")),
    (re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"), ("y", "m", "d")),
    (re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$"), ("d", "m", "y")),
    (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$"), ("m", "d", "y")),
)
_BIRTHDAY = re.compile(r"^(\d{1,2})/(\d{1,2})$")


class _SchemaMismatch(Exception):
    pass


def _schema_error(tag: str) -> problems.ProblemError:
    return problems.invalid_resource(
        errors=[
            {
                "field": f"merge_fields.{tag}",
                "message": "Data did not match any of the schemas described in anyOf.",
            }
        ]
    )


def _date(value: str) -> str | None:
    for pattern, order in _DATE_PATTERNS:
        found = pattern.match(value)
        if found is None:
            continue
        parts = dict(zip(order, (int(g) for g in found.groups()), strict=True))
        try:
            return date(parts["y"], parts["m"], parts["d"]).isoformat()
        except ValueError:
            return None
    return None


def _birthday(value: str, date_format: str) -> str | None:
    found = _BIRTHDAY.match(value)
    if found is None:
        return None
    first, second = (int(g) for g in found.groups())
    month, day = (second, first) if date_format == "DD/MM" else (first, second)
    try:
        date(2000, month, day)  # a leap year: 02/29 is a valid birthday
    except ValueError:
        return None
    first_out, second_out = (day, month) if date_format == "DD/MM" else (month, day)
    return f"{first_out:02d}/{second_out:02d}"


def _number(value: Any) -> bool:
    """A finite number, or a string holding one ("NaN" and "inf" are not numbers here)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            return math.isfinite(float(value.strip()))
        except ValueError:
            return False
    return False


def _truncate(text: str) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= TEXT_MAX_BYTES:
        return text
    return encoded[:TEXT_MAX_BYTES].decode("utf-8", errors="ignore")


def clean_value(field: MergeField, value: Any) -> tuple[Any, str | None]:
    """(the value to store, or an error message). Raises `_SchemaMismatch` for a
    value of the wrong JSON kind. "" means "clear the value"."""
    kind = field.type
    if kind == "address":
        if value == "":
            return "", None
        if not isinstance(value, dict):
            if isinstance(value, str):
                return None, "Please enter a complete address"
            raise _SchemaMismatch
        missing = [k for k in _ADDRESS_REQUIRED if not str(value.get(k) or "").strip()]
        if missing:
            return None, "Please enter a complete address"
        if any(
            not isinstance(value.get(k, ""), str) for k in (*_ADDRESS_REQUIRED, *_ADDRESS_OPTIONAL)
        ):
            return None, "Address parts must be strings"
        return {k: value.get(k, "") for k in (*_ADDRESS_REQUIRED, *_ADDRESS_OPTIONAL)}, None
    if kind == "number":
        if value == "":
            return "", None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _SchemaMismatch
        return (value, None) if _number(value) else (None, "Please enter a number")
    if not isinstance(value, str):
        raise _SchemaMismatch
    if value == "":
        return "", None
    if kind == "text":
        return _truncate(value), None
    if kind == "date":
        parsed = _date(value.strip())
        return (parsed, None) if parsed else (None, "Please enter a valid date")
    if kind == "birthday":
        fmt = str(field.options.get("date_format", "MM/DD"))
        parsed = _birthday(value.strip(), fmt)
        return (parsed, None) if parsed else (None, f"Please enter a valid birthday ({fmt})")
    if kind == "zip":
        stripped = value.strip()
        return (
            (stripped, None) if _ZIP.match(stripped) else (None, "Please enter a 5 digit zip code")
        )
    if kind == "phone":
        if field.options.get("phone_format") == "US":
            digits = _US_PHONE_DIGITS.sub("", value)
            if len(digits) == 11 and digits.startswith("1"):
                digits = digits[1:]
            if len(digits) != 10:
                return None, "Please enter a valid US phone number (xxx-xxx-xxxx)"
            return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}", None
        return _truncate(value), None
    if kind in ("url", "imageurl"):
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None, "Please enter a valid URL"
        return value.strip(), None
    if kind in ("radio", "dropdown"):
        choices = [str(c) for c in field.options.get("choices", [])]
        if value in choices:
            return value, None
        return None, f"Please choose one of: {', '.join(choices)}"
    return _truncate(value), None


def merge_values(
    fields: Mapping[str, MergeField],
    updates: Mapping[str, Any] | None,
    *,
    current: Mapping[str, Any],
    check_required: bool,
) -> dict[str, Any]:
    """The member's merge values after applying `updates` to `current`.

    Only values that differ from the stored ones are validated, so a sync that
    re-sends an unchanged profile costs a dict comparison. Required fields are
    checked on the result (not just the request), as Mailchimp does: a PATCH
    touching other fields fails when a required value is missing (observed,
    drewm/mailchimp-api#298), unless `skip_merge_validation` (§6).
    """
    result = dict(current)
    errors: list[dict[str, str]] = []
    for raw_tag, value in (updates or {}).items():
        field = fields.get(raw_tag) or fields.get(raw_tag.upper())
        if field is None:
            continue
        tag = field.tag
        if value is not None and result.get(tag) == value:
            continue
        try:
            cleaned, message = clean_value(field, value)
        except _SchemaMismatch:
            raise _schema_error(raw_tag) from None
        if message is not None:
            errors.append({"field": tag, "message": message})
        elif cleaned == "":
            result.pop(tag, None)
        else:
            result[tag] = cleaned
    if check_required:
        flagged = {e["field"] for e in errors}
        for field in fields.values():
            if field.required and result.get(field.tag) in (None, "") and field.tag not in flagged:
                errors.append({"field": field.tag, "message": PLEASE_ENTER_A_VALUE})
    if errors:
        raise problems.invalid_resource(detail=MERGE_DETAIL, errors=errors)
    return result
