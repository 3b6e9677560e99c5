"""What a handler receives: the parsed request, the caller's account, the backend."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from chimplink.emulator import problems

if TYPE_CHECKING:
    from chimplink.emulator.app import EmulatorApp
    from chimplink.emulator.backend import Account, Backend
    from chimplink.emulator.routing import Route

_UNSET: Any = object()


@dataclass(slots=True)
class ApiContext:
    request: Request
    app: EmulatorApp
    params: dict[str, str]
    # None for the control plane and OAuth routes, which carry no API credentials.
    account_or_none: Account | None = None
    base_url: str = ""
    route: Route | None = None
    _raw: bytes | None = field(default=None, repr=False)
    _json: Any = field(default=_UNSET, repr=False)

    @property
    def backend(self) -> Backend:
        return self.app.backend

    @property
    def account(self) -> Account:
        if self.account_or_none is None:  # pragma: no cover - a routing bug, not user input
            raise RuntimeError("this route is not authenticated")
        return self.account_or_none

    @property
    def query(self) -> Mapping[str, str]:
        return self.request.query_params

    async def body(self) -> bytes:
        if self._raw is None:
            self._raw = await self.request.body()
        return self._raw

    async def json(self, *, allow_empty: bool = False) -> Any:
        """The JSON body, or Mailchimp's "JSON Parse Exception" (REFERENCE.md §5)."""
        if self._json is _UNSET:
            raw = await self.body()
            if not raw.strip():
                if allow_empty:
                    self._json = {}
                    return self._json
                raise problems.json_parse_error("We encountered an unspecified JSON parsing error.")
            try:
                self._json = json.loads(raw, parse_constant=_reject_constant)
            except (ValueError, UnicodeDecodeError) as exc:
                raise problems.json_parse_error(
                    f"We encountered a JSON parsing error: {exc}"
                ) from None
        return self._json

    async def json_object(self, *, allow_empty: bool = False) -> dict[str, Any]:
        """The body as a JSON object; an array or scalar is an Invalid Resource."""
        data = await self.json(allow_empty=allow_empty)
        if not isinstance(data, dict):
            raise problems.field_error(
                "", f"Schema describes object, {json_type(data)} found instead"
            )
        return data

    async def validated_json(
        self, *, relax: frozenset[str] = frozenset(), allow_empty: bool = False
    ) -> dict[str, Any]:
        """The JSON object body, validated against the spec's request schema for this route.

        `relax` lists required fields whose rule is conditional and checked by
        the handler (see `spec.validate_request`).
        """
        from chimplink.emulator import spec

        body = await self.json_object(allow_empty=allow_empty)
        if self.route is not None:
            spec.validate_request(self.route.method, self.route.path, body, relax=relax)
        return body

    def api_url(self, path: str) -> str:
        """An absolute Marketing API URL for `_links` (`/lists/abc` → `{base}/3.0/lists/abc`)."""
        return f"{self.base_url}/3.0{path}"

    def url(self, path: str) -> str:
        """An absolute URL on this emulator (API links, file URLs, batch results)."""
        return f"{self.base_url}{path}"


def _reject_constant(name: str) -> Any:
    """Python's json accepts NaN and Infinity; JSON (and Mailchimp) does not."""
    raise ValueError(f"{name} is not valid JSON")


def json_type(value: object) -> str:
    """The JSON Schema name of a value's type, as Mailchimp's messages use it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
