"""A fake of Twilio's Messages API (2010-04-01) that checks requests like the real one.

Checks: HTTP Basic auth with AccountSid:AuthToken, exactly
/2010-04-01/Accounts/{AccountSid}/Messages.json, a form-encoded POST with To, From (or
MessagingServiceSid) and Body. Answers 201 with the Message resource JSON, or Twilio's
error JSON {"code", "message", "more_info", "status"}.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from tests.fakes._http import Answer, FakeServer, RecordedRequest

API_VERSION = "2010-04-01"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    21211: "The 'To' number is not a valid phone number.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the "
    "'To' number",
    21602: "Message body is required.",
    21604: "A 'To' phone number is required.",
    21603: "A 'From' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number is not currently reachable via SMS",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    20500: "Internal Server Error",
    30003: "Unreachable destination handset",
}


def _error(status: int, code: int, message: str | None = None) -> Answer:
    body = {
        "code": code,
        "message": message or ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Answer(status, json.dumps(body).encode())


def _status_for(code: int) -> int:
    return {20003: 401, 20404: 404, 20429: 429, 20500: 500}.get(code, 400)


class FakeTwilio(FakeServer):
    def __init__(
        self,
        account_sid: str = "AC" + "0" * 31 + "1",
        auth_token: str = "fake-twilio-auth-token",
    ) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._messages: list[dict[str, Any]] = []
        self._messages_lock = threading.Lock()

    @property
    def messages_path(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Message resources accepted so far, as Twilio would return them."""
        with self._messages_lock:
            return list(self._messages)

    def add_message(self, **fields: Any) -> dict[str, Any]:
        """Seed a message Twilio already holds (e.g. sent before a crash)."""
        resource = self._resource(
            to=fields.pop("to"), sender=fields.pop("from_", None), body=fields.pop("body", "")
        )
        resource.update(fields)
        with self._messages_lock:
            self._messages.append(resource)
        return resource

    # --- checks -----------------------------------------------------------------------

    def answer(self, request: RecordedRequest) -> Answer:
        if not self._authorised(request):
            self.reject(request, "bad or missing HTTP Basic auth")
            return _error(401, 20003)
        if request.path != self.messages_path:
            self.reject(request, f"unexpected path {request.path}")
            return _error(404, 20404)
        if request.method == "GET":
            return self._list(request)
        return self._create(request)

    def _authorised(self, request: RecordedRequest) -> bool:
        header = request.header("Authorization") or ""
        if not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[len("Basic ") :]).decode()
        except ValueError:
            return False
        return decoded == f"{self.account_sid}:{self.auth_token}"

    def _create(self, request: RecordedRequest) -> Answer:
        content_type = request.header("Content-Type") or ""
        if not content_type.startswith("application/x-www-form-urlencoded"):
            self.reject(request, f"Content-Type {content_type!r} is not form-encoded")
            return _error(400, 21602, "Unsupported content type")
        to = request.first("To")
        sender = request.first("From")
        service = request.first("MessagingServiceSid")
        body = request.first("Body")
        if not to:
            self.reject(request, "missing To")
            return _error(400, 21604)
        if not sender and not service:
            self.reject(request, "missing From and MessagingServiceSid")
            return _error(400, 21603)
        if body is None or body == "":
            self.reject(request, "missing Body")
            return _error(400, 21602)
        if len(body) > 1600:
            self.reject(request, "Body over 1600 characters")
            return _error(400, 21617)
        number = to.removeprefix("whatsapp:")
        if not _E164.match(number):
            self.reject(request, f"To {to!r} is not E.164")
            return _error(400, 21211)
        if sender and to.startswith("whatsapp:") != sender.startswith("whatsapp:"):
            self.reject(request, "To and From disagree about the whatsapp: channel")
            return _error(400, 21910, "Invalid From and To pair.")

        self.stall_if_scripted()
        failure = self._take_failure()
        if failure is not None:
            return _error(failure.status, failure.code or failure.status)
        if number in self.fail_numbers:
            code = self.fail_numbers[number]
            return _error(_status_for(code), code)

        resource = self._resource(to=to, sender=sender, body=body, service=service)
        if callback := request.first("StatusCallback"):
            resource["status_callback"] = callback  # not in Twilio's JSON; kept for tests
        with self._messages_lock:
            self._messages.append(resource)
        self.count_send(number)
        return Answer(201, json.dumps(resource).encode())

    def _resource(
        self, *, to: str, sender: str | None, body: str, service: str | None = None
    ) -> dict[str, Any]:
        sid = "SM" + secrets.token_hex(16)
        now = format_datetime(datetime.now(UTC))  # Twilio's RFC 2822 dates
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": now,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            # With a Messaging Service and no From, Twilio answers "accepted".
            "status": "accepted" if service and not sender else "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": to,
            "uri": f"{uri}.json",
        }

    def _list(self, request: RecordedRequest) -> Answer:
        def first(name: str) -> str | None:
            values = request.query.get(name)
            return values[0] if values else None

        to, sender, after = first("To"), first("From"), first("DateSent>")
        with self._messages_lock:
            found = [
                message
                for message in self._messages
                if (to is None or message["to"] == to)
                and (sender is None or message["from"] == sender)
                and (after is None or _sent_on_or_after(message, after))
            ]
        page_size = int(first("PageSize") or 50)
        body = {
            "end": max(len(found) - 1, 0),
            "first_page_uri": f"{self.messages_path}?PageSize={page_size}&Page=0",
            "messages": list(reversed(found)),  # Twilio lists newest first
            "next_page_uri": None,
            "page": 0,
            "page_size": page_size,
            "previous_page_uri": None,
            "start": 0,
            "uri": request.path,
        }
        return Answer(200, json.dumps(body).encode())


def _sent_on_or_after(message: dict[str, Any], after: str) -> bool:
    """Twilio's DateSent filters work on the date alone (YYYY-MM-DD), whatever time is sent."""
    sent = parsedate_to_datetime(message["date_sent"]).date()
    return sent.isoformat() >= after[:10]
