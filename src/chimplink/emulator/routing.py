"""URL tables and the small router that gives Mailchimp's 404 and 405 semantics.

Each resource package declares `routes: list[Route]` (and, for the control
plane, `control_routes`). The router indexes them by first path segment, so a
lookup scans a handful of patterns, and a path that matches with another method
yields 405 with an `Allow` header, as Mailchimp has done since 2020-12-16.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

if TYPE_CHECKING:
    from chimplink.emulator.context import ApiContext

# A handler returns a Response, a JSON object (sent as 200 after `fields` /
# `exclude_fields` are applied), or None (204 No Content, as Mailchimp's DELETEs).
Reply = Response | dict[str, Any] | None
Handler = Callable[["ApiContext"], Awaitable[Reply]]

_PARAM = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: `Route("GET", "/lists/{list_id}", handler)`.

    `path` uses the original parameter names of Mailchimp's spec (snake_case);
    the operation name (`GET /lists/{list_id}`) keys stats and coverage.
    """

    method: str
    path: str
    handler: Handler
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pattern = _PARAM.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", self.path.rstrip("/"))
        object.__setattr__(self, "regex", re.compile(f"^{pattern}/?$"))

    @property
    def operation(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class Match:
    route: Route | None
    params: dict[str, str]
    allowed: tuple[str, ...]


class Router:
    def __init__(self, routes: Iterable[Route]) -> None:
        self._by_head: dict[str, list[Route]] = {}
        self.routes: list[Route] = []
        seen: set[str] = set()
        for route in routes:
            if route.operation in seen:
                raise ValueError(f"route declared twice: {route.operation}")
            seen.add(route.operation)
            self.routes.append(route)
            self._by_head.setdefault(_head(route.path), []).append(route)

    def match(self, method: str, path: str) -> Match:
        allowed: list[str] = []
        for route in self._by_head.get(_head(path), ()):
            found = route.regex.match(path)
            if found is None:
                continue
            if route.method == method:
                return Match(route, found.groupdict(), ())
            allowed.append(route.method)
        return Match(None, {}, tuple(allowed))


def _head(path: str) -> str:
    stripped = path.lstrip("/")
    return stripped.split("/", 1)[0]
