"""Mailchimp's member-specific error documents, word for word (REFERENCE.md §5).

Clients match on these titles and details (chimplink classifies "Member In
Compliance State" and "Forgotten Email Not Subscribed" as final per-record
outcomes), so the wording is kept exactly as observed.
"""

from __future__ import annotations

from chimplink.emulator import problems
from chimplink.emulator.problems import ProblemError


def member_exists(email: str) -> ProblemError:
    return ProblemError(
        400,
        "Member Exists",
        f"{email} is already a list member. Use PUT to insert or update list members.",
    )


def compliance_state(email: str) -> ProblemError:
    return ProblemError(
        400,
        "Member In Compliance State",
        f"{email} is in a compliance state due to unsubscribe, bounce, or compliance review "
        "and cannot be subscribed.",
    )


def forgotten(email: str) -> ProblemError:
    return ProblemError(
        400,
        "Forgotten Email Not Subscribed",
        f"{email} was permanently deleted and cannot be re-imported. "
        "The contact must re-subscribe to get back on the list.",
    )


def looks_fake(email: str) -> ProblemError:
    return ProblemError(
        400,
        "Invalid Resource",
        f"{email} looks fake or invalid, please enter a real email address.",
    )


def cannot_archive() -> ProblemError:
    # Observed with `Allow: GET, PUT` (grouparoo's recorded fixture, §5).
    return problems.method_not_allowed(
        ("GET", "PUT"),
        "This list member cannot be removed. "
        "Can not archive a contact that is bounced, pending or archived",
    )


def email_change_not_subscribed(status: str) -> ProblemError:
    # Observed wording (ibericode/mailchimp-user-sync#96) for a cleaned member.
    return problems.invalid_resource(
        detail=(
            f'This member\'s status is "{status}." You can only update email addresses '
            'for members with a status of "subscribed."'
        ),
    )


def email_taken(email: str, status: str) -> ProblemError:
    # Observed wording (brandonseydel/MailChimp.Net#201) when the new address is
    # already on the audience, archived or not.
    return problems.invalid_resource(
        errors=[
            {
                "field": "email_address",
                "message": f'"{email}" is already in this list with a status of "{status}".',
            }
        ]
    )


def cleaned_not_editable(email: str) -> ProblemError:
    # Mailchimp lets nobody edit a cleaned (bounced) contact; the exact API
    # wording for edits other than an email change was not found, so this
    # detail is the emulator's.
    return problems.invalid_resource(
        detail=(
            f"{email} was cleaned (its address bounced) and cannot be edited; "
            "only a change to pending (a new opt-in) is accepted."
        ),
    )


def hash_mismatch() -> ProblemError:
    return problems.invalid_resource(
        errors=[
            {
                "field": "email_address",
                "message": "The email address does not match the subscriber hash in the URL.",
            }
        ]
    )
