"""Every failure the sync meets, classified once by what to do next.

    classify(error_or_member_outcome) → Decision(action, reason, detail, user_message)

    RETRY_LATER        throttling, 5xx, transport failures, unknown outcomes:
                       send again (the writes are idempotent upserts); the
                       checkpoint does not pass the record until it succeeds
    FINAL_FOR_RECORD   Mailchimp will refuse this record as it is (invalid or
                       fake address, compliance state, forgotten address,
                       invalid merge value): park it, and do not send it
                       again until the record's content changes
    NEEDS_RECONNECT    401 (tokens never expire: the user removed the app):
                       stop the run, flag the installation
    FATAL_CONFIG       the audience is gone, or the account cannot do this:
                       stop the run with a message saying what to fix

Per-member errors of batch subscribe carry no title, only Mailchimp's text
(REFERENCE.md §5, §8.3), so they are matched on the observed wording.
`reason` is short and free of personal data (it keys the "failed by reason"
summary); `detail` is Mailchimp's own words and may contain the address, so
it is stored with the record (which holds the address anyway), never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chimplink.mailchimp import (
    APIConnectionError,
    AuthenticationError,
    BatchNotFinishedError,
    ComplianceError,
    InvalidRequestError,
    MailchimpError,
    MemberExistsError,
    MemberOutcome,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
)

__all__ = ["Action", "Decision", "Reason", "classify"]


class Action(StrEnum):
    RETRY_LATER = "retry_later"
    FINAL_FOR_RECORD = "final_for_record"
    NEEDS_RECONNECT = "needs_reconnect"
    FATAL_CONFIG = "fatal_config"


class Reason(StrEnum):
    """Short, PII-free names of failure causes (the report's "failed by reason")."""

    INVALID_EMAIL = "invalid email"
    COMPLIANCE_STATE = "compliance state"
    FORGOTTEN_EMAIL = "forgotten email"
    MERGE_FIELD_INVALID = "merge field invalid"
    CLEANED_MEMBER = "cleaned member"
    EMAIL_CHANGE_REFUSED = "email change refused"
    EMAIL_TAKEN = "email already in audience"
    DUPLICATE_EMAIL = "duplicate email"
    MEMBER_EXISTS = "member exists"
    MEMBER_NOT_FOUND = "member not found"
    MISSING_STATUS = "member missing"
    TOO_MANY_SIGNUPS = "too many recent signups"
    REJECTED = "rejected by Mailchimp"
    THROTTLED = "throttled"
    SERVER_ERROR = "Mailchimp error"
    CONNECTION = "connection failed"
    OUTCOME_UNKNOWN = "outcome unknown"
    ACCESS_REVOKED = "access revoked"
    PERMISSION_DENIED = "permission denied"
    AUDIENCE_NOT_FOUND = "audience not found"
    ACCOUNT_REVIEW = "account under compliance review"
    GAVE_UP = "gave up after repeated failures"


_USER_MESSAGES: dict[Reason, str] = {
    Reason.INVALID_EMAIL: (
        "Mailchimp says this email address looks fake or invalid. "
        "Correct the address on your platform; chimplink will send it again then."
    ),
    Reason.COMPLIANCE_STATE: (
        "This address unsubscribed, bounced or is under compliance review in Mailchimp. "
        "Only the person can re-subscribe, e.g. through a signup form."
    ),
    Reason.FORGOTTEN_EMAIL: (
        "This contact was permanently deleted from Mailchimp and cannot be re-added. "
        "They can only come back by signing up again themselves."
    ),
    Reason.MERGE_FIELD_INVALID: (
        "Mailchimp did not accept a field value of this contact. "
        "Correct it on your platform or adjust the field mapping."
    ),
    Reason.CLEANED_MEMBER: (
        "This address bounced and Mailchimp cleaned it; cleaned contacts cannot be edited."
    ),
    Reason.EMAIL_CHANGE_REFUSED: (
        "Mailchimp only changes the address of subscribed contacts. "
        "This contact keeps its old address in Mailchimp."
    ),
    Reason.EMAIL_TAKEN: "The new address already belongs to another contact in the audience.",
    Reason.DUPLICATE_EMAIL: (
        "Another contact on your platform has the same email address; "
        "only one of them can be synced."
    ),
    Reason.MEMBER_EXISTS: "This email address is already in the Mailchimp audience.",
    Reason.MEMBER_NOT_FOUND: "This contact no longer exists in Mailchimp.",
    Reason.MISSING_STATUS: "This contact no longer exists in Mailchimp; it will be added again.",
    Reason.TOO_MANY_SIGNUPS: (
        "Mailchimp is temporarily refusing sign-ups for this address because it joined "
        "many lists recently. chimplink will try again later."
    ),
    Reason.REJECTED: "Mailchimp rejected this contact. Check the record's data and the mapping.",
    Reason.GAVE_UP: (
        "Mailchimp kept failing for this contact. chimplink stopped retrying it; "
        "it will be sent again when the record changes."
    ),
}


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: Reason
    detail: str  # Mailchimp's own words (may contain the address: store, never log)
    user_message: str

    @property
    def record_reason(self) -> str:
        """What is stored with the record and shown: "invalid email: <Mailchimp's words>"."""
        return f"{self.reason.value}: {self.detail}" if self.detail else self.reason.value


def _final(reason: Reason, detail: str) -> Decision:
    return Decision(Action.FINAL_FOR_RECORD, reason, detail, _USER_MESSAGES[reason])


def _from_text(text: str, *, field: str | None = None) -> Reason:
    """A per-record reason from Mailchimp's wording (REFERENCE.md §5)."""
    lowered = text.lower()
    if "compliance state" in lowered:
        return Reason.COMPLIANCE_STATE
    if "permanently deleted" in lowered or "forgotten email" in lowered:
        return Reason.FORGOTTEN_EMAIL
    if "looks fake or invalid" in lowered or "valid email" in lowered:
        return Reason.INVALID_EMAIL
    if "signed up to a lot of lists" in lowered:
        return Reason.TOO_MANY_SIGNUPS
    if "only update email addresses" in lowered:
        return Reason.EMAIL_CHANGE_REFUSED
    if "is already in this list" in lowered:
        return Reason.EMAIL_TAKEN
    if "more than once" in lowered:
        return Reason.DUPLICATE_EMAIL
    if "already a list member" in lowered:
        return Reason.MEMBER_EXISTS
    if "was cleaned" in lowered or ("cleaned" in lowered and "cannot be edited" in lowered):
        return Reason.CLEANED_MEMBER
    if "not provided" in lowered and "status" in lowered:
        return Reason.MISSING_STATUS
    if (field and field != "email_address") or "merge field" in lowered:
        return Reason.MERGE_FIELD_INVALID
    if field == "email_address":
        return Reason.INVALID_EMAIL
    return Reason.REJECTED


def _member_decision(reason: Reason, detail: str) -> Decision:
    if reason is Reason.TOO_MANY_SIGNUPS:
        return Decision(Action.RETRY_LATER, reason, detail, _USER_MESSAGES[reason])
    return _final(reason, detail)


def _is_member_operation(error: MailchimpError) -> bool:
    return "{subscriber_hash}" in (error.operation or "")


def _classify_error(error: MailchimpError) -> Decision:
    detail = " — ".join(part for part in (error.title, error.detail) if part)
    if isinstance(error, AuthenticationError):
        return Decision(Action.NEEDS_RECONNECT, Reason.ACCESS_REVOKED, detail, error.user_message)
    if isinstance(error, RateLimitError):
        return Decision(Action.RETRY_LATER, Reason.THROTTLED, detail, error.user_message)
    if isinstance(error, ServerError):
        return Decision(Action.RETRY_LATER, Reason.SERVER_ERROR, detail, error.user_message)
    if isinstance(error, APIConnectionError):
        return Decision(Action.RETRY_LATER, Reason.CONNECTION, detail, error.user_message)
    if isinstance(error, PermissionDeniedError):
        if (error.title or "").lower() == "wrong datacenter":
            return Decision(
                Action.NEEDS_RECONNECT, Reason.ACCESS_REVOKED, detail, error.user_message
            )
        return Decision(Action.FATAL_CONFIG, Reason.PERMISSION_DENIED, detail, error.user_message)
    if isinstance(error, NotFoundError):
        if _is_member_operation(error):
            return _final(Reason.MEMBER_NOT_FOUND, detail)
        return Decision(
            Action.FATAL_CONFIG,
            Reason.AUDIENCE_NOT_FOUND,
            detail,
            "The Mailchimp audience chimplink syncs to no longer exists (it was deleted, "
            "or the account changed). Pick an audience in the sync settings to resume.",
        )
    if isinstance(error, ComplianceError):
        title = (error.title or "").lower()
        if title == "compliance related":
            return Decision(Action.FATAL_CONFIG, Reason.ACCOUNT_REVIEW, detail, error.user_message)
        if title == "forgotten email not subscribed":
            return _final(Reason.FORGOTTEN_EMAIL, detail)
        return _final(Reason.COMPLIANCE_STATE, detail)
    if isinstance(error, MemberExistsError):
        return _final(Reason.MEMBER_EXISTS, detail)
    if isinstance(error, ValidationError):
        fields = [e.field for e in error.errors if e.field]
        messages = " ".join(e.message for e in error.errors)
        text = f"{error.detail or ''} {messages}"
        reason = _from_text(text, field=fields[0] if fields else None)
        if reason is Reason.REJECTED and fields:
            reason = Reason.MERGE_FIELD_INVALID
        full_detail = f"{detail} ({messages})" if messages else detail
        return _member_decision(reason, full_detail)
    if isinstance(error, InvalidRequestError):
        return _member_decision(_from_text(f"{error.title} {error.detail}"), detail)
    # The bare base class is not raised by the client; treat it as transient.
    return Decision(Action.RETRY_LATER, Reason.SERVER_ERROR, detail, error.user_message)


def classify(failure: MailchimpError | MemberOutcome | BatchNotFinishedError) -> Decision:
    """What to do about a client error, or about one member's outcome of a batch subscribe."""
    if isinstance(failure, MemberOutcome):
        if failure.exception is not None:
            return _classify_error(failure.exception)
        if failure.status == "unknown":
            return Decision(
                Action.RETRY_LATER,
                Reason.OUTCOME_UNKNOWN,
                failure.error or "",
                "chimplink could not confirm this change with Mailchimp; it will send it again.",
            )
        if failure.status != "error":
            raise ValueError(f"member outcome {failure.status!r} is not a failure")
        if failure.error_code == "ERROR_CONTACT_EXISTS":
            return _final(Reason.MEMBER_EXISTS, failure.error or "")
        text = " ".join(p for p in (failure.error, failure.field_message) if p)
        detail = text
        if failure.field:
            detail = f"{failure.field}: {text}"
        return _member_decision(_from_text(text, field=failure.field or None), detail)
    if isinstance(failure, BatchNotFinishedError):
        return Decision(
            Action.RETRY_LATER,
            Reason.SERVER_ERROR,
            str(failure),
            "Mailchimp has not finished processing; chimplink will check again later.",
        )
    if isinstance(failure, MailchimpError):
        return _classify_error(failure)
    raise TypeError(f"cannot classify {type(failure).__name__}")
