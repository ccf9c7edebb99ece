"""Web chat: the same conversations as SMS, from a browser, for people with a smartphone.

A visitor is anonymous: a random id kept in the signed session cookie ("web:<id>") is
their participant, per organisation. Replies come back in the JSON response; the engine
also records them in the outbox (history), where they are marked delivered at once, and
outreach to a visitor waits there until their page fetches it.
"""

from __future__ import annotations

import re
import secrets

from flask import Blueprint, abort, current_app, jsonify, render_template, request, session

from bot.messages import Channel, InboundMessage
from sms_gateway.outbox import send_verdict
from sms_gateway.providers import WEBCHAT
from storage import models as m
from storage import queries

blueprint = Blueprint("webchat", __name__, template_folder="templates")

MAX_TEXT = 2000
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


def _error(reason: str, status: int = 400):
    return jsonify(error=reason), status


@blueprint.get("/chat/<slug>")
def page(slug: str):
    organisation = _organisation(slug)
    return render_template("webchat/chat.html", organisation=organisation)


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

    sender = _visitor(organisation.id, create=True)
    assert sender is not None
    inbound = InboundMessage(
        sender=sender,
        text=text,
        channel=Channel.WEBCHAT,
        organisation_id=organisation.id,
        provider=WEBCHAT,
        provider_message_id=f"{sender}:{client_id}",
    )
    services = _services()
    services.engine.handle(inbound)
    with services.db.session() as db:
        stored = queries.inbound_by_provider_id(db, WEBCHAT, inbound.provider_message_id)
        rows = queries.replies_to(db, stored.id) if stored is not None else []
        _mark_shown(db, rows, services.clock.now())
        replies = [row.text for row in rows]
    return jsonify(replies=replies)


@blueprint.get("/chat/<slug>/api/messages")
def pending(slug: str):
    """Outreach (a launched poll) waiting for this visitor, shown when their page asks."""
    organisation = _organisation(slug)
    sender = _visitor(organisation.id, create=False)
    if sender is None:
        return jsonify(messages=[])
    services = _services()
    with services.db.session() as db:
        participant = queries.participant_for_update(db, organisation.id, sender)
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
