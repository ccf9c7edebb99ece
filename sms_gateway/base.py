"""The small protocol every provider module implements, and the values it trades in.

Provider field names and status words stay inside each provider module; what crosses this
line is provider-neutral. Errors are values (`SendResult`), and `permanent` decides whether
the outbox retries: throttling and 5xx are retried, "invalid number" or Twilio 21610
("recipient sent STOP") never are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bot.messages import InboundMessage


class WebhookRejected(Exception):
    """A request we refuse, with the HTTP status and a reason a provider's logs can show."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class OutboundMessage:
    """One row of the outbox, as a provider module needs it."""

    id: int
    to: str
    text: str
    sender: str | None = None
    channel: str = "sms"
    link_id: str | None = None
    status_callback: str | None = None


@dataclass(frozen=True)
class SendResult:
    message_id: int
    ok: bool
    provider_id: str | None = None
    status: str = "sent"
    error: str | None = None
    error_code: str | None = None
    permanent: bool = False
    opted_out: bool = False


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery report: our status word for the provider's, plus its error code."""

    provider_id: str
    status: str  # queued | sent | delivered | undelivered | failed
    error_code: str | None = None
    error: str | None = None
    raw: dict = field(default_factory=dict)


class Provider(Protocol):
    name: str

    def send_batch(self, messages: list[OutboundMessage]) -> list[SendResult]: ...

    # The API calls send_batch would make for these messages, each call's messages in a
    # list: the outbox marks one call's rows `sending` at a time, so a crash leaves at most
    # one call's messages in doubt.
    def calls(self, messages: list[OutboundMessage]) -> list[list[OutboundMessage]]: ...


class InboundParser(Protocol):
    def parse_inbound(self, form: dict[str, str]) -> InboundMessage: ...
