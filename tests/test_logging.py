"""Log redaction: secrets never reach a log line, email addresses only as hashes."""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from chimplink.config import Settings
from chimplink.logging import (
    REDACTED,
    Redactor,
    configure_from_settings,
    configure_logging,
    hash_email,
    is_sensitive_key,
)

TOKEN = "3f9c2a7b5e1d4c8a9b0e6f2d1c3b5a7e"
EMAIL = "Jane.Doe+news@Example.org"
EMAIL_HASH = "email:" + hashlib.sha256(EMAIL.lower().encode()).hexdigest()[:12]


def _scrub(**event: Any) -> dict[str, Any]:
    return Redactor()(None, "info", event)


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "access_token",
        "Access-Token",
        "api_key",
        "apikey",
        "X-Api-Key",
        "secret",
        "client_secret",
        "signing_secret",
        "password",
        "Authorization",
        "cookie",
        "code",
        "code_verifier",
        "refresh_token",
        "webhook_secret",
        "db_password",
    ],
)
def test_sensitive_keys_are_redacted_whatever_the_value(key: str) -> None:
    for value in (TOKEN, 12345, {"nested": TOKEN}, [TOKEN], None):
        assert _scrub(**{key: value})[key] == REDACTED


@pytest.mark.parametrize("key", ["status_code", "key_id", "account_key", "tokens_used", "event"])
def test_ordinary_keys_are_kept(key: str) -> None:
    assert not is_sensitive_key(key)
    assert _scrub(**{key: "value"})[key] == "value"


def test_nested_structures_are_redacted_at_any_depth() -> None:
    event = _scrub(
        event="request",
        request={"headers": {"Authorization": f"Bearer {TOKEN}", "Accept": "json"}},
        steps=[{"params": ({"client_secret": "s3cret"},)}],
    )
    assert event["request"] == {"headers": {"Authorization": REDACTED, "Accept": "json"}}
    assert event["steps"] == [{"params": [{"client_secret": REDACTED}]}]


@pytest.mark.parametrize(
    "text",
    [
        f"sent Authorization: Bearer {TOKEN} upstream",
        f"header was 'OAuth {TOKEN}'",
        f"GET https://app.example/oauth/callback?code={TOKEN}&state=abc123def456",
        f"GET /connect?next=/x&access_token={TOKEN}",
        f'token response {{"access_token": "{TOKEN}", "expires_in": 0}}',
        f"api key {TOKEN}-us6 rejected",
        f"client_secret={TOKEN}",
        f"token {TOKEN} refused",
        f"PUT /lists/a1b2c3/members/{TOKEN} 200",
    ],
)
def test_secrets_inside_text_are_redacted(text: str) -> None:
    scrubbed = _scrub(event=text)["event"]
    assert TOKEN not in scrubbed
    assert REDACTED in scrubbed


def test_emails_are_hashed_anywhere() -> None:
    @dataclass
    class Member:
        email_address: str
        status: str

    class Opaque:
        def __repr__(self) -> str:
            return f"Opaque(owner={EMAIL})"

    event = _scrub(
        event=f"synced {EMAIL}",
        email=EMAIL,
        members=[{"email_address": EMAIL.upper()}, Member(EMAIL, "subscribed")],
        by_email={EMAIL: 1},
        url="https://x.example/members?email=jane.doe%2Bnews%40example.org",
        thing=Opaque(),
        error=ValueError(f"bad address {EMAIL}"),
    )
    rendered = json.dumps(event)
    assert "example.org" not in rendered.lower()
    assert event["email"] == EMAIL_HASH
    assert event["event"] == f"synced {EMAIL_HASH}"
    assert event["members"][0] == {"email_address": EMAIL_HASH}
    assert event["members"][1] == {
        "type": "Member",
        "email_address": EMAIL_HASH,
        "status": "subscribed",
    }
    assert event["by_email"] == {EMAIL_HASH: 1}


def test_email_hashes_are_stable_and_optionally_keyed() -> None:
    assert hash_email(EMAIL) == hash_email(EMAIL.upper()) == EMAIL_HASH
    keyed = hash_email(EMAIL, key=b"k" * 32)
    assert keyed != EMAIL_HASH and keyed == hash_email(EMAIL.lower(), key=b"k" * 32)
    assert Redactor(email_hash_key=b"k" * 32)(None, "info", {"e": EMAIL})["e"] == keyed


def test_plain_values_pass_through() -> None:
    event = _scrub(count=3, ratio=0.5, ok=True, nothing=None, name="Demo Bakery")
    assert event == {"count": 3, "ratio": 0.5, "ok": True, "nothing": None, "name": "Demo Bakery"}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), email=st.emails(), prefix=st.text(max_size=5), suffix=st.text(max_size=5))
def test_an_email_anywhere_never_survives(
    data: st.DataObject, email: str, prefix: str, suffix: str
) -> None:
    value = prefix + " " + email + " " + suffix

    def plant(tree: Any) -> Any:
        if isinstance(tree, dict) and tree and data.draw(st.booleans()):
            key = data.draw(st.sampled_from(sorted(tree)))
            return {**tree, key: plant(tree[key])}
        if isinstance(tree, list) and tree and data.draw(st.booleans()):
            index = data.draw(st.integers(0, len(tree) - 1))
            return [*tree[:index], plant(tree[index]), *tree[index + 1 :]]
        return [tree, value]

    event = {"event": "x", "payload": plant(data.draw(_json))}
    scrubbed = Redactor()(None, "info", event)
    assert email.lower() not in json.dumps(scrubbed, ensure_ascii=False).lower()


# -- the configured pipeline -------------------------------------------------------


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    configure_logging(level="DEBUG", json_output=True, stream=stream, cache_loggers=False)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            if handler.get_name() == "chimplink":
                root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()


def test_structlog_and_stdlib_lines_are_redacted(log_stream: io.StringIO) -> None:
    structlog.get_logger("chimplink.test").info(
        "connected", access_token=TOKEN, login_email=EMAIL, account="Demo"
    )
    logging.getLogger("uvicorn.access").info(
        "GET /oauth/callback?code=%s&state=%s 303", TOKEN, "abcdef123456"
    )
    try:
        raise RuntimeError(f"token {TOKEN} for {EMAIL} refused: Bearer {TOKEN}")
    except RuntimeError:
        structlog.get_logger("chimplink.test").exception("failed", api_key=TOKEN)
        logging.getLogger("sqlalchemy").exception("stdlib failure with %s", EMAIL)

    output = log_stream.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines[0]["event"] == "connected"
    assert len(lines) == 4
    assert TOKEN not in output
    assert "example.org" not in output.lower()
    assert EMAIL_HASH in output
    assert lines[0]["access_token"] == REDACTED
    assert lines[0]["account"] == "Demo"
    assert lines[0]["level"] == "info" and "timestamp" in lines[0]
    assert "RuntimeError" in lines[2]["exception"]
    assert "RuntimeError" in lines[3]["exception"]


def test_console_output_is_redacted_too() -> None:
    stream = io.StringIO()
    try:
        configure_logging(json_output=False, stream=stream, cache_loggers=False)
        structlog.get_logger().warning("hello", token=TOKEN, who=EMAIL)
    finally:
        for handler in list(logging.getLogger().handlers):
            if handler.get_name() == "chimplink":
                logging.getLogger().removeHandler(handler)
        structlog.reset_defaults()
    output = stream.getvalue()
    assert "hello" in output and TOKEN not in output and EMAIL not in output


def test_configuring_twice_keeps_one_handler(log_stream: io.StringIO) -> None:
    configure_logging(json_output=True, stream=log_stream, cache_loggers=False)
    assert [h.get_name() for h in logging.getLogger().handlers].count("chimplink") == 1


def test_configure_from_settings() -> None:
    stream = io.StringIO()
    level = logging.getLogger().level
    try:
        configure_from_settings(
            Settings(log_level="WARNING", log_format="json"),
            stream=stream,
        )
        structlog.get_logger().info("quiet")
        structlog.get_logger().warning("loud", secret="x")
    finally:
        for handler in list(logging.getLogger().handlers):
            if handler.get_name() == "chimplink":
                logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(level)
        structlog.reset_defaults()
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["event"] == "loud"


def test_uvicorn_loggers_configured_earlier_still_go_through_the_redactor() -> None:
    import logging.config

    from uvicorn.config import LOGGING_CONFIG

    logging.config.dictConfig(LOGGING_CONFIG)  # what uvicorn.Config does by default
    stream = io.StringIO()
    try:
        configure_logging(json_output=True, stream=stream, cache_loggers=False)
        logging.getLogger("uvicorn.access").warning("GET /?code=%s 200", TOKEN)
    finally:
        for handler in list(logging.getLogger().handlers):
            if handler.get_name() == "chimplink":
                logging.getLogger().removeHandler(handler)
        structlog.reset_defaults()
    output = stream.getvalue()
    assert "GET /?code=" in output
    assert TOKEN not in output


def test_an_address_hashes_the_same_bare_quoted_and_assigned() -> None:
    from chimplink.logging import scrub_text

    address = "Ann@x.example"
    expected = hash_email(address)
    assert scrub_text(address) == expected
    assert scrub_text(repr(address)) == f"'{expected}'"
    assert scrub_text(f"login_email={address}") == f"login_email={expected}"
