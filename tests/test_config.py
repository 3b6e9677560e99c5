"""Settings: defaults, every variable, clear errors that never echo secrets, the key file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from chimplink.config import (
    ConfigError,
    JobsBackend,
    Settings,
    generate_fernet_key,
    load_secrets,
    load_settings,
    replace_key_file_keys,
)

SESSION_SECRET = "x" * 40


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("CHIMPLINK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./chimplink.db"
    assert settings.secret_keys is None
    assert settings.key_file == Path("chimplink-keys")
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.oauth_redirect_uri == "http://127.0.0.1:8000/oauth/callback"
    assert settings.mailchimp_login_url == "https://login.mailchimp.com"
    assert settings.mailchimp_api_url is None
    assert settings.allowed_api_bases == ()
    assert settings.jobs is JobsBackend.EMBEDDED
    assert settings.mailchimp_max_connections == 5
    assert settings.embedded
    assert settings.connector == "none"


def test_every_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_fernet_key()
    values = {
        "CHIMPLINK_DATABASE_URL": "postgresql://app@db/chimplink",
        "CHIMPLINK_SECRET_KEYS": f" {key} ,{generate_fernet_key()}",
        "CHIMPLINK_KEY_FILE": "/etc/chimplink/keys",
        "CHIMPLINK_PUBLIC_URL": "https://chimplink.example.com/",
        "CHIMPLINK_MAILCHIMP_CLIENT_ID": "123456",
        "CHIMPLINK_MAILCHIMP_CLIENT_SECRET": "client-secret",
        "CHIMPLINK_MAILCHIMP_LOGIN_URL": "http://127.0.0.1:8900",
        "CHIMPLINK_MAILCHIMP_API_URL": "http://mailchimp.test/",
        "CHIMPLINK_PLATFORM_SECRET": "p" * 32,
        "CHIMPLINK_SESSION_SECRET": SESSION_SECRET,
        "CHIMPLINK_JOBS": "procrastinate",
        "CHIMPLINK_MAILCHIMP_MAX_CONNECTIONS": "4",
        "CHIMPLINK_LOG_LEVEL": "DEBUG",
        "CHIMPLINK_LOG_FORMAT": "json",
        "CHIMPLINK_CONNECTOR": "sql",
        "CHIMPLINK_CONNECTOR_URL": "postgresql://shop@db/shop",
        "CHIMPLINK_CONNECTOR_MAPPING": "/etc/chimplink/mapping.toml",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert {f"CHIMPLINK_{name.upper()}" for name in Settings.model_fields} == set(values)
    assert settings.secret_keys is not None
    assert settings.secret_keys.get_secret_value().startswith(f"{key},")
    assert settings.public_url == "https://chimplink.example.com"
    assert settings.oauth_redirect_uri == "https://chimplink.example.com/oauth/callback"
    assert settings.allowed_api_bases == ("http://mailchimp.test",)
    assert settings.jobs is JobsBackend.PROCRASTINATE
    assert not settings.embedded
    client = settings.oauth_client()
    assert client.client_id == "123456"
    assert client.client_secret.get_secret_value() == "client-secret"
    assert "client-secret" not in repr(client) and "client-secret" not in repr(settings)
    assert settings.require_platform_secret().get_secret_value() == "p" * 32
    assert settings.connector == "sql"
    assert settings.connector_mapping == Path("/etc/chimplink/mapping.toml")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("CHIMPLINK_DATABASE_URL", "mysql://u@h/db", "sqlite:// or postgresql://"),
        ("CHIMPLINK_PUBLIC_URL", "ftp://x", "http(s) URL"),
        ("CHIMPLINK_PUBLIC_URL", "https://x/?next=/", "query string"),
        ("CHIMPLINK_MAILCHIMP_LOGIN_URL", "http://login.mailchimp.com", "must use https"),
        ("CHIMPLINK_MAILCHIMP_API_URL", "http://evil.example", "must use https"),
        ("CHIMPLINK_JOBS", "celery", "embedded"),
        ("CHIMPLINK_MAILCHIMP_MAX_CONNECTIONS", "11", "less than or equal to 10"),
        ("CHIMPLINK_MAILCHIMP_MAX_CONNECTIONS", "0", "greater than or equal to 1"),
        ("CHIMPLINK_MAILCHIMP_MAX_CONNECTIONS", "many", "integer"),
        ("CHIMPLINK_SESSION_SECRET", "short-secret-value", "at least 32"),
        ("CHIMPLINK_PLATFORM_SECRET", "short-secret-value", "at least 32"),
        ("CHIMPLINK_SECRET_KEYS", "short-secret-value", "key 1 of 1 is not a valid key"),
        ("CHIMPLINK_SECRET_KEYS", " , ", "lists no key"),
        ("CHIMPLINK_LOG_LEVEL", "LOUD", "DEBUG"),
        ("CHIMPLINK_CONNECTOR", "mysql", "none, demo, sql, push or python:"),
        ("CHIMPLINK_CONNECTOR", "python:only_module", "python:<module>:<function>"),
    ],
)
def test_bad_values_name_the_variable_and_never_echo_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert name in message
    assert expected in message
    if value.strip(" ,"):
        assert value not in message


def test_several_problems_are_reported_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHIMPLINK_JOBS", "celery")
    monkeypatch.setenv("CHIMPLINK_PUBLIC_URL", "nope")
    monkeypatch.setenv("CHIMPLINK_DATABSE_URL", "sqlite:///x.db")
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert "CHIMPLINK_JOBS" in message
    assert "CHIMPLINK_PUBLIC_URL" in message
    assert (
        "CHIMPLINK_DATABSE_URL: unknown setting (did you mean CHIMPLINK_DATABASE_URL?)" in message
    )


def test_empty_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHIMPLINK_SECRET_KEYS", "")
    assert load_settings().secret_keys is None


def test_keyword_overrides_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHIMPLINK_DATABASE_URL", "sqlite:///env.db")
    assert load_settings(database_url="sqlite:///cli.db").database_url == "sqlite:///cli.db"
    with pytest.raises(ConfigError, match="CHIMPLINK_DATABASE_URL"):
        load_settings(database_url="oracle://x")


def test_missing_oauth_client_and_platform_secret_are_named() -> None:
    settings = load_settings()
    with pytest.raises(
        ConfigError, match="CHIMPLINK_MAILCHIMP_CLIENT_ID and CHIMPLINK_MAILCHIMP_CLIENT_SECRET"
    ):
        settings.oauth_client()
    with pytest.raises(ConfigError, match="CHIMPLINK_PLATFORM_SECRET"):
        settings.require_platform_secret()


def test_local_hosts_may_use_plain_http() -> None:
    for url in ("http://127.0.0.1:8900", "http://localhost:1", "http://mailchimp.test"):
        assert load_settings(mailchimp_login_url=url).mailchimp_login_url == url


# -- secrets and the key file ----------------------------------------------------


def test_embedded_mode_generates_a_private_key_file(tmp_path: Path) -> None:
    secrets = load_secrets(load_settings())
    key_file = tmp_path / "chimplink-keys"
    assert secrets.key_file == Path("chimplink-keys")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(secrets.secret_keys) == 1
    assert len(secrets.session_secret.get_secret_value()) >= 32
    assert secrets.secret_keys[0].get_secret_value() in key_file.read_text()
    assert secrets.secret_keys[0].get_secret_value() not in repr(secrets)
    assert secrets.session_secret.get_secret_value() not in repr(secrets)
    # The next start reads the same values back.
    again = load_secrets(load_settings())
    assert again.secret_keys == secrets.secret_keys
    assert again.session_secret == secrets.session_secret
    assert [p.name for p in tmp_path.iterdir()] == ["chimplink-keys"]  # no temp file left


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    load_secrets(load_settings())
    key_file = tmp_path / "chimplink-keys"
    key_file.chmod(mode)
    with pytest.raises(ConfigError) as error:
        load_secrets(load_settings())
    message = str(error.value)
    assert "CHIMPLINK_KEY_FILE" in message
    assert f"{mode:04o}" in message and "chmod 600" in message


def test_a_damaged_key_file_is_a_clear_error(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text("SECRET_KEYS=not-a-key\nSESSION_SECRET=" + SESSION_SECRET + "\n")
    key_file.chmod(0o600)
    with pytest.raises(ConfigError, match="no valid SECRET_KEYS"):
        load_secrets(load_settings(key_file=key_file))
    key_file.write_text("PASSWORD=hunter2\n")
    with pytest.raises(ConfigError, match="line 1") as error:
        load_secrets(load_settings(key_file=key_file))
    assert "hunter2" not in str(error.value)
    directory = tmp_path / "dir"
    directory.mkdir()
    with pytest.raises(ConfigError, match="not a regular file"):
        load_secrets(load_settings(key_file=directory))


def test_an_unwritable_key_file_location_is_a_clear_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(ConfigError, match=r"CHIMPLINK_KEY_FILE: cannot (read|create)"):
        load_secrets(load_settings(key_file=blocked / "keys"))


def test_environment_keys_win_over_the_key_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = generate_fernet_key()
    monkeypatch.setenv("CHIMPLINK_SECRET_KEYS", key)
    secrets = load_secrets(load_settings())
    assert [k.get_secret_value() for k in secrets.secret_keys] == [key]
    # The session secret was not set: embedded mode generates it into the key file.
    assert secrets.key_file is not None and (tmp_path / "chimplink-keys").exists()
    monkeypatch.setenv("CHIMPLINK_SESSION_SECRET", SESSION_SECRET)
    both = load_secrets(load_settings())
    assert both.key_file is None and both.session_secret == SecretStr(SESSION_SECRET)


def test_outside_embedded_mode_keys_are_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHIMPLINK_DATABASE_URL", "postgresql://app@db/chimplink")
    with pytest.raises(ConfigError) as error:
        load_secrets(load_settings())
    assert "CHIMPLINK_SECRET_KEYS and CHIMPLINK_SESSION_SECRET must be set" in str(error.value)
    assert not (tmp_path / "chimplink-keys").exists()
    monkeypatch.setenv("CHIMPLINK_SECRET_KEYS", generate_fernet_key())
    monkeypatch.setenv("CHIMPLINK_SESSION_SECRET", SESSION_SECRET)
    assert load_secrets(load_settings()).key_file is None


def test_replace_key_file_keys_keeps_the_session_secret(tmp_path: Path) -> None:
    first = load_secrets(load_settings())
    newer = generate_fernet_key()
    key_file = tmp_path / "chimplink-keys"
    replace_key_file_keys(key_file, secret_keys=[newer, first.secret_keys[0].get_secret_value()])
    after = load_secrets(load_settings())
    assert after.secret_keys[0].get_secret_value() == newer
    assert after.session_secret == first.session_secret
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="valid key"):
        replace_key_file_keys(key_file, secret_keys=["bad"])
    with pytest.raises(ConfigError, match="does not exist"):
        replace_key_file_keys(tmp_path / "missing", secret_keys=[newer])
