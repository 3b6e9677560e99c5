"""Mailchimp's OpenAPI document (3.0.85), shipped with the emulator.

The emulator validates request bodies against the spec's own request schemas,
so a body Mailchimp's schema validator would refuse is refused here with the
same kind of `errors[]` entry. The conformance tests validate responses
against the response schemas through `response_schema()`.

The document is the Ballerina conversion (see `spec/SOURCE.md`): parameter
names are camelCased there, so operations are matched on the path *shape*
(`/lists/{}/members/{}`). Two conversion artifacts are neutralised in
`_json_schema()`: `additionalProperties` sub-schemas that declare map values as
objects (merge_fields values are strings or objects in reality) and OpenAPI's
`nullable`, which JSON Schema spells as a type union.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

from chimplink.emulator import problems
from chimplink.emulator.context import json_type

SPEC_FILE = "mailchimp-marketing-openapi-3.0.85.ballerina.json"
_PARAM = re.compile(r"\{[^}]+\}")
_DROP_KEYS = frozenset(
    {"format", "example", "x-title", "readOnly", "x-ballerina-name", "description", "title"}
)


def shape(path: str) -> str:
    """`/lists/{listId}/members` and `/lists/{list_id}/members` → `/lists/{}/members`."""
    return _PARAM.sub("{}", path.rstrip("/") or "/")


@cache
def document() -> dict[str, Any]:
    text = resources.files("chimplink.emulator.openapi").joinpath(SPEC_FILE).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@dataclass(frozen=True, slots=True)
class SpecOperation:
    method: str
    path: str  # as written in the spec
    operation_id: str
    tag: str
    raw: dict[str, Any]


@cache
def operations() -> dict[tuple[str, str], SpecOperation]:
    """Every operation of the spec, keyed by (METHOD, path shape)."""
    found: dict[tuple[str, str], SpecOperation] = {}
    for path, item in document()["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            tags = op.get("tags") or ["other"]
            found[(method.upper(), shape(path))] = SpecOperation(
                method=method.upper(),
                path=path,
                operation_id=op.get("operationId", ""),
                tag=tags[0],
                raw=op,
            )
    return found


def iter_operations() -> Iterator[SpecOperation]:
    return iter(operations().values())


def find(method: str, path: str) -> SpecOperation | None:
    return operations().get((method.upper(), shape(path)))


def _without_map_artifacts(node: Any) -> Any:
    if isinstance(node, list):
        return [_without_map_artifacts(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _without_map_artifacts(v) for k, v in node.items()}
    if isinstance(out.get("additionalProperties"), dict):
        del out["additionalProperties"]
    return out


def emulated_document(implemented: set[tuple[str, str]], *, server: str) -> dict[str, Any]:
    """The spec restricted to the operations in `implemented` (METHOD, path shape).

    Served at /_emulator/openapi.json and used by the fuzz tests. The map-value
    artifact (see the module docstring) is removed; everything else is as published.
    """
    doc = document()
    paths: dict[str, Any] = {}
    for path, item in doc["paths"].items():
        kept = {
            method: op
            for method, op in item.items()
            if (method.upper(), shape(path)) in implemented
        }
        if kept:
            paths[path] = kept
    sanitized: dict[str, Any] = _without_map_artifacts(
        {**doc, "paths": paths, "servers": [{"url": server}]}
    )
    return sanitized


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _convert(v) for k, v in node.items() if k not in _DROP_KEYS}
    if isinstance(node.get("properties"), dict):
        # Keys of `properties` are field names, not keywords: keep `title`, `description`...
        out["properties"] = {name: _convert(sub) for name, sub in node["properties"].items()}
    if isinstance(out.get("additionalProperties"), dict):
        del out["additionalProperties"]
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/definitions/")
    return out


@cache
def _definitions() -> dict[str, Any]:
    converted: dict[str, Any] = _convert(document()["components"]["schemas"])
    return converted


def _json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {**_convert(schema), "definitions": _definitions()}


def _content_schema(content: dict[str, Any] | None) -> dict[str, Any] | None:
    if not content:
        return None
    for media in ("application/json", "application/problem+json"):
        if media in content and "schema" in content[media]:
            schema: dict[str, Any] = content[media]["schema"]
            return schema
    return None


def request_schema(method: str, path: str) -> dict[str, Any] | None:
    op = find(method, path)
    if op is None:
        return None
    body = op.raw.get("requestBody") or {}
    schema = _content_schema(body.get("content"))
    return _json_schema(schema) if schema else None


def response_schema(method: str, path: str, status: int) -> dict[str, Any] | None:
    """The JSON Schema a response must satisfy; errors use the `default` entry."""
    op = find(method, path)
    if op is None:
        return None
    responses = op.raw.get("responses", {})
    entry = responses.get(str(status))
    if entry is None and status >= 400:
        entry = responses.get("default")
    if entry is None:
        return None
    schema = _content_schema(entry.get("content"))
    return _json_schema(schema) if schema else None


Validator = Callable[[Any], Any]


@cache
def _request_validator(method: str, path: str, relax: frozenset[str]) -> Validator | None:
    schema = request_schema(method, path)
    if schema is None:
        return None
    if relax:
        # Every request schema of the document is a top-level $ref: relax the target.
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = schema["definitions"][ref.rsplit("/", 1)[-1]]
            schema = {**target, "definitions": schema["definitions"]}
        if "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in relax]
    validator: Validator = fastjsonschema.compile(schema)
    return validator


def validate_request(
    method: str, path: str, body: Any, *, relax: frozenset[str] = frozenset()
) -> None:
    """Raise Mailchimp's "Invalid Resource" when `body` breaks the spec's request schema.

    `relax` names top-level required fields the handler checks itself, where
    Mailchimp's rule is conditional (e.g. `status_if_new` only for new members).
    """
    validator = _request_validator(method, shape(path), relax)
    if validator is None:
        return
    try:
        validator(body)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise _to_problem(exc, body) from None


def _to_problem(exc: fastjsonschema.JsonSchemaValueException, body: Any) -> problems.ProblemError:
    parts = [str(p) for p in (exc.path or [])[1:]]
    field = ".".join(parts)
    if exc.rule == "required":
        missing = [name for name in (exc.rule_definition or []) if name not in _at(body, parts)]
        return problems.invalid_resource(
            errors=[
                {
                    "field": field,
                    "message": f"Required fields were not provided: {', '.join(missing)}",
                }
            ]
        )
    value = exc.value
    if exc.rule == "type":
        expected = exc.rule_definition
        if isinstance(expected, list):
            expected = expected[0]
        message = f"Schema describes {expected}, {json_type(value)} found instead"
    elif exc.rule == "enum":
        message = f"Schema describes enum, {value} found instead"
    else:
        message = f"Data did not match the schema ({exc.rule})"
    return problems.invalid_resource(errors=[{"field": field, "message": message}])


def _at(body: Any, parts: list[str]) -> Any:
    node = body
    for part in parts:
        if isinstance(node, dict):
            node = node.get(part, {})
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return {}
    return node if isinstance(node, dict) else {}
