"""Saved-segment conditions: validation against the spec, and matching members.

A saved segment carries `options: {match: any|all, conditions: [...]}`. Each
condition is one of the spec's condition schemas, picked by `condition_type`
(the spec lists them under `x-oneOf`, which JSON Schema validators ignore, so
they are checked here from the same document). The emulator evaluates the
conditions it can compute from its own state — merge fields, email address,
static segment (tag) membership, interests, VIP, language, rating, signup
source. Conditions on data it does not keep (campaign activity, e-commerce,
geolocation...) are refused with 501 "Not Emulated" rather than silently
matching nobody.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from chimplink.emulator import problems, spec
from chimplink.emulator.context import json_type
from chimplink.emulator.members.models import Member

MATCH_TYPES = ("any", "all")

# Mailchimp's default when `match` is omitted is not documented; "all" is the
# conservative reading (a narrower segment never mails someone unexpectedly).
DEFAULT_MATCH = "all"

EMULATED_TYPES = frozenset(
    {
        "TextMerge",
        "SelectMerge",
        "EmailAddress",
        "StaticSegment",
        "Interests",
        "VIP",
        "Language",
        "MemberRating",
        "SignupSource",
    }
)

_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    # Python's JSON parser accepts Infinity and NaN; JSON has no such numbers.
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


@cache
def condition_schemas() -> dict[str, dict[str, Any]]:
    """condition_type → the spec's schema of that condition (from `Conditions`)."""
    schemas = spec.document()["components"]["schemas"]
    alternatives = schemas["Conditions"]["properties"]["conditions"]["items"]["x-oneOf"]
    found: dict[str, dict[str, Any]] = {}
    for alternative in alternatives:
        kind = alternative.get("properties", {}).get("condition_type", {}).get("enum", [None])[0]
        if isinstance(kind, str):
            found[kind] = alternative
    return found


@dataclass(frozen=True, slots=True)
class Options:
    match: str
    conditions: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {"match": self.match, "conditions": self.conditions}


def parse_options(raw: object, *, field: str = "options") -> Options:
    """Validate `options` (already type-checked as an object by the spec's schema)."""
    if not isinstance(raw, dict):
        raise problems.field_error(
            field, f"Schema describes object, {json_type(raw)} found instead"
        )
    match = raw.get("match", DEFAULT_MATCH)
    if match not in MATCH_TYPES:
        raise problems.field_error(
            f"{field}.match", f"Schema describes enum, {match} found instead"
        )
    conditions = raw.get("conditions")
    if conditions is None:
        raise problems.invalid_resource(
            errors=[{"field": field, "message": "Required fields were not provided: conditions"}]
        )
    if not isinstance(conditions, list):
        raise problems.field_error(
            f"{field}.conditions", f"Schema describes array, {json_type(conditions)} found instead"
        )
    if not conditions:
        raise problems.field_error(
            f"{field}.conditions", "A saved segment needs at least one condition."
        )
    checked = [
        _check_condition(item, field=f"{field}.conditions.{index}")
        for index, item in enumerate(conditions)
    ]
    return Options(match=str(match), conditions=checked)


def _check_condition(item: object, *, field: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise problems.field_error(
            field, f"Schema describes object, {json_type(item)} found instead"
        )
    kind = item.get("condition_type")
    if kind is not None and not isinstance(kind, str):
        raise problems.field_error(
            f"{field}.condition_type", f"Schema describes string, {json_type(kind)} found instead"
        )
    if kind is None:
        raise problems.invalid_resource(
            errors=[
                {"field": field, "message": "Required fields were not provided: condition_type"}
            ]
        )
    schemas = condition_schemas()
    if kind not in schemas:
        raise problems.field_error(
            f"{field}.condition_type", f"Schema describes enum, {kind} found instead"
        )
    schema = schemas[kind]
    missing = [name for name in schema.get("required", []) if name not in item]
    if missing:
        raise problems.invalid_resource(
            errors=[
                {
                    "field": field,
                    "message": f"Required fields were not provided: {', '.join(missing)}",
                }
            ]
        )
    for name, prop in schema.get("properties", {}).items():
        if name not in item:
            continue
        value = item[name]
        expected = prop.get("type")
        if (
            isinstance(expected, str)
            and expected in _JSON_TYPES
            and not _JSON_TYPES[expected](value)
        ):
            raise problems.field_error(
                f"{field}.{name}", f"Schema describes {expected}, {json_type(value)} found instead"
            )
        if "enum" in prop and value not in prop["enum"]:
            raise problems.field_error(
                f"{field}.{name}", f"Schema describes enum, {value} found instead"
            )
    if kind not in EMULATED_TYPES:
        raise problems.not_emulated(f"Segment condition_type {kind!r}")
    if kind == "Interests":
        _check_interests_condition(item, field=field)
    # Only the condition's own properties are kept (and echoed back).
    known = schema.get("properties", {})
    return {name: value for name, value in item.items() if name in known}


def _check_interests_condition(item: Mapping[str, Any], *, field: str) -> None:
    # The spec leaves both optional, but an Interests condition means nothing without them.
    for name in ("field", "op", "value"):
        if name not in item:
            raise problems.invalid_resource(
                errors=[{"field": field, "message": f"Required fields were not provided: {name}"}]
            )
    if not all(isinstance(v, str) for v in item["value"]):
        raise problems.field_error(f"{field}.value", "Interest ids must be strings.")


# -- matching ----------------------------------------------------------------

StaticMembership = Callable[[Member, int], bool]


def matches(member: Member, options: Options, *, in_static: StaticMembership) -> bool:
    results = (_matches_one(member, c, in_static=in_static) for c in options.conditions)
    return any(results) if options.match == "any" else all(results)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):  # address merge fields
        return " ".join(str(v) for v in value.values() if v not in (None, ""))
    return str(value)


def _compare_text(actual: str, op: str, expected: str) -> bool:
    """Mailchimp's text operators; comparisons ignore case, as its segment builder does."""
    a, e = actual.casefold().strip(), expected.casefold().strip()
    if op == "is":
        return a == e
    if op == "not":
        return a != e
    if op == "contains":
        return e in a
    if op == "notcontain":
        return e not in a
    if op == "starts":
        return a.startswith(e)
    if op == "ends":
        return a.endswith(e)
    if op == "blank":
        return a == ""
    if op == "blank_not":
        return a != ""
    if op in ("greater", "less"):
        try:
            left, right = float(a), float(e)
        except ValueError:
            return a > e if op == "greater" else a < e
        return left > right if op == "greater" else left < right
    return False


def _compare_number(actual: float, op: str, expected: float) -> bool:
    if op == "is":
        return actual == expected
    if op == "not":
        return actual != expected
    if op == "greater":
        return actual > expected
    if op == "less":
        return actual < expected
    return False


def _matches_one(
    member: Member, condition: Mapping[str, Any], *, in_static: StaticMembership
) -> bool:
    kind = condition["condition_type"]
    op = str(condition.get("op", ""))
    value = condition.get("value")
    if kind in ("TextMerge", "SelectMerge"):
        tag = str(condition.get("field", ""))
        actual = _text(member.merge_fields.get(tag, member.merge_fields.get(tag.upper())))
        return _compare_text(actual, op, _text(value))
    if kind == "EmailAddress":
        return _compare_text(member.email_address, op, _text(value))
    if kind == "StaticSegment":
        # JSON bodies may carry Infinity or NaN (Python's parser accepts them).
        inside = (
            isinstance(value, int | float)
            and math.isfinite(value)
            and in_static(member, int(value))
        )
        return inside if op == "static_is" else not inside
    if kind == "Interests":
        chosen = {key for key, on in member.interests.items() if on}
        wanted = set(value or [])
        if op == "interestcontains":
            return bool(chosen & wanted)
        if op == "interestcontainsall":
            return wanted <= chosen
        return not chosen & wanted  # interestnotcontains
    if kind == "VIP":
        return member.vip if op == "member" else not member.vip
    if kind == "Language":
        return _compare_text(member.language, op, _text(value))
    if kind == "MemberRating":
        return isinstance(value, int | float) and _compare_number(
            float(member.member_rating), op, float(value)
        )
    if kind == "SignupSource":
        same = member.source.casefold() == _text(value).casefold()
        return same if op == "source_is" else not same
    return False
