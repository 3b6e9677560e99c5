"""Every error the Marketing API client raises, in one tree.

```
MailchimpError                     status, type, title, detail, instance, errors, request_id
├── APIConnectionError             transport failure (DNS, reset, timeout); status is None
│   └── OutcomeUnknownError        a non-idempotent call may or may not have been applied
├── AuthenticationError            401: token revoked or invalid → reconnect (REFERENCE.md §3)
│   └── OAuthError                 the OAuth token/metadata endpoints refused us
├── PermissionDeniedError          403 *with* a problem body (role, disabled user, wrong dc)
├── NotFoundError                  404
├── InvalidRequestError            other 4xx: a request Mailchimp will never accept as sent
│   ├── ValidationError            400 Invalid Resource / field errors (`errors[]`)
│   ├── MemberExistsError          400 Member Exists (POST of an existing address)
│   └── ComplianceError            Member In Compliance State, Forgotten Email Not Subscribed
├── RateLimitError                 429, or a *bare* 403/429 without a body (throttling, §5, §6)
└── ServerError                    5xx, including the CDN's HTML 502 (§5)

WebhookError (ValueError)          a delivery we received, not a call we made
├── WebhookPayloadError            the form body is not a Mailchimp event
└── WebhookSignatureError          X-Mailchimp-Signature missing, malformed, stale or wrong

BatchNotFinishedError (TimeoutError)   polling gave up; resume later with the batch id
```

`error_from_response()` is the only place an HTTP response becomes an error,
and `APIConnectionError.from_transport()` the only place an httpx exception
does (the boundary is `_requestor.py`). Messages never contain credentials:
errors are built from the response body and the operation's path *template*,
never from request headers or URLs.

Each error has `user_message`: plain words for an end user with the next step,
so the UI never has to interpret Mailchimp's titles itself.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

__all__ = [
    "APIConnectionError",
    "AuthenticationError",
    "BatchNotFinishedError",
    "ComplianceError",
    "FieldError",
    "InvalidRequestError",
    "MailchimpError",
    "MemberExistsError",
    "NotFoundError",
    "OAuthError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "ValidationError",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookSignatureError",
    "error_from_response",
]

# Titles Mailchimp uses for per-member compliance outcomes (REFERENCE.md §5):
# final for that record, never retried, never "fixed" by re-subscribing.
_COMPLIANCE_TITLES = frozenset(
    {"member in compliance state", "forgotten email not subscribed", "compliance related"}
)
_MEMBER_EXISTS_TITLE = "member exists"
_VALIDATION_TITLES = frozenset({"invalid resource"})


@dataclass(frozen=True)
class FieldError:
    """One entry of a problem document's `errors[]` (REFERENCE.md §5)."""

    field: str
    message: str


class MailchimpError(Exception):
    """Base of every error of the client. Attributes mirror the problem document."""

    default_user_message: ClassVar[str] = (
        "Mailchimp could not complete this request. Please try again later."
    )

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        instance: str | None = None,
        errors: Sequence[FieldError] = (),
        request_id: str | None = None,
        operation: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.instance = instance
        self.errors: tuple[FieldError, ...] = tuple(errors)
        self.request_id = request_id
        self.operation = operation
        # Seconds the server asked us to wait (Retry-After); Mailchimp documents
        # none, but honouring one costs nothing (reliability.md §4.1).
        self.retry_after = retry_after

    @property
    def user_message(self) -> str:
        """What to tell the end user, including what to do next."""
        return self.default_user_message

    def __str__(self) -> str:
        prefix = f"Request {self.request_id}: " if self.request_id else ""
        where = f" ({self.operation})" if self.operation else ""
        return f"{prefix}{self.message}{where}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, title={self.title!r}, "
            f"detail={self.detail!r}, operation={self.operation!r}, "
            f"request_id={self.request_id!r})"
        )


class APIConnectionError(MailchimpError):
    """The request failed below HTTP: no response, or a broken one.

    `maybe_applied` is False only when the request provably never left
    (connect errors, pool timeouts); the retry policy relies on it to retry
    even non-idempotent calls in that case.
    """

    default_user_message = (
        "chimplink could not reach Mailchimp. It will try again; nothing needs doing now."
    )

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        maybe_applied: bool = True,
        retryable: bool = True,
        status: int | None = None,
    ) -> None:
        super().__init__(message, operation=operation, status=status)
        self.maybe_applied = maybe_applied
        self.retryable = retryable

    @classmethod
    def from_transport(cls, exc: httpx.RequestError, *, operation: str) -> APIConnectionError:
        """Translate an httpx exception, once, at the transport boundary."""
        never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        # Timeouts, resets and protocol errors are transient; a bad URL or
        # proxy configuration is not, and retrying it only delays the report.
        retryable = isinstance(
            exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError
        )
        return cls(
            f"Could not talk to Mailchimp: {type(exc).__name__}",
            operation=operation,
            maybe_applied=not never_sent,
            retryable=retryable,
        )


class OutcomeUnknownError(APIConnectionError):
    """A call that is unsafe to repeat failed after it may have reached Mailchimp.

    Raised for POSTs (`POST /batches`, file uploads, creations) on a transport
    error or a 5xx after sending: repeating them could create duplicates, so
    the caller must reconcile (read back the state) instead. `cause` is the
    error that was observed.
    """

    default_user_message = (
        "The connection to Mailchimp dropped before it answered. chimplink will check "
        "whether the change was saved before trying again."
    )

    def __init__(self, *, operation: str, cause: MailchimpError) -> None:
        super().__init__(
            f"Outcome unknown: {operation} may or may not have been applied ({cause.message})",
            operation=operation,
            maybe_applied=True,
            retryable=False,
            status=cause.status,
        )
        self.cause = cause
        self.request_id = cause.request_id


class AuthenticationError(MailchimpError):
    """401. Mailchimp tokens never expire, so this means revoked: stop and reconnect (§3)."""

    default_user_message = (
        "Mailchimp no longer accepts chimplink's access to your account. "
        "Reconnect your Mailchimp account to resume syncing."
    )


class OAuthError(AuthenticationError):
    """The OAuth token or metadata endpoint refused us (bad code, bad token, no api_endpoint)."""

    default_user_message = (
        "Mailchimp did not confirm the connection. Please connect your Mailchimp account again."
    )

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        status: int | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message, status=status, title=error, detail=message, operation=operation)
        self.error = error


class PermissionDeniedError(MailchimpError):
    """403 with a problem body: the user's role or plan forbids this, or the user is disabled."""

    @property
    def user_message(self) -> str:
        title = (self.title or "").lower()
        if title == "user disabled":
            return (
                "This Mailchimp account has been deactivated. Contact Mailchimp support, "
                "then reconnect your account."
            )
        if title == "wrong datacenter":
            return "Mailchimp rejected the connection details. Reconnect your Mailchimp account."
        return (
            "Your Mailchimp user is not allowed to do this. Ask the account owner for "
            "access (or a plan that includes the feature), or reconnect as an admin."
        )


class NotFoundError(MailchimpError):
    default_user_message = (
        "Mailchimp could not find this item. It may have been deleted in Mailchimp; "
        "check your audience settings in chimplink."
    )


class InvalidRequestError(MailchimpError):
    """A 4xx Mailchimp will reject again if sent unchanged (never retried)."""

    default_user_message = (
        "Mailchimp rejected this change. chimplink has recorded the error; "
        "check the record's data and try again."
    )


class ValidationError(InvalidRequestError):
    """400 Invalid Resource: the body failed validation; `errors` says which fields."""

    @property
    def user_message(self) -> str:
        detail = (self.detail or "").lower()
        if "looks fake or invalid" in detail:
            return (
                "Mailchimp says this email address looks fake or invalid. "
                "Correct the address on your platform."
            )
        if "signed up to a lot of lists very recently" in detail:
            return (
                "Mailchimp is temporarily refusing sign-ups for this address "
                "because it joined many lists recently. chimplink will try again later."
            )
        if self.errors:
            fields = ", ".join(sorted({e.field for e in self.errors if e.field})) or "a field"
            return (
                f"Mailchimp did not accept the value of {fields}. "
                "Correct it on your platform or adjust the field mapping."
            )
        return "Mailchimp did not accept this record's data. Check the record and the mapping."


class MemberExistsError(InvalidRequestError):
    """400 Member Exists: a POST for an address already on the audience (use PUT)."""

    default_user_message = "This email address is already in the Mailchimp audience."


class ComplianceError(InvalidRequestError):
    """A final, per-record outcome: Mailchimp will not (re)subscribe this contact (§5, §8)."""

    @property
    def user_message(self) -> str:
        title = (self.title or "").lower()
        if title == "forgotten email not subscribed":
            return (
                "This contact was permanently deleted from Mailchimp and cannot be re-added. "
                "They can only come back by signing up again themselves."
            )
        if title == "compliance related":
            return (
                "Mailchimp has paused this account for a compliance review. "
                "Contact Mailchimp support; chimplink will resume once it is resolved."
            )
        return (
            "This address unsubscribed, bounced or is under compliance review. "
            "Mailchimp only allows them to re-subscribe themselves, e.g. through a signup form."
        )


class RateLimitError(MailchimpError):
    """Throttled: 429, or a bare 403/429 with no body (REFERENCE.md §5, §6).

    A bare 403 is *not* a permission problem and must not trigger "needs
    reconnect" handling (reliability.md §4.1). `retry_after` is the server's
    Retry-After in seconds, when it sent one (Mailchimp documents none).
    """

    default_user_message = (
        "Mailchimp is handling too many requests for this account right now. "
        "chimplink will slow down and try again shortly."
    )


class ServerError(MailchimpError):
    """5xx. The CDN answers a timed-out call with an HTML 502 (§5): the call may have run."""

    default_user_message = (
        "Mailchimp had a temporary problem. chimplink will try again later; "
        "nothing needs doing now."
    )


class WebhookError(ValueError):
    """A webhook delivery could not be accepted (see the subclasses)."""


class WebhookPayloadError(WebhookError):
    """The body is not a well-formed Mailchimp event delivery."""


class WebhookSignatureError(WebhookError):
    """The X-Mailchimp-Signature header is missing, malformed, too old or does not match."""


class BatchNotFinishedError(TimeoutError):
    """Polling stopped before the batch finished; poll again later with `batch_id`."""

    def __init__(self, batch_id: str, status: str | None) -> None:
        super().__init__(f"Batch {batch_id} has not finished (status {status!r})")
        self.batch_id = batch_id
        self.status = status


# -- building errors from responses -------------------------------------------------


def _problem(response: httpx.Response) -> dict[str, Any] | None:
    """The parsed problem document, or None when the body is empty or not a JSON object."""
    if not response.content:
        return None
    try:
        parsed = json.loads(response.content)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _field_errors(value: object) -> list[FieldError]:
    if not isinstance(value, list):
        return []
    found: list[FieldError] = []
    for item in value:
        if isinstance(item, Mapping):
            found.append(
                FieldError(field=str(item.get("field") or ""), message=str(item.get("message", "")))
            )
    return found


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date, RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds)


def _class_for(status: int, title: str, problem: Mapping[str, Any] | None) -> type[MailchimpError]:
    lowered = title.lower()
    if lowered in _COMPLIANCE_TITLES:
        return ComplianceError
    if status == 429 or (status == 403 and problem is None):
        # "At exceptionally high volumes, you may receive an HTTP 429 or 403
        # without a JSON body" (REFERENCE.md §5): that is throttling.
        return RateLimitError
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404:
        return NotFoundError
    if status >= 500:
        return ServerError
    if lowered == _MEMBER_EXISTS_TITLE:
        return MemberExistsError
    if lowered in _VALIDATION_TITLES or (problem is not None and problem.get("errors")):
        return ValidationError
    return InvalidRequestError


def error_from_response(
    response: httpx.Response, *, operation: str | None = None
) -> MailchimpError:
    """The one mapping from an error response (status ≥ 400) to the error tree.

    Accepts problem+json, plain JSON, HTML (the CDN's 502) and empty bodies.
    """
    problem = _problem(response)
    status = response.status_code
    reason = response.reason_phrase or f"HTTP {status}"
    if problem is not None:
        title = _text(problem.get("title")) or reason
        detail = _text(problem.get("detail"))
    else:
        title = reason
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        detail = (
            f"Mailchimp answered {status} with a non-JSON body ({kind}, "
            f"{len(response.content)} bytes)"
            if response.content
            else f"Mailchimp answered {status} with an empty body"
        )
    cls = _class_for(status, title, problem)
    instance = _text(problem.get("instance")) if problem else None
    request_id = response.headers.get("x-request-id") or instance or None
    message = f"{status} {title}: {detail}" if detail else f"{status} {title}"
    kwargs: dict[str, Any] = {
        "status": status,
        "type": _text(problem.get("type")) if problem else None,
        "title": title,
        "detail": detail,
        "instance": instance,
        "errors": _field_errors(problem.get("errors")) if problem else [],
        "request_id": request_id,
        "operation": operation,
        "retry_after": parse_retry_after(response.headers.get("retry-after")),
    }
    return cls(message, **kwargs)
