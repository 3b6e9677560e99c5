"""error_from_response(): every status and title maps to one class, with a user message."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from chimplink.mailchimp import (
    APIConnectionError,
    AuthenticationError,
    ComplianceError,
    FieldError,
    InvalidRequestError,
    MailchimpError,
    MemberExistsError,
    NotFoundError,
    OAuthError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
    error_from_response,
)
from chimplink.mailchimp.errors import parse_retry_after
from tests.mailchimp.conftest import problem


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (problem(400, "Invalid Resource", "bad", errors=[]), ValidationError),
        (
            problem(400, "Bad Request", "x", errors=[{"field": "a", "message": "b"}]),
            ValidationError,
        ),
        (problem(400, "Member Exists", "a@b.c is already a list member."), MemberExistsError),
        (problem(400, "Member In Compliance State", "in compliance"), ComplianceError),
        (problem(400, "Forgotten Email Not Subscribed", "deleted"), ComplianceError),
        (problem(503, "Compliance Related", "review"), ComplianceError),
        (problem(400, "JSON Parse Exception", "bad json"), InvalidRequestError),
        (problem(400, "Invalid Action", "nope"), InvalidRequestError),
        (problem(405, "Method Not Allowed", "no"), InvalidRequestError),
        (problem(414, "Resource Nesting Too Deep", "deep"), InvalidRequestError),
        (problem(422, "Invalid Method Override", "x"), InvalidRequestError),
        (problem(401, "API Key Invalid", "Your API key may be invalid"), AuthenticationError),
        (problem(401, "API Key Missing", "none"), AuthenticationError),
        (problem(403, "Forbidden", "no access"), PermissionDeniedError),
        (problem(403, "User Disabled", "deactivated"), PermissionDeniedError),
        (problem(403, "Wrong Datacenter", "other dc"), PermissionDeniedError),
        (problem(404, "Resource Not Found", "gone"), NotFoundError),
        (problem(429, "Too Many Requests", "10 connections"), RateLimitError),
        (httpx.Response(429), RateLimitError),
        (httpx.Response(403), RateLimitError),
        (problem(500, "Internal Server Error", "deep"), ServerError),
        (problem(501, "Not Emulated", "x"), ServerError),
        (problem(503, "Service Unavailable", "x"), ServerError),
        (
            httpx.Response(
                502, content=b"<html>Bad Gateway</html>", headers={"content-type": "text/html"}
            ),
            ServerError,
        ),
    ],
)
def test_each_response_maps_to_one_class(
    response: httpx.Response, expected: type[MailchimpError]
) -> None:
    error = error_from_response(response, operation="GET /lists/{list_id}")
    assert type(error) is expected
    assert error.status == response.status_code
    assert error.operation == "GET /lists/{list_id}"
    assert error.user_message  # every error can be shown to a user


def test_problem_fields_are_kept() -> None:
    response = problem(
        400,
        "Invalid Resource",
        "The resource submitted could not be validated.",
        errors=[{"field": "merge_fields.FNAME", "message": "Please enter a value"}],
        headers={"X-Request-Id": "req-42"},
    )
    error = error_from_response(response)
    assert isinstance(error, ValidationError)
    assert error.title == "Invalid Resource"
    assert error.detail == "The resource submitted could not be validated."
    assert error.type == "https://mailchimp.com/developer/marketing/docs/errors/"
    assert error.instance == "inst-1"
    assert error.request_id == "req-42"
    assert error.errors == (FieldError("merge_fields.FNAME", "Please enter a value"),)
    assert str(error).startswith("Request req-42: 400 Invalid Resource")
    assert "merge_fields.FNAME" in error.user_message


def test_request_id_falls_back_to_instance() -> None:
    error = error_from_response(problem(404, "Resource Not Found", "gone"))
    assert error.request_id == "inst-1"


def test_html_502_from_the_cdn_is_a_server_error_without_the_page() -> None:
    html = b"<html><body>" + b"x" * 5000 + b"</body></html>"
    response = httpx.Response(502, content=html, headers={"content-type": "text/html"})
    error = error_from_response(response)
    assert isinstance(error, ServerError)
    assert error.title == "Bad Gateway"
    assert error.detail is not None and "non-JSON body (text/html" in error.detail
    assert "<html>" not in str(error)
    assert "temporary problem" in error.user_message


def test_json_that_is_not_an_object_is_treated_as_no_body() -> None:
    error = error_from_response(httpx.Response(403, content=b"[1, 2]"))
    assert isinstance(error, RateLimitError)  # bare 403: throttling, not permissions


def test_empty_body_detail_says_so() -> None:
    error = error_from_response(httpx.Response(429))
    assert error.detail == "Mailchimp answered 429 with an empty body"
    assert "too many requests" in error.user_message


def test_bare_403_is_throttling_but_403_with_a_body_is_permissions() -> None:
    bare = error_from_response(httpx.Response(403))
    with_body = error_from_response(problem(403, "Forbidden", "role"))
    assert isinstance(bare, RateLimitError)
    assert not isinstance(bare, PermissionDeniedError)
    assert isinstance(with_body, PermissionDeniedError)


def test_problem_with_non_string_fields_is_tolerated() -> None:
    response = httpx.Response(400, json={"title": 7, "detail": None, "errors": "nope"})
    error = error_from_response(response)
    assert isinstance(error, InvalidRequestError)
    assert error.title == "Bad Request"
    assert error.errors == ()
    assert str(error) == "400 Bad Request"


def test_field_errors_skip_non_objects() -> None:
    response = httpx.Response(
        400, json={"title": "Invalid Resource", "errors": ["x", {"message": "Required"}]}
    )
    error = error_from_response(response)
    assert error.errors == (FieldError("", "Required"),)


@pytest.mark.parametrize(
    ("title", "detail", "fragment"),
    [
        ("Member In Compliance State", "", "only allows them to re-subscribe themselves"),
        ("Forgotten Email Not Subscribed", "", "permanently deleted"),
        ("Compliance Related", "", "compliance review"),
    ],
)
def test_compliance_user_messages(title: str, detail: str, fragment: str) -> None:
    status = 503 if title == "Compliance Related" else 400
    error = error_from_response(problem(status, title, detail))
    assert isinstance(error, ComplianceError)
    assert fragment in error.user_message


@pytest.mark.parametrize(
    ("detail", "fragment"),
    [
        ("fooboo@example.com looks fake or invalid, please enter a real email address.", "fake"),
        ("a@b.c has signed up to a lot of lists very recently; we're not allowing more", "many"),
        ("The resource submitted could not be validated.", "did not accept this record"),
    ],
)
def test_validation_user_messages(detail: str, fragment: str) -> None:
    error = error_from_response(problem(400, "Invalid Resource", detail, errors=[]))
    assert fragment in error.user_message


@pytest.mark.parametrize(
    ("title", "fragment"),
    [
        ("User Disabled", "deactivated"),
        ("Wrong Datacenter", "Reconnect"),
        ("Forbidden", "not allowed"),
    ],
)
def test_permission_user_messages(title: str, fragment: str) -> None:
    assert fragment in error_from_response(problem(403, title, "x")).user_message


def test_other_user_messages_name_the_next_step() -> None:
    assert (
        "Reconnect your Mailchimp account"
        in error_from_response(problem(401, "API Key Invalid", "x")).user_message
    )
    assert (
        "already in the Mailchimp audience"
        in error_from_response(problem(400, "Member Exists", "x")).user_message
    )
    assert "could not find" in error_from_response(problem(404, "Resource Not Found")).user_message
    assert "rejected" in error_from_response(problem(405, "Method Not Allowed")).user_message
    assert "connect your Mailchimp account again" in OAuthError("x").user_message
    unknown = OutcomeUnknownError(operation="POST /batches", cause=ServerError("500", status=500))
    assert "check whether the change was saved" in unknown.user_message
    assert "could not reach" in APIConnectionError("x").user_message
    assert "try again later" in MailchimpError("x").user_message


def test_retry_after_seconds_and_http_date() -> None:
    seconds = error_from_response(httpx.Response(429, headers={"Retry-After": "7"}))
    assert seconds.retry_after == 7.0
    when = email.utils.formatdate(1_000_030.0, usegmt=True)
    assert parse_retry_after(when, now=1_000_000.0) == pytest.approx(30.0)
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00", now=0.0) is None  # no zone
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-5") == 0.0
    assert error_from_response(httpx.Response(503)).retry_after is None


@pytest.mark.parametrize(
    ("exc", "maybe_applied", "retryable"),
    [
        (httpx.ConnectError("refused"), False, True),
        (httpx.ConnectTimeout("slow"), False, True),
        (httpx.PoolTimeout("pool"), False, True),
        (httpx.ReadTimeout("read"), True, True),
        (httpx.ReadError("reset"), True, True),
        (httpx.WriteError("broken pipe"), True, True),
        (httpx.RemoteProtocolError("disconnected"), True, True),
        (httpx.UnsupportedProtocol("ftp"), True, False),
        (httpx.DecodingError("gzip"), True, False),
    ],
)
def test_transport_errors_are_translated_once(
    exc: httpx.RequestError, maybe_applied: bool, retryable: bool
) -> None:
    error = APIConnectionError.from_transport(exc, operation="GET /ping")
    assert error.status is None
    assert error.maybe_applied is maybe_applied
    assert error.retryable is retryable
    assert type(exc).__name__ in str(error)


def test_outcome_unknown_keeps_the_cause() -> None:
    cause = ServerError("502 Bad Gateway", status=502, request_id="r1")
    error = OutcomeUnknownError(operation="POST /batches", cause=cause)
    assert isinstance(error, APIConnectionError)
    assert error.cause is cause
    assert error.status == 502
    assert error.request_id == "r1"
    assert "POST /batches may or may not have been applied" in str(error)


def test_repr_names_the_class_and_fields() -> None:
    error = error_from_response(problem(404, "Resource Not Found", "gone"), operation="GET /x")
    assert repr(error) == (
        "NotFoundError(status=404, title='Resource Not Found', detail='gone', "
        "operation='GET /x', request_id='inst-1')"
    )
