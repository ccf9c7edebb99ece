"""Twilio: webhook signatures, inbound and status forms, and sending through the official SDK.

Twilio's field names (`MessageSid`, `From`, `MessageStatus`, `ErrorCode`) and status words
stay in this module; what leaves it is `InboundMessage`, `StatusUpdate` and `SendResult`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.messages import Channel, InboundMessage
from bot.phone import InvalidNumber, normalise_number
from sms_gateway.base import OutboundMessage, SendResult, StatusUpdate, WebhookRejected

NAME = "twilio"
SIGNATURE_HEADER = "X-Twilio-Signature"
WHATSAPP_PREFIX = "whatsapp:"

# Twilio itself caps a message body at 1,600 characters; anything far beyond that is not
# Twilio talking, so refuse it before it reaches the engine or the database.
MAX_INBOUND_CHARS = 10_000

# Our vocabulary: "queued" means still in our outbox, so every status Twilio reports for a
# message it holds is at least "sent". `receiving`/`received` describe inbound messages and
# never belong on an outbound status callback.
STATUS_MAPPING: dict[str, str] = {
    "accepted": "sent",  # Messaging Service accepted it, sender not chosen yet
    "scheduled": "sent",
    "queued": "sent",
    "sending": "sent",
    "sent": "sent",
    "partially_delivered": "sent",
    "delivered": "delivered",
    "read": "delivered",  # WhatsApp read receipt: delivered and then some
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",  # a scheduled message cancelled before sending
}
INBOUND_STATUSES = frozenset({"receiving", "received"})

# 21610: "Attempt to send to unsubscribed recipient" — the person texted STOP to this
# sender; Twilio blocks every further message, so we opt them out too.
OPT_OUT_CODES = frozenset({21610})

# Codes where the same request can never succeed: the number is invalid or not a mobile,
# the destination is unreachable/blocked/filtered, the account lacks permission for that
# country (21408) or the sender is wrong. Retrying only costs money and reputation.
PERMANENT_CODES = frozenset(
    {
        20404,  # resource (e.g. account) not found
        21211,  # invalid 'To' phone number
        21408,  # permission to send an SMS has not been enabled for the region
        21602,  # message body is required
        21606,  # 'From' number is not a valid, SMS-capable inbound number for the account
        21608,  # unverified 'To' number on a trial account
        21610,  # unsubscribed recipient (STOP)
        21612,  # 'To' not currently reachable via this 'From'
        21614,  # 'To' is not a valid mobile number
        21617,  # body exceeds 1,600 characters
        21635,  # 'To' cannot be reached with this message type (landline)
        30002,  # account suspended
        30003,  # unreachable destination handset
        30004,  # message blocked
        30005,  # unknown destination handset
        30006,  # landline or unreachable carrier
        30007,  # message filtered by the carrier
        30008,  # unknown error: Twilio advises against blind resends
        63016,  # WhatsApp: outside the 24-hour session window, needs a template
    }
)

# Throttling and Twilio-side trouble: the same request can succeed later.
RETRYABLE_CODES = frozenset(
    {
        20003,  # authentication error: a credentials mix-up, fixed by an operator
        20429,  # too many requests
        20500,  # internal server error
        20503,  # service unavailable
        30001,  # queue overflow
        63018,  # WhatsApp rate limit
    }
)


# Reading Twilio's message list when settling a row in doubt: every message from one
# sender to one participant, a page at a time; beyond LOOKUP_LIMIT (years of polls) the
# answer is "could not tell", never "not there".
LOOKUP_PAGE_SIZE = 100
LOOKUP_LIMIT = 1000


class LookupIncomplete(Exception):
    """Twilio's list was too long to read to the end: the row stays in doubt."""


class SentMessage(NamedTuple):
    """One message Twilio holds, as outbox reconciliation needs it."""

    sid: str
    body: str
    status: str


# --- webhooks ---------------------------------------------------------------------------


def signed_url(public_url: str, path: str, query_string: str) -> str:
    """The URL Twilio signed: our public base URL, then the path and query it requested.

    Behind a reverse proxy `request.url` shows the internal host and scheme
    (http://127.0.0.1:8000/...), which Twilio never saw, so the signature is checked
    against HEARD_PUBLIC_URL instead. A path prefix in the public URL is kept.
    """
    base = public_url.rstrip("/")
    if not path.startswith("/"):
        path = "/" + path
    url = base + path
    return f"{url}?{query_string}" if query_string else url


def verify_signature(
    *, url: str, form: Mapping[str, str], signature: str | None, auth_token: str
) -> None:
    """Raise WebhookRejected(403) unless X-Twilio-Signature matches `url` and `form`."""
    if not auth_token:
        raise WebhookRejected(403, "Twilio auth token not configured; refusing unsigned use")
    if not signature:
        raise WebhookRejected(403, f"missing {SIGNATURE_HEADER} header")
    # RequestValidator tries the URL with and without the default port, as Twilio's own
    # signing is inconsistent about it, and compares in constant time.
    if not RequestValidator(auth_token).validate(url, dict(form), signature):
        raise WebhookRejected(403, f"invalid {SIGNATURE_HEADER} for {url}")


def _required(form: Mapping[str, str], name: str) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise WebhookRejected(400, f"missing field {name}")
    return value


def _split_channel(address: str) -> tuple[Channel, str]:
    if address.lower().startswith(WHATSAPP_PREFIX):
        return Channel.WHATSAPP, address[len(WHATSAPP_PREFIX) :]
    return Channel.SMS, address


def parse_inbound(form: Mapping[str, str], *, default_region: str | None = None) -> InboundMessage:
    """An inbound SMS or WhatsApp message from Twilio's webhook form.

    `Body` may be empty (a media-only message); the engine decides what that means.
    """
    sid = _required(form, "MessageSid")
    raw_from = _required(form, "From")
    channel, address = _split_channel(raw_from)
    region = default_region or form.get("FromCountry") or None
    try:
        sender = normalise_number(address, region)
    except InvalidNumber as error:
        raise WebhookRejected(400, f"invalid From {raw_from!r}: {error.reason}") from error

    text = form.get("Body") or ""
    # A tapped WhatsApp quick-reply button arrives as ButtonText; it is what they "said".
    if channel is Channel.WHATSAPP and form.get("ButtonText"):
        text = form["ButtonText"]
    if len(text) > MAX_INBOUND_CHARS:
        raise WebhookRejected(
            413, f"Body too long: {len(text)} characters (limit {MAX_INBOUND_CHARS})"
        )

    to = form.get("To") or None
    return InboundMessage(
        sender=sender,
        text=text,
        channel=channel,
        to=_split_channel(to)[1] if to else None,
        provider=NAME,
        provider_message_id=sid,
    )


def parse_status(form: Mapping[str, str]) -> StatusUpdate:
    """A status callback for a message we sent."""
    sid = _required(form, "MessageSid")
    word = _required(form, "MessageStatus").lower()
    if word in INBOUND_STATUSES:
        raise WebhookRejected(400, f"MessageStatus {word!r} is for inbound messages")
    status = STATUS_MAPPING.get(word)
    if status is None:
        known = ", ".join(sorted(STATUS_MAPPING))
        raise WebhookRejected(400, f"unknown MessageStatus {word!r}, expected one of {known}")
    return StatusUpdate(
        provider_id=sid,
        status=status,
        error_code=(form.get("ErrorCode") or None),
        error=(form.get("ErrorMessage") or None),
        raw=dict(form),
    )


def is_opt_out(error_code: str | int | None) -> bool:
    """Whether a send error or status callback's ErrorCode means the person opted out."""
    try:
        return int(error_code or 0) in OPT_OUT_CODES
    except ValueError:
        return False


# --- sending ----------------------------------------------------------------------------


class RebasedHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, sending to another scheme://host:port.

    The SDK builds absolute URLs on api.twilio.com (also for next-page links), so the
    one place to redirect every request — for HEARD_TWILIO_API_BASE, a proxy or the test
    fake — is here, after the URL is built. Paths stay Twilio's own.
    """

    def __init__(self, api_base: str, *, timeout: float | None = None):
        super().__init__(timeout=timeout)
        parts = urlsplit(api_base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"api_base must look like https://host[:port], got {api_base!r}")
        self.scheme = parts.scheme
        self.netloc = parts.netloc

    def rebase(self, url: str) -> str:
        parts = urlsplit(url)
        return urlunsplit((self.scheme, self.netloc, parts.path, parts.query, parts.fragment))

    def request(self, method: str, url: str, *args, **kwargs) -> Response:
        return super().request(method, self.rebase(url), *args, **kwargs)


def classify_error(code: int | None, http_status: int | None) -> tuple[bool, bool]:
    """(permanent, opted_out) for a Twilio error code and HTTP status."""
    if code in OPT_OUT_CODES:
        return True, True
    if code in PERMANENT_CODES:
        return True, False
    if code in RETRYABLE_CODES:
        return False, False
    if http_status is None or http_status == 429 or http_status >= 500:
        return False, False
    if http_status in (401, 403):
        return False, False  # credentials: an operator fixes config, the message still goes
    # Any other 4xx is Twilio rejecting this very request: it will reject it again.
    return http_status >= 400, False


class TwilioProvider:
    """Sends through `twilio.rest.Client`, one API call per message (Twilio has no bulk)."""

    name = NAME

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str | None,
        *,
        api_base: str | None = None,
        messaging_service_sid: str | None = None,
        timeout: float = 15.0,
    ):
        if not from_number and not messaging_service_sid:
            raise ValueError("Twilio needs a from_number or a messaging_service_sid")
        http_client = (
            RebasedHttpClient(api_base, timeout=timeout)
            if api_base
            else TwilioHttpClient(timeout=timeout)
        )
        self.client = Client(account_sid, auth_token, http_client=http_client)
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid

    def _addresses(self, message: OutboundMessage) -> tuple[str, str | None]:
        sender = message.sender or self.from_number
        if message.channel != Channel.WHATSAPP:
            return message.to, sender
        return WHATSAPP_PREFIX + message.to, (WHATSAPP_PREFIX + sender if sender else None)

    def send(self, message: OutboundMessage) -> SendResult:
        to, sender = self._addresses(message)
        try:
            created = self.client.messages.create(
                to=to,
                from_=sender,
                body=message.text,
                status_callback=message.status_callback,
                messaging_service_sid=self.messaging_service_sid,
            )
        except TwilioRestException as error:
            return _rest_error(message.id, error)
        except requests.Timeout as error:
            # Twilio may have accepted it: retrying blindly can double-send, which is why
            # the outbox reconciles with lookup_sent() before resending a timed-out row.
            return _transport_error(message.id, "timeout", error)
        except (requests.RequestException, TwilioException) as error:
            return _transport_error(message.id, "connection", error)
        return SendResult(
            message_id=message.id,
            ok=True,
            provider_id=created.sid,
            status=STATUS_MAPPING.get(str(created.status or "queued"), "sent"),
        )

    def calls(self, messages: list[OutboundMessage]) -> list[list[OutboundMessage]]:
        """The API calls `send_batch` makes: one per message, as Twilio has no bulk send.

        The outbox marks each call's rows `sending` right before it, so a worker killed
        mid-batch leaves at most this one message in doubt."""
        return [[message] for message in messages]

    def send_batch(self, messages: list[OutboundMessage]) -> list[SendResult]:
        return [self.send(message) for message in messages]

    def lookup_sent(
        self,
        to: str,
        from_number: str | None,
        since: datetime,
        *,
        channel: str = "sms",
    ) -> list[SentMessage]:
        """Messages Twilio holds to `to` created since `since`, to settle outbox rows a
        crash left "sending" (was it accepted, or must it go again?).

        No DateSent filter: Twilio sets `date_sent` only when it hands a message on, so one
        still in its own queue (`queued`/`accepted`/`scheduled`, e.g. behind a long code's
        1 message/s) has none and a DateSent filter could hide it, and recovery would then
        send it again. Older messages are skipped by `date_created` here, without trusting
        the list's order (newest first, but by which date is not documented); more than
        LOOKUP_LIMIT messages raise LookupIncomplete rather than answer from part of it.
        """
        if channel == Channel.WHATSAPP:
            to = WHATSAPP_PREFIX + to
            from_number = WHATSAPP_PREFIX + from_number if from_number else None
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)  # naive means UTC throughout Heard
        found: list[SentMessage] = []
        records = self.client.messages.stream(
            to=to, from_=from_number or values.unset, page_size=LOOKUP_PAGE_SIZE
        )
        for read, record in enumerate(records, start=1):
            if read > LOOKUP_LIMIT:
                raise LookupIncomplete(
                    f"more than {LOOKUP_LIMIT} messages from {from_number} to {to}"
                )
            if record.date_created is not None and record.date_created < since:
                continue
            found.append(
                SentMessage(
                    sid=record.sid or "",
                    body=record.body or "",
                    status=STATUS_MAPPING.get(str(record.status), str(record.status)),
                )
            )
        return found


def _rest_error(message_id: int, error: TwilioRestException) -> SendResult:
    code = error.code if isinstance(error.code, int) else None
    permanent, opted_out = classify_error(code, error.status)
    return SendResult(
        message_id=message_id,
        ok=False,
        status="failed" if permanent else "queued",
        error=f"Twilio {error.status}: {error.msg}",
        error_code=str(code if code is not None else error.status),
        permanent=permanent,
        opted_out=opted_out,
    )


def _transport_error(message_id: int, kind: str, error: Exception) -> SendResult:
    return SendResult(
        message_id=message_id,
        ok=False,
        status="queued",
        error=f"Twilio {kind} error: {error}",
        error_code=kind,
        permanent=False,
    )
