"""The console gateway: a phone simulated by a terminal, a test or the panel's simulator.

Replies come back in the response instead of through a provider, which is what makes the
demo work with no SMS account at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, jsonify, request

from bot.engine import Engine
from bot.messages import Channel, InboundMessage
from bot.phone import InvalidNumber, normalise_number
from sms_gateway.base import WebhookRejected

MAX_TEXT = 2000


@dataclass
class ConsoleGateway:
    """Type as a phone, read the replies. Used by `heard demo`, the simulator and tests."""

    engine: Engine
    default_region: str = "KE"

    def send(self, phone: str, text: str, *, channel: Channel = Channel.CONSOLE) -> list[str]:
        message = self.inbound(phone, text, channel=channel)
        return [reply.text for reply in self.engine.handle(message).replies]

    def inbound(self, phone: str, text: str, *, channel: Channel = Channel.CONSOLE):
        try:
            sender = normalise_number(phone, self.default_region)
        except InvalidNumber as error:
            raise WebhookRejected(400, f"invalid phone number: {error}") from error
        if len(text) > MAX_TEXT:
            raise WebhookRejected(400, f"text longer than {MAX_TEXT} characters")
        return InboundMessage(sender=sender, text=text, channel=channel, provider="console")


blueprint = Blueprint("console", __name__)


@blueprint.post("/simulator/api/message")
def simulator_message():
    services = current_app.extensions["heard"]
    if not services.settings.simulator:
        return jsonify(error="the simulator is off (it runs with `heard demo`)"), 404
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify(error="expected a JSON object with `phone` and `text`"), 400
    phone, text = payload.get("phone"), payload.get("text", "")
    if not isinstance(phone, str) or not isinstance(text, str):
        return jsonify(error="`phone` and `text` must be strings"), 400
    gateway = ConsoleGateway(services.engine, services.settings.default_region)
    try:
        replies = gateway.send(phone, text)
    except WebhookRejected as rejected:
        return jsonify(error=rejected.reason), rejected.status
    return jsonify(phone=gateway.inbound(phone, text).sender, replies=replies)
