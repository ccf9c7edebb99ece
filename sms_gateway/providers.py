"""Which provider object sends an outbox row, and with which credentials.

Credentials in the environment (TWILIO_*, AT_*) belong to the default organisation (the
first one); further organisations speak through `Channel` rows configured in the panel,
whose secrets are stored sealed with a key derived from HEARD_SECRET_KEY. Provider objects
hold an SDK client (and its connection pool), so they are built once per channel and
reused for every batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sms_gateway import africastalking, twilio
from sms_gateway.base import Provider
from storage import models as m
from storage.secrets import SecretsUnreadable, open_secrets

if TYPE_CHECKING:  # heard is the composition root: nothing imports it at run time
    from heard.config import Settings

CONSOLE = "console"
WEBCHAT = "webchat"


class ChannelNotConfigured(LookupError):
    """No credentials for a provider in an organisation: a coordinator must add them."""


# --- credentials --------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """What one channel needs to send and to check its webhooks."""

    provider: str
    channel_id: int | None
    sender: str | None
    account: str | None = None  # Twilio AccountSid / AT username
    secret: str | None = None  # Twilio auth token / AT API key
    rate_per_second: float | None = None


def env_credentials(settings: Settings, provider: str) -> Credentials | None:
    if provider == twilio.NAME and settings.twilio is not None:
        tw = settings.twilio
        return Credentials(provider, None, tw.from_number, tw.account_sid, tw.auth_token)
    if provider == africastalking.NAME and settings.africastalking is not None:
        at = settings.africastalking
        return Credentials(provider, None, at.sender_id, at.username, at.api_key)
    return None


def channel_credentials(settings: Settings, channel: m.Channel) -> Credentials:
    """A Channel row's credentials; missing parts fall back to the environment's."""
    config: dict[str, Any] = channel.config or {}
    try:
        secrets = open_secrets(settings.secret_key, channel.secrets_encrypted)
    except SecretsUnreadable as error:
        raise ChannelNotConfigured(f"channel secrets cannot be read: {error}") from error
    fallback = env_credentials(settings, channel.provider)
    account = config.get("account_sid") or config.get("username")
    secret = secrets.get("auth_token") or secrets.get("api_key")
    if not (account and secret) and fallback is not None:
        account, secret = fallback.account, fallback.secret
    return Credentials(
        provider=channel.provider,
        channel_id=channel.id,
        sender=config.get("sender") or channel.address,
        account=account,
        secret=secret,
        rate_per_second=channel.rate_per_second,
    )


# --- provider objects ---------------------------------------------------------------------


class Providers:
    """Builds and caches one provider object per (provider, channel)."""

    def __init__(
        self,
        settings: Settings,
        *,
        at_recipients_per_call: int = africastalking.MAX_RECIPIENTS_PER_CALL,
    ):
        self.settings = settings
        # Africa's Talking recipients per bulk request: also how many people one crash
        # leaves `unknown` at most (sms_gateway/africastalking.py).
        self.at_recipients_per_call = at_recipients_per_call
        self._built: dict[tuple[str, int | None], Provider] = {}

    def get(self, credentials: Credentials) -> Provider:
        key = (credentials.provider, credentials.channel_id)
        if key not in self._built:
            self._built[key] = self._build(credentials)
        return self._built[key]

    def _build(self, credentials: Credentials) -> Provider:
        if not (credentials.account and credentials.secret):
            raise ChannelNotConfigured(f"{credentials.provider} has no account or secret")
        if credentials.provider == twilio.NAME:
            return twilio.TwilioProvider(
                credentials.account,
                credentials.secret,
                credentials.sender,
                api_base=self.settings.twilio_api_base,
            )
        if credentials.provider == africastalking.NAME:
            return africastalking.AfricasTalkingProvider(
                credentials.account,
                credentials.secret,
                credentials.sender,
                api_base=self.settings.at_api_base,
                max_recipients_per_call=self.at_recipients_per_call,
            )
        raise ChannelNotConfigured(f"unknown provider {credentials.provider!r}")
