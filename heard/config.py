"""Configuration, read once from the environment.

`Settings.from_env()` is the only place that reads `os.environ`; everything else gets a
`Settings` passed down. A bad value fails at start with one clear line (`ConfigError`),
never later with a traceback in the middle of a conversation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_INSTANCE = Path(os.path.expanduser("~")) / ".local" / "share" / "heard"

# Every variable Heard reads, with what it is for (the README is tested against this).
ENVIRONMENT = {
    "HEARD_DATABASE_URL": "SQLAlchemy URL of the database (default: SQLite in the instance folder)",
    "HEARD_INSTANCE_PATH": "folder for the SQLite file and other local state",
    "HEARD_SECRET_KEY": "signs sessions and encrypts channel secrets (required outside demo)",
    "HEARD_PUBLIC_URL": "the URL providers call, used to check Twilio signatures",
    "TWILIO_ACCOUNT_SID": "Twilio account of the default organisation",
    "TWILIO_AUTH_TOKEN": "Twilio auth token (checks X-Twilio-Signature, sends)",
    "TWILIO_FROM": "the default organisation's Twilio number or WhatsApp sender",
    "AT_USERNAME": "Africa's Talking username of the default organisation",
    "AT_API_KEY": "Africa's Talking API key",
    "AT_SENDER_ID": "Africa's Talking shortcode or alphanumeric sender id",
    "AT_CALLBACK_TOKEN": "secret the Africa's Talking callback URLs carry as ?token=",
    "HEARD_RASA_URL": "Rasa server for NLU (unset: the built-in interpreter)",
    "HEARD_RASA_HOME": "where `heard nlu install/train` keep the Rasa venv and models",
    "HEARD_TWILIO_API_BASE": "override scheme://host:port of Twilio's API",
    "HEARD_AT_API_BASE": "override scheme://host:port of Africa's Talking's API",
    "HEARD_DEFAULT_REGION": "ISO country for numbers written without +country code",
    "HEARD_LOG_LEVEL": "logging level (default INFO)",
    "HEARD_PROXY_HOPS": "reverse proxies in front whose X-Forwarded-* to trust (default 0)",
}


class ConfigError(Exception):
    """A setting is missing or invalid; the message is one line a person can act on."""


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    from_number: str


@dataclass(frozen=True)
class AfricasTalkingSettings:
    username: str
    api_key: str
    sender_id: str | None


@dataclass(frozen=True)
class Settings:
    database_url: str
    instance_path: Path
    secret_key: str
    public_url: str | None = None
    twilio: TwilioSettings | None = None
    africastalking: AfricasTalkingSettings | None = None
    at_callback_token: str | None = None
    rasa_url: str | None = None
    rasa_home: Path = field(default_factory=lambda: DEFAULT_INSTANCE / "rasa")
    twilio_api_base: str | None = None
    at_api_base: str | None = None
    default_region: str = "KE"
    log_level: str = "INFO"
    # Reverse proxies in front of the web processes (nginx: 1). Their X-Forwarded-* headers
    # are believed only then: a client's own copy of those headers must not pass for its
    # address (the login lockout and the audit log key on it).
    proxy_hops: int = 0
    testing: bool = False
    # The phone simulator writes as a participant; `heard demo` turns it on.
    simulator: bool = False
    # "inline": an SMS webhook runs the engine before it answers. "queued": it stores the
    # message and answers at once; `heard worker` runs the engine (bot/inbox.py).
    inbound_mode: str = "inline"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, require_secret: bool = True
    ) -> Settings:
        env = dict(os.environ if environ is None else environ)
        get = lambda name: (env.get(name) or "").strip() or None  # noqa: E731

        instance = Path(get("HEARD_INSTANCE_PATH") or DEFAULT_INSTANCE).expanduser()
        database_url = get("HEARD_DATABASE_URL") or f"sqlite:///{instance / 'heard.db'}"
        _check_database_url(database_url)

        secret = get("HEARD_SECRET_KEY")
        if secret is None:
            if require_secret:
                raise ConfigError(
                    "HEARD_SECRET_KEY is not set: set it to a long random string "
                    "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
                )
            secret = "insecure-demo-key-" + str(instance)
        elif len(secret) < 16:
            raise ConfigError("HEARD_SECRET_KEY is too short: use at least 16 characters")

        return cls(
            database_url=database_url,
            instance_path=instance,
            secret_key=secret,
            public_url=_url_or_none(get("HEARD_PUBLIC_URL"), "HEARD_PUBLIC_URL"),
            twilio=_twilio(get),
            africastalking=_africastalking(get),
            at_callback_token=get("AT_CALLBACK_TOKEN"),
            rasa_url=_url_or_none(get("HEARD_RASA_URL"), "HEARD_RASA_URL"),
            rasa_home=Path(get("HEARD_RASA_HOME") or instance / "rasa").expanduser(),
            twilio_api_base=_base_or_none(get("HEARD_TWILIO_API_BASE"), "HEARD_TWILIO_API_BASE"),
            at_api_base=_base_or_none(get("HEARD_AT_API_BASE"), "HEARD_AT_API_BASE"),
            default_region=_region(get("HEARD_DEFAULT_REGION") or "KE"),
            log_level=(get("HEARD_LOG_LEVEL") or "INFO").upper(),
            proxy_hops=_proxy_hops(get("HEARD_PROXY_HOPS")),
            inbound_mode=_inbound_mode(get("HEARD_INBOUND_MODE")),
        )

    def with_overrides(self, **changes) -> Settings:
        return replace(self, **changes)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _check_database_url(url: str) -> None:
    scheme = url.split(":", 1)[0]
    if not (scheme.startswith("sqlite") or scheme.startswith("postgresql")):
        raise ConfigError(
            f"HEARD_DATABASE_URL has an unsupported scheme {scheme!r}: use sqlite:///PATH "
            "or postgresql+psycopg://USER@HOST/DB"
        )


def _url_or_none(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _base_or_none(value: str | None, name: str) -> str | None:
    url = _url_or_none(value, name)
    if url is not None and urlsplit(url).path not in ("", "/"):
        raise ConfigError(f"{name} takes scheme://host[:port] only (paths stay the provider's)")
    return url


def _proxy_hops(value: str | None) -> int:
    if value is None:
        return 0
    if not value.isdigit() or int(value) > 5:
        raise ConfigError(
            f"HEARD_PROXY_HOPS must be the number of reverse proxies in front (0-5), got {value!r}"
        )
    return int(value)


INBOUND_MODES = ("inline", "queued")


def _inbound_mode(value: str | None) -> str:
    mode = (value or "inline").lower()
    if mode not in INBOUND_MODES:
        raise ConfigError(f"HEARD_INBOUND_MODE must be inline or queued, got {value!r}")
    return mode


def _region(value: str) -> str:
    if len(value) != 2 or not value.isalpha():
        raise ConfigError(f"HEARD_DEFAULT_REGION must be a two-letter country code, got {value!r}")
    return value.upper()


def _twilio(get) -> TwilioSettings | None:
    names = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
    values = [get(n) for n in names]
    if not any(values):
        return None
    missing = [n for n, v in zip(names, values, strict=True) if not v]
    if missing:
        raise ConfigError(f"Twilio is half configured: also set {', '.join(missing)}")
    return TwilioSettings(*values)


def _africastalking(get) -> AfricasTalkingSettings | None:
    username, api_key = get("AT_USERNAME"), get("AT_API_KEY")
    if not (username or api_key):
        return None
    if not (username and api_key):
        raise ConfigError(
            "Africa's Talking is half configured: set both AT_USERNAME and AT_API_KEY"
        )
    if not get("AT_CALLBACK_TOKEN"):
        raise ConfigError(
            "AT_CALLBACK_TOKEN is not set: Africa's Talking signs nothing, so its callback "
            "URLs must carry ?token=<AT_CALLBACK_TOKEN>"
        )
    return AfricasTalkingSettings(username, api_key, get("AT_SENDER_ID"))
