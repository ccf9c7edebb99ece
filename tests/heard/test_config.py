"""Configuration fails early, in one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from heard.config import ENVIRONMENT, ConfigError, Settings

BASE = {"HEARD_SECRET_KEY": "a-long-enough-secret-key", "HEARD_INSTANCE_PATH": "/tmp/heard-x"}


def test_defaults_to_sqlite_in_the_instance_folder():
    settings = Settings.from_env(BASE)
    assert settings.database_url == "sqlite:////tmp/heard-x/heard.db"
    assert settings.rasa_url is None and settings.twilio is None
    assert settings.rasa_home == Path("/tmp/heard-x/rasa")
    assert settings.inbound_mode == "inline"


def test_reads_every_provider_setting():
    env = {
        **BASE,
        "HEARD_DATABASE_URL": "postgresql://postgres@127.0.0.1/test",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_FROM": "+15005550006",
        "AT_USERNAME": "sandbox",
        "AT_API_KEY": "key",
        "AT_SENDER_ID": "HEARD",
        "AT_CALLBACK_TOKEN": "cb-token",
        "HEARD_RASA_URL": "http://127.0.0.1:5005/",
        "HEARD_PUBLIC_URL": "https://heard.example.org",
        "HEARD_TWILIO_API_BASE": "http://127.0.0.1:9001",
        "HEARD_AT_API_BASE": "http://127.0.0.1:9002",
        "HEARD_INBOUND_MODE": "Queued",
    }
    settings = Settings.from_env(env)
    assert settings.inbound_mode == "queued"
    assert settings.twilio.from_number == "+15005550006"
    assert settings.africastalking.sender_id == "HEARD"
    assert settings.at_callback_token == "cb-token"
    assert settings.rasa_url == "http://127.0.0.1:5005"
    assert settings.twilio_api_base == "http://127.0.0.1:9001"
    assert settings.at_api_base == "http://127.0.0.1:9002"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HEARD_INSTANCE_PATH": "/tmp/x"}, "HEARD_SECRET_KEY is not set"),
        ({**BASE, "HEARD_SECRET_KEY": "short"}, "too short"),
        ({**BASE, "HEARD_DATABASE_URL": "mysql://x/y"}, "unsupported scheme"),
        ({**BASE, "TWILIO_ACCOUNT_SID": "AC1"}, "also set TWILIO_AUTH_TOKEN, TWILIO_FROM"),
        ({**BASE, "AT_USERNAME": "u"}, "set both AT_USERNAME and AT_API_KEY"),
        ({**BASE, "AT_USERNAME": "u", "AT_API_KEY": "k"}, "AT_CALLBACK_TOKEN is not set"),
        ({**BASE, "HEARD_RASA_URL": "localhost:5005"}, "HEARD_RASA_URL must be an http(s) URL"),
        ({**BASE, "HEARD_AT_API_BASE": "http://127.0.0.1:1/v1"}, "scheme://host[:port] only"),
        ({**BASE, "HEARD_DEFAULT_REGION": "Kenya"}, "two-letter country code"),
        ({**BASE, "HEARD_INBOUND_MODE": "batch"}, "HEARD_INBOUND_MODE must be inline or queued"),
    ],
)
def test_invalid_settings_fail_with_one_clear_line(env, message):
    with pytest.raises(ConfigError) as error:
        Settings.from_env(env)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_every_variable_is_documented_in_the_readme():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [name for name in ENVIRONMENT if name not in readme]
    assert missing == []
