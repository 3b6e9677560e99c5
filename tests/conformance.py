"""Response conformance against Mailchimp's OpenAPI document (3.0.85).

`assert_conforms(response, "GET", "/lists/{list_id}")` validates the body of a
response against the spec's schema for that operation and status (errors
against `ProblemDetailDocument`). Every check is recorded in `CHECKED`, so the
suite can tell which implemented operations were shown conformant with both a
success and an error body.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import fastjsonschema
import httpx

from chimplink.emulator import spec

# (METHOD, path template, "success" | "error") for every conformance check made.
CHECKED: set[tuple[str, str, str]] = set()


@cache
def _validator(method: str, path: str, status: int) -> Callable[[Any], Any]:
    schema = spec.response_schema(method, path, status)
    assert schema is not None, f"the spec has no {status} response for {method} {path}"
    return fastjsonschema.compile(schema)


def assert_conforms(response: httpx.Response, method: str, path: str) -> Any:
    """Assert the response matches the spec; return its parsed body (None for 204)."""
    assert spec.find(method, path) is not None, f"{method} {path} is not in the spec"
    status = response.status_code
    kind = "success" if status < 400 else "error"
    CHECKED.add((method.upper(), spec.shape(path), kind))
    if status == 204:
        assert response.content == b"", "204 must have no body"
        return None
    content_type = response.headers.get("content-type", "")
    if kind == "error":
        assert content_type.startswith("application/problem+json"), content_type
    else:
        assert content_type.startswith("application/json"), content_type
    body = response.json()
    try:
        _validator(method.upper(), spec.shape(path), status)(body)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise AssertionError(
            f"{method} {path} → {status} breaks the spec: {exc.message} (at {exc.path})\n{body}"
        ) from None
    return body
