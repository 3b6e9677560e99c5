"""Who is calling: API credentials as Mailchimp accepts them (REFERENCE.md §2, §12).

OAuth tokens and API keys are used the same way: HTTP Basic with any user
name, `Authorization: Bearer`, or the `OAuth` scheme mailchimp3 sends. GET
requests may also carry `?apikey=`; when both are present they must agree.
"""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, Backend


def credential(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    from_header: str | None = None
    if header:
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme in ("bearer", "oauth"):
            from_header = value
        elif scheme == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise problems.api_key_invalid() from None
            _, _, from_header = decoded.partition(":")
        else:
            raise problems.api_key_invalid()
        if not from_header:
            raise problems.api_key_missing()
    from_query = request.query_params.get("apikey") if request.method == "GET" else None
    if from_header and from_query and from_header != from_query:
        raise problems.ProblemError(
            401,
            "API Key Invalid",
            "The API key included in the query parameters is not consistent with the "
            "Authorization header. Please provide authorization using a single method.",
        )
    return from_header or from_query


def authenticate(backend: Backend, request: Request, dc: str | None) -> Account:
    """The account behind the request's credential, checked against the URL's datacenter."""
    token = credential(request)
    if not token:
        raise problems.api_key_missing()
    account = backend.account_for_token(token)
    if account is None:
        raise problems.api_key_invalid()
    if dc is not None and dc != account.dc:
        raise problems.wrong_datacenter(dc)
    return account
