"""Webhook URL secrets: derived, 128 bits, constant-time checked, invisible in logs."""

from __future__ import annotations

import re
import uuid
from types import SimpleNamespace
from typing import Any

from chimplink.connect import is_valid_webhook_secret, webhook_secret, webhook_url
from chimplink.logging import scrub_text

KEY = b"k" * 32
ID = str(uuid.uuid4())


def _services(key: bytes = KEY) -> Any:
    return SimpleNamespace(
        webhook_key=key, config=SimpleNamespace(public_url="https://chimplink.example")
    )


def test_the_secret_is_32_hex_digits_per_installation() -> None:
    secret = webhook_secret(KEY, ID)
    assert re.fullmatch(r"[0-9a-f]{32}", secret)
    assert webhook_secret(KEY, str(uuid.uuid4())) != secret
    assert webhook_secret(b"x" * 32, ID) != secret
    assert webhook_url(_services(), ID) == (
        f"https://chimplink.example/webhooks/mailchimp/{ID}/{secret}"
    )


def test_only_the_right_secret_for_a_well_formed_id_passes() -> None:
    services = _services()
    secret = webhook_secret(KEY, ID)
    assert is_valid_webhook_secret(services, ID, secret)
    assert not is_valid_webhook_secret(services, ID, secret.upper())
    assert not is_valid_webhook_secret(services, ID, "0" * 32)
    assert not is_valid_webhook_secret(services, str(uuid.uuid4()), secret)
    assert not is_valid_webhook_secret(services, "-", webhook_secret(KEY, "-"))
    assert not is_valid_webhook_secret(services, ID, "é" * 32)


def test_the_redactor_removes_the_secret_from_any_log_line() -> None:
    url = webhook_url(_services(), ID)
    secret = webhook_secret(KEY, ID)
    assert secret not in scrub_text(f"POST {url} 200")
