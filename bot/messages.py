"""Boundary values between the gateways and the engine.

The engine never sees a provider's request: each gateway turns its payload into an
`InboundMessage` and renders the engine's `Reply` values back in its own format (TwiML,
USSD `CON`/`END`, an outbox row). Keeping these frozen and provider-neutral is what lets
conversations be tested without HTTP.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Channel(enum.StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"
    USSD = "ussd"
    WEBCHAT = "webchat"
    CONSOLE = "console"


class SessionEvent(enum.StrEnum):
    """Where a USSD hop stands in the network's session (vumi's session_event)."""

    NONE = "none"
    NEW = "new"
    RESUME = "resume"
    CLOSE = "close"


@dataclass(frozen=True)
class InboundMessage:
    """One message from a participant, already authenticated and normalised.

    `sender` is E.164 (`+254712345678`) for phone channels, or an opaque id for web chat.
    `provider_message_id` is what de-duplicates a provider's retries (Twilio `MessageSid`,
    Africa's Talking `id`).
    """

    sender: str
    text: str
    channel: Channel = Channel.SMS
    organisation_id: int | None = None
    to: str | None = None
    provider: str = "console"
    provider_message_id: str | None = None
    received_at: datetime | None = None
    session_event: SessionEvent = SessionEvent.NONE
    ussd_session_id: str | None = None
    link_id: str | None = None


@dataclass(frozen=True)
class Reply:
    """Something to say back. `end_session` matters to USSD only (END vs CON)."""

    text: str
    language: str = "en"
    end_session: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
