"""The check Mailchimp makes before it saves a webhook URL (REFERENCE.md §4.1).

"While Mailchimp sends HTTP POST for actual data, the webhook validator only
sends HTTP GET requests": one GET with User-Agent `MailChimp.com WebHook
Validator`. Anything but 200 refuses the webhook with a 400 "Invalid Resource"
whose detail names the HTTP code. A receiver that cannot be reached or does
not answer in time has no code; the emulator reports 0 there (curl's
`http_code` for "no response"), as no source gives Mailchimp's text for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from chimplink.emulator import problems
from chimplink.emulator.webhooks.payload import VALIDATOR_USER_AGENT

if TYPE_CHECKING:
    from chimplink.emulator.app import EmulatorApp

NO_RESPONSE = 0


def unverifiable(code: int) -> problems.ProblemError:
    return problems.invalid_resource(
        "We couldn't verify the URL is working. Please double check and try again. "
        f"HTTP Code: {code}"
    )


async def probe(app: EmulatorApp, url: str) -> int:
    """GET the URL as Mailchimp's validator does; its status, or 0 without a response."""
    try:
        response = await app.http_client().get(
            url,
            headers={"User-Agent": VALIDATOR_USER_AGENT},
            timeout=app.config.webhook_timeout_s,
        )
    except (httpx.HTTPError, httpx.InvalidURL, OSError):
        return NO_RESPONSE
    return response.status_code


async def verify_url(app: EmulatorApp, url: str) -> None:
    """Raise Mailchimp's 400 unless the URL answers the validator's GET with 200."""
    code = await probe(app, url)
    if code != 200:
        raise unverifiable(code)
