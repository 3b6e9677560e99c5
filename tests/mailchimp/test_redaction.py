"""Tokens and API keys never reach logs, reprs, exception messages or call accounting."""

from __future__ import annotations

import traceback

import httpx
import pytest
import structlog

from chimplink.mailchimp import MailchimpError, OutcomeUnknownError, fetch_metadata
from tests.mailchimp.conftest import API_KEY, TOKEN, Harness, problem

SECRETS = (TOKEN, API_KEY)


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    assert API_KEY.split("-")[0] not in text  # not even the key without its dc suffix


def failing_sequence():  # type: ignore[no-untyped-def]
    answers = iter(
        [
            httpx.Response(429),
            httpx.ReadTimeout("slow"),
            problem(401, "API Key Invalid", "Your API key may be invalid"),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


@pytest.mark.parametrize("credential", ["access_token", "api_key"])
async def test_nothing_the_client_emits_contains_the_credential(
    harness: Harness, credential: str
) -> None:
    secret = TOKEN if credential == "access_token" else API_KEY
    credentials = {"access_token": None, "api_key": None, credential: secret}
    client = harness.client(failing_sequence(), **credentials)
    with structlog.testing.capture_logs() as logs, pytest.raises(MailchimpError) as caught:
        await client.lists.members.get("l1", "a@example.com")
    # the credential was really sent…
    assert secret in harness.requests[0].headers["Authorization"] or credential == "api_key"
    # …and appears nowhere else.
    assert logs, "retries are logged"
    assert_clean(repr(logs))
    assert_clean(str(caught.value))
    assert_clean(repr(caught.value))
    assert_clean("".join(traceback.format_exception(caught.value)))
    assert_clean(caught.value.user_message)
    assert_clean(repr(client))
    assert_clean(repr(client.lists.members))
    assert_clean(repr(vars(client._requestor)))
    assert_clean(repr(harness.recorder.calls))
    assert_clean(client.account_key)


async def test_outcome_unknown_messages_are_clean(harness: Harness) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset")

    client = harness.client(handler)
    with pytest.raises(OutcomeUnknownError) as caught:
        await client.file_manager.files.upload("a.png", b"x")
    assert_clean("".join(traceback.format_exception(caught.value)))


async def test_metadata_errors_do_not_echo_the_token() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"error": "invalid_token", "error_description": "bad"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(MailchimpError) as caught:
            await fetch_metadata(http=http, access_token=TOKEN)
    assert_clean(str(caught.value))
    assert_clean(repr(caught.value))
