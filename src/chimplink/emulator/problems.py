"""Mailchimp's error documents, as the emulator raises and renders them.

Every error the emulator returns is `application/problem+json` with the five
fields of Mailchimp's `ProblemDetailDocument` (REFERENCE.md §5), plus `errors[]`
for validation failures. Handlers raise `ProblemError`; the app renders it.
The constructors below carry Mailchimp's own titles and wording, so that
clients which match on them (ours, and peers) behave as against the real API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

ERROR_DOC_URL = "https://mailchimp.com/developer/marketing/docs/errors/"


class ProblemError(Exception):
    """An error response. `bare=True` sends no body at all (Mailchimp's throttling 403/429)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: Sequence[Mapping[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        bare: bool = False,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})
        self.bare = bare

    def body(self, instance: str) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": ERROR_DOC_URL,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.errors is not None:
            doc["errors"] = self.errors
        return doc


def bad_request(detail: str) -> ProblemError:
    return ProblemError(400, "Bad Request", detail)


def invalid_resource(
    detail: str = (
        "The resource submitted could not be validated. "
        "For field-specific details, see the 'errors' array."
    ),
    errors: Sequence[Mapping[str, str]] | None = None,
) -> ProblemError:
    return ProblemError(
        400, "Invalid Resource", detail, errors=errors if errors is not None else []
    )


def field_error(field: str, message: str) -> ProblemError:
    """One field failed validation (the shape of Mailchimp's schema errors)."""
    return invalid_resource(errors=[{"field": field, "message": message}])


def missing_fields(*names: str) -> ProblemError:
    return invalid_resource(
        errors=[{"field": "", "message": f"Required fields were not provided: {', '.join(names)}"}]
    )


def invalid_action(detail: str) -> ProblemError:
    return ProblemError(400, "Invalid Action", detail)


def json_parse_error(detail: str) -> ProblemError:
    return ProblemError(400, "JSON Parse Exception", detail)


def not_found(detail: str = "The requested resource could not be found.") -> ProblemError:
    return ProblemError(404, "Resource Not Found", detail)


def method_not_allowed(allow: Sequence[str], detail: str | None = None) -> ProblemError:
    return ProblemError(
        405,
        "Method Not Allowed",
        detail
        or (
            "The requested method and resource are not compatible. "
            "See the Allow header for this resource's available methods."
        ),
        headers={"Allow": ", ".join(allow)},
    )


def api_key_missing() -> ProblemError:
    return ProblemError(
        401,
        "API Key Missing",
        "Your request did not include an API key.",
    )


def api_key_invalid() -> ProblemError:
    return ProblemError(
        401,
        "API Key Invalid",
        "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
    )


def wrong_datacenter(dc: str) -> ProblemError:
    return ProblemError(
        403,
        "Wrong Datacenter",
        f"The API key provided is linked to a different datacenter than {dc}.",
    )


def forbidden(detail: str = "You don't have permission to access this resource.") -> ProblemError:
    return ProblemError(403, "Forbidden", detail)


def too_many_connections() -> ProblemError:
    return ProblemError(
        429,
        "Too Many Requests",
        "You have exceeded the limit of 10 simultaneous connections.",
    )


def not_emulated(operation: str) -> ProblemError:
    """An operation Mailchimp has but the emulator does not implement (never a silent 404)."""
    return ProblemError(
        501,
        "Not Emulated",
        f"{operation} is part of the Mailchimp Marketing API but not emulated by chimplink.",
    )


def internal_error() -> ProblemError:
    return ProblemError(
        500,
        "Internal Server Error",
        "A deep, internal error has occurred during the processing of your request. "
        "Please contact support.",
    )


# X-Trigger-Error: Mailchimp's test hook (REFERENCE.md §5). Name → (status, title).
TRIGGERABLE: dict[str, tuple[int, str]] = {
    "BadRequest": (400, "Bad Request"),
    "InvalidAction": (400, "Invalid Action"),
    "InvalidResource": (400, "Invalid Resource"),
    "JSONParseError": (400, "JSON Parse Exception"),
    "APIKeyMissing": (401, "API Key Missing"),
    "APIKeyInvalid": (401, "API Key Invalid"),
    "Forbidden": (403, "Forbidden"),
    "UserDisabled": (403, "User Disabled"),
    "WrongDatacenter": (403, "Wrong Datacenter"),
    "ResourceNotFound": (404, "Resource Not Found"),
    "MethodNotAllowed": (405, "Method Not Allowed"),
    "ResourceNestingTooDeep": (414, "Resource Nesting Too Deep"),
    "InvalidMethodOverride": (422, "Invalid Method Override"),
    "RequestedFieldsInvalid": (422, "Requested Fields Invalid"),
    "TooManyRequests": (429, "Too Many Requests"),
    "InternalServerError": (500, "Internal Server Error"),
    "ComplianceRelated": (503, "Compliance Related"),
}


def triggered(name: str) -> ProblemError:
    status, title = TRIGGERABLE[name]
    return ProblemError(status, title, f"This error was triggered by X-Trigger-Error: {name}.")
