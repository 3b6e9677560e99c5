"""Every failure classified once, by what to do next (wordings as Mailchimp sends them)."""

from __future__ import annotations

import httpx
import pytest

from chimplink.mailchimp import (
    APIConnectionError,
    BatchNotFinishedError,
    MemberOutcome,
    OutcomeUnknownError,
    ServerError,
    error_from_response,
)
from chimplink.sync import Action, Reason, classify

MEMBER = "PUT /lists/{list_id}/members/{subscriber_hash}"
LIST = "POST /lists/{list_id}"


def problem(status: int, title: str, detail: str = "", *, operation: str = LIST, **extra: object):  # type: ignore[no-untyped-def]
    body = {"type": "t", "title": title, "status": status, "detail": detail, "instance": "i"}
    body.update(extra)
    response = httpx.Response(
        status, json=body, headers={"content-type": "application/problem+json"}
    )
    return error_from_response(response, operation=operation)


@pytest.mark.parametrize(
    ("error", "action", "reason"),
    [
        (problem(401, "API Key Invalid"), Action.NEEDS_RECONNECT, Reason.ACCESS_REVOKED),
        (problem(403, "Wrong Datacenter"), Action.NEEDS_RECONNECT, Reason.ACCESS_REVOKED),
        (problem(403, "User Disabled"), Action.FATAL_CONFIG, Reason.PERMISSION_DENIED),
        (problem(404, "Resource Not Found"), Action.FATAL_CONFIG, Reason.AUDIENCE_NOT_FOUND),
        (
            problem(404, "Resource Not Found", operation=MEMBER),
            Action.FINAL_FOR_RECORD,
            Reason.MEMBER_NOT_FOUND,
        ),
        (problem(429, "Too Many Requests"), Action.RETRY_LATER, Reason.THROTTLED),
        (
            error_from_response(httpx.Response(403), operation=LIST),  # bare 403: throttled
            Action.RETRY_LATER,
            Reason.THROTTLED,
        ),
        (problem(503, "Service Unavailable"), Action.RETRY_LATER, Reason.SERVER_ERROR),
        (
            APIConnectionError("reset", operation=LIST),
            Action.RETRY_LATER,
            Reason.CONNECTION,
        ),
        (
            OutcomeUnknownError(operation=LIST, cause=ServerError("x", status=500)),
            Action.RETRY_LATER,
            Reason.CONNECTION,
        ),
        (
            problem(
                400,
                "Member In Compliance State",
                "a@b.com is in a compliance state due to unsubscribe, bounce, or compliance "
                "review and cannot be subscribed.",
            ),
            Action.FINAL_FOR_RECORD,
            Reason.COMPLIANCE_STATE,
        ),
        (
            problem(400, "Forgotten Email Not Subscribed", "a@b.com was permanently deleted"),
            Action.FINAL_FOR_RECORD,
            Reason.FORGOTTEN_EMAIL,
        ),
        (
            problem(400, "Compliance Related", "Account under review"),
            Action.FATAL_CONFIG,
            Reason.ACCOUNT_REVIEW,
        ),
        (
            problem(
                400,
                "Invalid Resource",
                "a@b.com looks fake or invalid, please enter a real email address.",
            ),
            Action.FINAL_FOR_RECORD,
            Reason.INVALID_EMAIL,
        ),
        (
            problem(
                400,
                "Invalid Resource",
                "Your merge fields were invalid.",
                errors=[{"field": "ZIP", "message": "Please enter a five digit zip"}],
            ),
            Action.FINAL_FOR_RECORD,
            Reason.MERGE_FIELD_INVALID,
        ),
        (
            problem(
                400,
                "Invalid Resource",
                "a@b.com has signed up to a lot of lists very recently; "
                "we're not allowing more signups for now",
            ),
            Action.RETRY_LATER,
            Reason.TOO_MANY_SIGNUPS,
        ),
        (
            problem(
                400,
                "Invalid Resource",
                'This member\'s status is "pending." You can only update email addresses for '
                'members with a status of "subscribed."',
                operation="PATCH /lists/{list_id}/members/{subscriber_hash}",
            ),
            Action.FINAL_FOR_RECORD,
            Reason.EMAIL_CHANGE_REFUSED,
        ),
        (problem(400, "Member Exists", "use PUT"), Action.FINAL_FOR_RECORD, Reason.MEMBER_EXISTS),
        (problem(400, "Bad Request", "nope"), Action.FINAL_FOR_RECORD, Reason.REJECTED),
    ],
)
def test_client_errors(error: object, action: Action, reason: Reason) -> None:
    decision = classify(error)  # type: ignore[arg-type]
    assert (decision.action, decision.reason) == (action, reason)
    assert decision.user_message


def member_error(error: str, code: str = "ERROR_GENERIC", **extra: str) -> MemberOutcome:
    return MemberOutcome(
        email="a@b.com",
        status="error",
        error=error,
        error_code=code,
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("outcome", "action", "reason"),
    [
        (
            member_error("a@b.com looks fake or invalid, please enter a real email address."),
            Action.FINAL_FOR_RECORD,
            Reason.INVALID_EMAIL,
        ),
        (
            member_error(
                "a@b.com is in a compliance state due to unsubscribe, bounce, or compliance "
                "review and cannot be subscribed."
            ),
            Action.FINAL_FOR_RECORD,
            Reason.COMPLIANCE_STATE,
        ),
        (
            member_error(
                "a@b.com was permanently deleted and cannot be re-imported. "
                "The contact must re-subscribe to get back on the list."
            ),
            Action.FINAL_FOR_RECORD,
            Reason.FORGOTTEN_EMAIL,
        ),
        (
            member_error(
                "Your merge fields were invalid.", field="ZIP", field_message="five digits"
            ),
            Action.FINAL_FOR_RECORD,
            Reason.MERGE_FIELD_INVALID,
        ),
        (
            member_error("a@b.com is already a list member", "ERROR_CONTACT_EXISTS"),
            Action.FINAL_FOR_RECORD,
            Reason.MEMBER_EXISTS,
        ),
        (
            member_error("Required fields were not provided: status"),
            Action.FINAL_FOR_RECORD,
            Reason.MISSING_STATUS,
        ),
        (
            MemberOutcome(email="a@b.com", status="unknown", error="chunk failed"),
            Action.RETRY_LATER,
            Reason.OUTCOME_UNKNOWN,
        ),
        (
            MemberOutcome(
                email="a@b.com",
                status="error",
                error="404",
                exception=problem(404, "Resource Not Found"),
            ),
            Action.FATAL_CONFIG,
            Reason.AUDIENCE_NOT_FOUND,
        ),
    ],
)
def test_batch_subscribe_member_outcomes(
    outcome: MemberOutcome, action: Action, reason: Reason
) -> None:
    decision = classify(outcome)
    assert (decision.action, decision.reason) == (action, reason)


def test_record_reason_keeps_mailchimps_words() -> None:
    decision = classify(member_error("x@y.com looks fake or invalid, please enter a real one."))
    assert decision.record_reason == (
        "invalid email: x@y.com looks fake or invalid, please enter a real one."
    )
    assert "@" not in decision.reason.value  # the summary key carries no address


def test_successes_and_strangers_are_not_classified() -> None:
    with pytest.raises(ValueError, match="not a failure"):
        classify(MemberOutcome(email="a@b.com", status="created"))
    with pytest.raises(TypeError):
        classify(RuntimeError("boom"))  # type: ignore[arg-type]
    assert classify(BatchNotFinishedError("b1", "started")).action is Action.RETRY_LATER
