"""A fake of Africa's Talking's SMS API (POST /version1/messaging) that checks requests.

Checks: header `apiKey` equals the key, `Accept: application/json`, a form-encoded POST to
exactly /version1/messaging with `username` (ours), `to` (comma-separated +E.164) and
`message`; `linkId` only with `bulkSMSMode=0` (premium). Answers 201 with
`Content-Type: application/json` exactly — the SDK compares the header verbatim and returns
plain text otherwise — and the documented SMSMessageData body.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from typing import Any

from tests.fakes._http import Answer, FakeServer, RecordedRequest

MESSAGING_PATH = "/version1/messaging"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

STATUS_WORDS = {
    100: "Processed",
    101: "Success",
    102: "Queued",
    401: "RiskHold",
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    405: "InsufficientBalance",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    409: "DoNotDisturbRejection",
    500: "InternalServerError",
    501: "GatewayError",
    502: "RejectedByGateway",
}
COST = "KES 0.8000"


def _text(status: int, text: str) -> Answer:
    # AT's request-level errors are plain text, e.g. "The supplied authentication is invalid".
    return Answer(status, text.encode(), content_type="text/plain")


class FakeAfricasTalking(FakeServer):
    def __init__(
        self,
        username: str = "heard-test",
        api_key: str = "fake-at-api-key",
        *,
        sender_ids: set[str] | None = None,
    ) -> None:
        super().__init__()
        self.username = username
        self.api_key = api_key
        self.sender_ids = sender_ids  # None: any sender id is registered
        self._messages: list[dict[str, Any]] = []
        self._messages_lock = threading.Lock()

    @property
    def messages(self) -> list[dict[str, Any]]:
        """One entry per accepted recipient: number, message, from, linkId, messageId."""
        with self._messages_lock:
            return list(self._messages)

    @property
    def send_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == MESSAGING_PATH]

    def answer(self, request: RecordedRequest) -> Answer:
        if request.header("apiKey") != self.api_key:
            self.reject(request, "missing or wrong apiKey header")
            return _text(401, "The supplied authentication is invalid")
        if request.header("Accept") != "application/json":
            self.reject(request, f"Accept is {request.header('Accept')!r}")
            return _text(406, "Accept must be application/json")
        if request.method != "POST" or request.path != MESSAGING_PATH:
            self.reject(request, f"unexpected {request.method} {request.path}")
            return _text(404, "Not found")
        content_type = request.header("Content-Type") or ""
        if not content_type.startswith("application/x-www-form-urlencoded"):
            self.reject(request, f"Content-Type {content_type!r} is not form-encoded")
            return _text(400, "Request body must be form-encoded")
        problem = self._check_form(request)
        if problem:
            self.reject(request, problem)
            return _text(400, problem)

        self.stall_if_scripted()
        failure = self._take_failure()
        if failure is not None:
            return _text(failure.status, STATUS_WORDS.get(failure.status, "Error"))
        return self._send(request)

    def _check_form(self, request: RecordedRequest) -> str | None:
        if request.first("username") != self.username:
            return f"username {request.first('username')!r} is not {self.username!r}"
        if not request.first("to"):
            return "Must have to to send a message"
        if not request.first("message"):
            return "Must have message to send"
        if request.first("linkId") and request.first("bulkSMSMode") != "0":
            return "linkId is only valid on premium sends (bulkSMSMode=0)"
        return None

    def _send(self, request: RecordedRequest) -> Answer:
        sender = request.first("from")
        recipients = [
            self._recipient(number.strip(), request, sender)
            for number in (request.first("to") or "").split(",")
        ]
        accepted = [r for r in recipients if r["statusCode"] in (100, 101, 102)]
        total = f"KES {0.8 * len(accepted):.4f}"
        body = {
            "SMSMessageData": {
                "Message": f"Sent to {len(accepted)}/{len(recipients)} Total Cost: {total}",
                "Recipients": recipients,
            }
        }
        return Answer(201, json.dumps(body).encode(), content_type="application/json")

    def _recipient(
        self, number: str, request: RecordedRequest, sender: str | None
    ) -> dict[str, Any]:
        code = 101
        if not _E164.match(number):
            code = 403
        elif self.sender_ids is not None and sender is not None and sender not in self.sender_ids:
            code = 402
        elif number in self.fail_numbers:
            code = self.fail_numbers[number]
        if code not in (100, 101, 102):
            return {
                "statusCode": code,
                "number": number,
                "status": STATUS_WORDS.get(code, "Failed"),
                "cost": "0",
                "messageId": "None",
            }
        message_id = "ATXid_" + secrets.token_hex(16)
        with self._messages_lock:
            self._messages.append(
                {
                    "number": number,
                    "message": request.first("message"),
                    "from": sender,
                    "linkId": request.first("linkId"),
                    "messageId": message_id,
                }
            )
        self.count_send(number)
        return {
            "statusCode": code,
            "number": number,
            "status": STATUS_WORDS[code],
            "cost": COST,
            "messageId": message_id,
        }
