"""Africa's Talking SMS: callback token, inbound and delivery forms, bulk sending via the SDK.

Africa's Talking signs nothing, so its callbacks carry `?token=<AT_CALLBACK_TOKEN>` which we
compare in constant time. Its field names (`from`, `text`, `linkId`, `failureReason`) and
status words stay in this module.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService

from bot.messages import Channel, InboundMessage
from bot.phone import InvalidNumber, normalise_number
from sms_gateway.base import OutboundMessage, SendResult, StatusUpdate, WebhookRejected

NAME = "africastalking"
MAX_INBOUND_CHARS = 10_000

# One bulk request carries many recipients, and it is the unit of doubt: Africa's Talking
# has no API to ask which messages it accepted, so when a request times out or the worker
# dies during it, every recipient in it ends `unknown` (never re-sent blindly). 100 bounds
# that to 100 people per crash while keeping the per-request overhead small (measured in
# docs/benchmarks.md, "Outbox drain": 500 per request was within the noise of 100 once a
# request's database work became two statements and one commit). Africa's Talking's API
# reference gives `to` as "a comma separated string of recipients' phone numbers" and
# documents no maximum; third-party wrappers cite 100 or 1,000.
# `Providers(at_recipients_per_call=)` / `max_recipients_per_call` change it.
MAX_RECIPIENTS_PER_CALL = 100

# The SDK's own validate_phone: a single number failing it makes SMS.send raise ValueError
# for the whole call, so such numbers are failed on their own before the bulk call.
_SDK_PHONE = re.compile(r"^\+\d{1,3}\d{3,}$")

# Delivery report `status` words. Our "queued" means still in our outbox, so anything
# Africa's Talking holds is at least "sent".
STATUS_MAPPING: dict[str, str] = {
    "Sent": "sent",  # handed to the telco
    "Submitted": "sent",  # submitted to the telco
    "Buffered": "sent",  # queued at the telco (phone off): may still be delivered
    "Success": "delivered",
    "Rejected": "failed",  # rejected by the telco
    "Failed": "failed",  # the telco could not deliver
    "AbsentSubscriber": "undelivered",
    "Expired": "undelivered",  # validity period passed while buffered
}

# `failureReason` values that will not change by resending to the same number.
PERMANENT_FAILURE_REASONS = frozenset(
    {
        "InvalidLinkId",  # premium: the linkId expired or was used
        "UserIsInactive",
        "UserInBlackList",  # the person blocked this sender/short code
        "UserAccountSuspended",
        "NotNetworkSubcriber",  # sic: Africa's Talking's spelling
        "UserNotSubscribedToProduct",  # premium: they unsubscribed
        "UserDoesNotExist",
        "DeliveryFailure",
    }
)
# `failureReason` values that mean the person asked not to receive messages.
OPT_OUT_FAILURE_REASONS = frozenset({"UserInBlackList", "UserNotSubscribedToProduct"})
# Temporary by nature: InsufficientCredit (top the account up), AbsentSubscriber.

# Per-recipient `statusCode` in the send response.
ACCEPTED_CODES = frozenset({100, 101, 102})  # Processed, Success, Queued
PERMANENT_CODES = frozenset(
    {
        402,  # InvalidSenderId: the sender id is not registered for this network
        403,  # InvalidPhoneNumber
        404,  # UnsupportedNumberType
        406,  # UserInBlacklist
        409,  # DoNotDisturbRejection
    }
)
OPT_OUT_CODES = frozenset({406, 409})  # the person blacklisted us / set Do Not Disturb
# Retryable: 401 RiskHold (held for review), 405 InsufficientBalance (top up, then resend),
# 407 CouldNotRoute (a route to that network can come back; rejects are not charged),
# 500 InternalServerError, 501 GatewayError, 502 RejectedByGateway.

PRODUCTION_API = "https://api.africastalking.com"
SANDBOX_API = "https://api.sandbox.africastalking.com"


# --- webhooks ---------------------------------------------------------------------------


def verify_token(query_token: str | None, expected: str) -> None:
    """Raise WebhookRejected(403) unless the callback's ?token= matches AT_CALLBACK_TOKEN."""
    if not expected:
        # Without a configured token anyone could post fake replies: refuse, don't accept.
        raise WebhookRejected(403, "AT_CALLBACK_TOKEN is not configured; refusing callbacks")
    if not query_token:
        raise WebhookRejected(403, "missing token query parameter")
    if not hmac.compare_digest(query_token.encode(), expected.encode()):
        raise WebhookRejected(403, "invalid token query parameter")


def _required(form: Mapping[str, str], name: str) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise WebhookRejected(400, f"missing field {name}")
    return value


def _parse_date(raw: str | None) -> datetime | None:
    """AT sends "2017-05-03T06:04:45Z" or "2017-05-03 06:04:45" (UTC); unknown → None."""
    if not raw:
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return datetime.strptime(raw.strip(), pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def parse_inbound(form: Mapping[str, str], *, default_region: str | None = None) -> InboundMessage:
    """An inbound SMS from the two-way callback: from, to, text, date, id, linkId, networkCode.

    `linkId` is set for premium (on-demand) short codes; a reply must quote it.
    """
    message_id = _required(form, "id")
    raw_from = _required(form, "from")
    try:
        sender = normalise_number(raw_from, default_region)
    except InvalidNumber as error:
        raise WebhookRejected(400, f"invalid from {raw_from!r}: {error.reason}") from error
    text = form.get("text") or ""
    if len(text) > MAX_INBOUND_CHARS:
        raise WebhookRejected(
            413, f"text too long: {len(text)} characters (limit {MAX_INBOUND_CHARS})"
        )
    return InboundMessage(
        sender=sender,
        text=text,
        channel=Channel.SMS,
        to=form.get("to") or None,
        provider=NAME,
        provider_message_id=message_id,
        received_at=_parse_date(form.get("date")),
        link_id=form.get("linkId") or None,
    )


def parse_delivery(form: Mapping[str, str]) -> StatusUpdate:
    """A delivery report: id, status, failureReason, phoneNumber, networkCode, retryCount."""
    message_id = _required(form, "id")
    word = _required(form, "status")
    status = STATUS_MAPPING.get(word)
    if status is None:
        known = ", ".join(sorted(STATUS_MAPPING))
        raise WebhookRejected(400, f"unknown status {word!r}, expected one of {known}")
    reason = form.get("failureReason") or None
    return StatusUpdate(
        provider_id=message_id,
        status=status,
        error_code=reason,
        error=reason,
        raw=dict(form),
    )


def is_permanent_failure(reason: str | None) -> bool:
    return reason in PERMANENT_FAILURE_REASONS


def is_opt_out(reason: str | None) -> bool:
    return reason in OPT_OUT_FAILURE_REASONS


# --- sending ----------------------------------------------------------------------------


def _rebase(url: str, api_base: str) -> str:
    base = urlsplit(api_base)
    parts = urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))


class RebasedSMSService(SMSService):
    """The SDK's SMS service with its API host swapped, paths (/version1/messaging) kept.

    The SDK fixes its hosts in `_init_service` (api.africastalking.com, or
    api.sandbox.africastalking.com for the "sandbox" user, and content.africastalking.com
    for premium sends); rewriting scheme and netloc right after keeps every path the
    SDK's own. Premium sends go to the same overridden host.
    """

    def __init__(self, username: str, api_key: str, api_base: str):
        parts = urlsplit(api_base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"api_base must look like https://host[:port], got {api_base!r}")
        self._api_base = api_base
        super().__init__(username, api_key)

    def _init_service(self) -> None:
        super()._init_service()
        self._baseUrl = _rebase(self._baseUrl, self._api_base)
        if self._contentUrl:
            self._contentUrl = _rebase(self._contentUrl, self._api_base)


def _group_key(message: OutboundMessage) -> tuple[str, str | None] | None:
    """Messages with the same text and sender share one bulk call; premium ones never do."""
    if message.link_id:
        return None
    return (message.text, message.sender)


def _chunks(
    messages: list[OutboundMessage], size: int = MAX_RECIPIENTS_PER_CALL
) -> Iterable[list[OutboundMessage]]:
    """Split a group so no call repeats a number (the response is keyed by number) and
    no call exceeds `size` recipients."""
    pending = list(messages)
    while pending:
        chunk: list[OutboundMessage] = []
        seen: set[str] = set()
        rest: list[OutboundMessage] = []
        for message in pending:
            if message.to in seen or len(chunk) >= size:
                rest.append(message)
            else:
                seen.add(message.to)
                chunk.append(message)
        yield chunk
        pending = rest


class AfricasTalkingProvider:
    """Sends through the official `africastalking` SDK, grouping identical texts in bulk."""

    name = NAME

    def __init__(
        self,
        username: str,
        api_key: str,
        sender_id: str | None = None,
        *,
        api_base: str | None = None,
        timeout: tuple[float, float] = (3.05, 15.0),
        max_recipients_per_call: int = MAX_RECIPIENTS_PER_CALL,
    ):
        if max_recipients_per_call < 1:
            raise ValueError("max_recipients_per_call must be at least 1")
        self.max_recipients_per_call = max_recipients_per_call
        self.sms = (
            RebasedSMSService(username, api_key, api_base)
            if api_base
            else SMSService(username, api_key)
        )
        self.sender_id = sender_id or None
        self.timeout = timeout

    def calls(self, messages: list[OutboundMessage]) -> list[list[OutboundMessage]]:
        """The requests `send_batch` makes, each a list of its messages: identical texts
        from one sender share a bulk request (at most `max_recipients_per_call`), premium
        replies go one by one, and a number the SDK would refuse is a unit of its own that
        is failed without any request. The outbox marks one unit `sending` at a time."""
        units: list[list[OutboundMessage]] = []
        groups: dict[tuple[str, str | None], list[OutboundMessage]] = {}
        for message in messages:
            key = _group_key(message) if _SDK_PHONE.match(message.to) else None
            if key is None:
                units.append([message])
            else:
                groups.setdefault(key, []).append(message)
        for group in groups.values():
            units.extend(_chunks(group, self.max_recipients_per_call))
        return units

    def send_batch(self, messages: list[OutboundMessage]) -> list[SendResult]:
        results: dict[int, SendResult] = {}
        for unit in self.calls(messages):
            results.update(self._send_unit(unit))
        return [results[message.id] for message in messages]

    def _send_unit(self, unit: list[OutboundMessage]) -> dict[int, SendResult]:
        first = unit[0]
        if not _SDK_PHONE.match(first.to):
            return {
                first.id: _failure(
                    first.id, "403", f"InvalidPhoneNumber: {first.to!r} is not +E.164", True
                )
            }
        if _group_key(first) is None:
            return self._send_premium(first)
        return self._send_bulk(unit)

    def _send_bulk(self, chunk: list[OutboundMessage]) -> dict[int, SendResult]:
        first = chunk[0]
        sender = first.sender or self.sender_id
        return self._call(
            chunk,
            lambda: self.sms.send(
                first.text, [m.to for m in chunk], sender_id=sender, timeout=self.timeout
            ),
        )

    def _send_premium(self, message: OutboundMessage) -> dict[int, SendResult]:
        # Premium (on-demand) replies quote the inbound linkId and go from the short code.
        short_code = message.sender or self.sender_id
        if not short_code:
            return {
                message.id: _failure(
                    message.id, "config", "premium reply needs a short code sender", False
                )
            }
        return self._call(
            [message],
            lambda: self.sms.send_premium(
                message.text,
                short_code,
                [message.to],
                link_id=message.link_id,
                timeout=self.timeout,
            ),
        )

    def _call(self, chunk: list[OutboundMessage], send) -> dict[int, SendResult]:
        try:
            response = send()
        except requests.Timeout as error:
            # AT may have accepted some or all: the outbox decides how to reconcile.
            return _all_failed(chunk, "timeout", f"Africa's Talking timeout: {error}")
        except requests.RequestException as error:
            return _all_failed(chunk, "connection", f"Africa's Talking connection: {error}")
        except AfricasTalkingException as error:
            # The SDK turns any non-2xx (401 bad key, 5xx outage) into this exception with
            # only the body text; nothing was accepted, so the same request can go again.
            return _all_failed(chunk, "http", f"Africa's Talking refused the request: {error}")
        if not isinstance(response, dict):
            # The SDK returns text when Content-Type is not exactly application/json.
            return _all_failed(chunk, "response", f"unexpected response: {str(response)[:200]}")
        return _map_recipients(chunk, response)


def _map_recipients(chunk: list[OutboundMessage], response: dict) -> dict[int, SendResult]:
    recipients = (response.get("SMSMessageData") or {}).get("Recipients") or []
    by_number = {str(entry.get("number")): entry for entry in recipients}
    results: dict[int, SendResult] = {}
    for message in chunk:
        entry = by_number.get(message.to)
        if entry is None:
            summary = (response.get("SMSMessageData") or {}).get("Message", "")
            results[message.id] = _failure(
                message.id, "missing", f"number not in response: {summary}", False
            )
            continue
        results[message.id] = _recipient_result(message.id, entry)
    return results


def _recipient_result(message_id: int, entry: dict) -> SendResult:
    try:
        code = int(entry.get("statusCode"))
    except (TypeError, ValueError):
        code = 0
    word = str(entry.get("status") or "")
    if code in ACCEPTED_CODES:
        return SendResult(
            message_id=message_id, ok=True, provider_id=str(entry.get("messageId")), status="sent"
        )
    permanent = code in PERMANENT_CODES
    return SendResult(
        message_id=message_id,
        ok=False,
        status="failed" if permanent else "queued",
        error=f"Africa's Talking {code} {word}".strip(),
        error_code=str(code),
        permanent=permanent,
        opted_out=code in OPT_OUT_CODES,
    )


def _failure(message_id: int, code: str, error: str, permanent: bool) -> SendResult:
    return SendResult(
        message_id=message_id,
        ok=False,
        status="failed" if permanent else "queued",
        error=error,
        error_code=code,
        permanent=permanent,
    )


def _all_failed(chunk: list[OutboundMessage], code: str, error: str) -> dict[int, SendResult]:
    return {message.id: _failure(message.id, code, error, False) for message in chunk}
