"""Web chat: the same conversations as SMS, from a browser, for people with a smartphone.

A visitor starts anonymous: a random id kept in the signed session cookie ("web:<id>") is
their participant, per organisation. A visitor who proves a phone number with an SMS code
(`sms_gateway.verification`) then speaks as that number's participant, so SMS and web chat
are one conversation with one consent; an organisation whose setting
`webchat_requires_phone` is true accepts no anonymous messages. Replies come back in the
JSON response; the engine also records them in the outbox (history), where they are marked
delivered at once, and outreach to a visitor waits there until their page fetches it.
"""

from __future__ import annotations

import re
import secrets

from flask import Blueprint, abort, current_app, jsonify, render_template, request, session

from bot.messages import Channel, InboundMessage
from bot.phone import InvalidNumber, mask_number, normalise_number
from sms_gateway import verification
from sms_gateway.outbox import send_verdict
from sms_gateway.providers import WEBCHAT
from storage import models as m
from storage import queries

blueprint = Blueprint("webchat", __name__, template_folder="templates")

MAX_TEXT = 2000
MAX_PHONE = 32  # longer is no phone number; refuse before parsing it
SENDER_PREFIX = "web:"
COOKIE_KEY = "webchat"
# Lets a browser retry a message after a dropped connection without it counting twice.
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _services():
    return current_app.extensions["heard"]


def _organisation(slug: str) -> m.Organisation:
    with _services().db.session() as db:
        organisation = queries.organisation_by_slug(db, slug)
    if organisation is None:
        abort(404)
    return organisation


def _visitor(organisation_id: int, *, create: bool) -> str | None:
    """The visitor's sender id for this organisation ("web:" + 16 chars fits phone's 32)."""
    ids = dict(session.get(COOKIE_KEY) or {})
    token = ids.get(str(organisation_id))
    if token is None and create:
        token = secrets.token_urlsafe(12)
        ids[str(organisation_id)] = token
        session[COOKIE_KEY] = ids
        session.permanent = True
    return SENDER_PREFIX + token if token else None


def _error(reason: str, status: int = 400, **extra):
    return jsonify(error=reason, **extra), status


def _requires_phone(organisation: m.Organisation) -> bool:
    return (organisation.settings or {}).get("webchat_requires_phone") is True


def _speaker(organisation_id: int, visitor: str | None) -> verification.Speaker | None:
    if visitor is None:
        return None
    with _services().db.session() as db:
        return verification.speaker(db, organisation_id, visitor)


@blueprint.get("/chat/<slug>")
def page(slug: str):
    organisation = _organisation(slug)
    speaker = _speaker(organisation.id, _visitor(organisation.id, create=False))
    verified = speaker is not None and speaker.verified
    return render_template(
        "webchat/chat.html",
        organisation=organisation,
        requires_phone=_requires_phone(organisation),
        verified_as=mask_number(speaker.sender) if verified else None,
    )


@blueprint.post("/chat/<slug>/api/message")
def message(slug: str):
    organisation = _organisation(slug)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return _error("expected a JSON object with `text`")
    text = payload.get("text")
    if not isinstance(text, str):
        return _error("`text` must be a string")
    if len(text) > MAX_TEXT:
        return _error(f"`text` is longer than {MAX_TEXT} characters")
    client_id = payload.get("id") or secrets.token_hex(16)
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        return _error("`id` must be 1-64 letters, digits, - or _")

    visitor = _visitor(organisation.id, create=True)
    assert visitor is not None
    speaker = _speaker(organisation.id, visitor)
    assert speaker is not None
    if not speaker.verified and _requires_phone(organisation):
        return _error("verify your phone number first: this chat needs one", 403, verify=True)
    inbound = InboundMessage(
        sender=speaker.sender,
        text=text,
        channel=Channel.WEBCHAT,
        organisation_id=organisation.id,
        provider=WEBCHAT,
        # The browser's id, not the number: each browser's retries are its own.
        provider_message_id=f"{visitor}:{client_id}",
    )
    services = _services()
    services.engine.handle(inbound)
    with services.db.session() as db:
        verification.keep_sms_route(db, speaker)
        stored = queries.inbound_by_provider_id(db, WEBCHAT, inbound.provider_message_id)
        rows = queries.replies_to(db, stored.id) if stored is not None else []
        _mark_shown(db, rows, services.clock.now())
        replies = [row.text for row in rows]
    return jsonify(replies=replies)


@blueprint.get("/chat/<slug>/api/messages")
def pending(slug: str):
    """Outreach (a launched poll) waiting for this visitor, shown when their page asks."""
    organisation = _organisation(slug)
    speaker = _speaker(organisation.id, _visitor(organisation.id, create=False))
    if speaker is None:
        return jsonify(messages=[])
    services = _services()
    with services.db.session() as db:
        participant = queries.participant_for_update(db, organisation.id, speaker.sender)
        if participant is None:
            return jsonify(messages=[])
        now = services.clock.now()
        shown = []
        for row in queries.queued_outbound_for(db, participant.id, WEBCHAT):
            verdict, detail = send_verdict(row, participant, organisation, now)
            if verdict == "cancel":
                queries.record_status(db, row, "cancelled", detail=str(detail), now=now)
            else:  # quiet hours are for phones that buzz; an open page asked for it
                shown.append(row)
        _mark_shown(db, shown, now)
        return jsonify(messages=[row.text for row in shown])


def _mark_shown(db, rows: list[m.OutboundMessage], now) -> None:
    for row in rows:
        if row.status == "queued":
            row.attempts += 1
            row.sent_at = now
            queries.record_status(db, row, "delivered", detail="shown in web chat", now=now)


# --- phone verification ------------------------------------------------------------------


def _json_field(name: str, max_length: int) -> tuple[str, None] | tuple[None, tuple]:
    """(value, None) for the string field `name` of a JSON object body, or (None, error).

    Only `application/json` bodies are read: a cross-site form cannot send one without a
    CORS preflight, which is what spares these endpoints a CSRF token."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return None, _error(f"expected a JSON object with `{name}`")
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip():
        return None, _error(f"`{name}` must be a non-empty string")
    if len(value) > max_length:
        return None, _error(f"`{name}` is longer than {max_length} characters")
    return value.strip(), None


def _refused(refusal: verification.Refusal):
    extra = {}
    if refusal.attempts_left is not None:
        extra["attempts_left"] = refusal.attempts_left
    response, status = _error(refusal.reason, refusal.status, **extra)
    if refusal.retry_after is not None:
        response.headers["Retry-After"] = str(refusal.retry_after)
    return response, status


@blueprint.post("/chat/<slug>/api/verify/start")
def verify_start(slug: str):
    """Send a one-time code by SMS to the number the visitor typed."""
    organisation = _organisation(slug)
    raw, bad = _json_field("phone", MAX_PHONE)
    if raw is None:
        return bad
    try:
        phone = normalise_number(raw, organisation.default_region)
    except InvalidNumber as error:
        return _error(f"not a phone number we can text: {error.reason}")
    visitor = _visitor(organisation.id, create=True)
    assert visitor is not None
    services = _services()
    with services.db.session() as db:
        refusal = verification.start(
            db,
            services.settings,
            organisation,
            visitor=visitor,
            phone=phone,
            now=services.clock.now(),
        )
    if refusal is not None:
        return _refused(refusal)
    expires_in = int(verification.CODE_TTL.total_seconds())
    return jsonify(sent=True, phone=mask_number(phone), expires_in=expires_in), 202


@blueprint.post("/chat/<slug>/api/verify/check")
def verify_check(slug: str):
    """Check the code; on success this browser speaks as that number's participant."""
    organisation = _organisation(slug)
    typed, bad = _json_field("code", verification.CODE_DIGITS + 8)
    if typed is None:
        return bad
    code = typed.replace(" ", "")  # "123 456", as some phones show it
    if not (len(code) == verification.CODE_DIGITS and code.isascii() and code.isdigit()):
        return _error(f"`code` must be the {verification.CODE_DIGITS} digits from the SMS")
    visitor = _visitor(organisation.id, create=False)
    if visitor is None:
        return _error("no code is waiting; ask for one first", 409)
    services = _services()
    # The session commits even when the code is wrong: the attempt must count.
    with services.db.session() as db:
        outcome = verification.check(
            db,
            services.settings,
            organisation,
            visitor=visitor,
            code=code,
            now=services.clock.now(),
        )
        phone = None if isinstance(outcome, verification.Refusal) else outcome.phone
    if isinstance(outcome, verification.Refusal):
        return _refused(outcome)
    return jsonify(verified=True, phone=mask_number(phone or ""))
