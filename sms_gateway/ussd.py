"""Africa's Talking USSD: `POST /ussd/africastalking`, and the simulator's USSD hops.

Africa's Talking posts a form per hop — `sessionId`, `serviceCode`, `phoneNumber`, `text`
(everything typed in the session, joined by `*`; empty on the first hop) and
`networkCode` — and shows our text/plain answer: `CON …` keeps the session open for the
next input, `END …` closes it. It signs nothing, so the callback URL carries
`?token=<AT_CALLBACK_TOKEN>`, checked like the SMS callbacks.

A request we refuse gets a 4xx with its reason before anything is stored. Anything that
goes wrong after that still answers `END` with an apology: a USSD user is looking at a
spinner, and a 500 shows them the network's cryptic "connection problem or invalid MMI".
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify, request

from bot.phone import InvalidNumber, normalise_number
from bot.ussd import Screen
from bot.ussd import text as ussd_text
from bot.ussd_menu import UssdHop, UssdMenu
from sms_gateway.africastalking import verify_token
from sms_gateway.base import WebhookRejected

log = logging.getLogger(__name__)

# Far above any real session (a screen's input is at most 182 characters), far below
# what would make diffing or storing the text costly.
MAX_TEXT = 10_000
MAX_SESSION_ID = 128  # UssdSession.provider_session_id
MAX_SERVICE_CODE = 64  # Channel.address
SIMULATOR_PREFIX = "sim-"

blueprint = Blueprint("ussd", __name__)
simulator_blueprint = Blueprint("ussd_simulator", __name__)


def parse_hop(form, *, default_region: str | None, provider: str) -> UssdHop:
    """The provider's form as a `UssdHop`, or WebhookRejected(4xx) with the reason."""
    session_id = (form.get("sessionId") or "").strip()
    if not session_id:
        raise WebhookRejected(400, "missing field sessionId")
    if len(session_id) > MAX_SESSION_ID:
        raise WebhookRejected(400, f"sessionId longer than {MAX_SESSION_ID} characters")
    raw_phone = (form.get("phoneNumber") or "").strip()
    if not raw_phone:
        raise WebhookRejected(400, "missing field phoneNumber")
    try:
        phone = normalise_number(raw_phone, default_region)
    except InvalidNumber as error:
        raise WebhookRejected(400, f"invalid phoneNumber {raw_phone!r}: {error.reason}") from error
    text = form.get("text") or ""
    if len(text) > MAX_TEXT:
        raise WebhookRejected(413, f"text too long: {len(text)} characters (limit {MAX_TEXT})")
    if "\x00" in text:
        raise WebhookRejected(400, "text contains a NUL character")
    service_code = (form.get("serviceCode") or "").strip()[:MAX_SERVICE_CODE]
    return UssdHop(
        session_id=session_id,
        phone=phone,
        text=text,
        service_code=service_code,
        network_code=(form.get("networkCode") or "").strip() or None,
        provider=provider,
    )


def answer(hop: UssdHop) -> Screen:
    """The next screen, or an apology: never an exception towards the handset."""
    services = current_app.extensions["heard"]
    try:
        return UssdMenu(services.engine).hop(hop)
    except Exception:
        log.exception("USSD hop failed for session %s", hop.session_id)
        return Screen(ussd_text("error", None), end=True)


@blueprint.post("/ussd/africastalking")
def africastalking_ussd():
    services = current_app.extensions["heard"]
    try:
        verify_token(request.args.get("token"), services.settings.at_callback_token or "")
        hop = parse_hop(
            request.form,
            default_region=services.settings.default_region,
            provider="africastalking",
        )
    except WebhookRejected as rejected:
        log.info("USSD callback refused: %s", rejected.reason)
        return Response(rejected.reason, status=rejected.status, mimetype="text/plain")
    return Response(answer(hop).body(), status=200, mimetype="text/plain")


@simulator_blueprint.post("/simulator/api/ussd")
def simulator_ussd():
    """The panel's phone simulator, one hop at a time: {phone, session_id, text}."""
    services = current_app.extensions["heard"]
    if not services.settings.simulator:
        return jsonify(error="the simulator is off (it runs with `heard demo`)"), 404
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify(error="expected a JSON object with phone, session_id and text"), 400
    fields = {name: payload.get(name, "") for name in ("phone", "session_id", "text")}
    if not all(isinstance(value, str) for value in fields.values()):
        return jsonify(error="phone, session_id and text must be strings"), 400
    form = {
        # Kept apart from real sessions: a simulated id can never resume a provider's.
        "sessionId": SIMULATOR_PREFIX + fields["session_id"] if fields["session_id"] else "",
        "phoneNumber": fields["phone"],
        "text": fields["text"],
    }
    try:
        hop = parse_hop(form, default_region=services.settings.default_region, provider="console")
    except WebhookRejected as rejected:
        return jsonify(error=rejected.reason), rejected.status
    screen = answer(hop)
    return jsonify(screen=screen.text, end=screen.end)
