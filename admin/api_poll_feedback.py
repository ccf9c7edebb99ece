"""A poll's results summary over the JSON API: read the draft, edit it, send it.

The same `bot.poll_feedback` calls as the panel's page, so a script and a coordinator see
one draft and one send. Writes need a coordinator's or owner's token (analysts get a 403);
the send is claimed once, so a retried request answers 200 with `"queued": 0` rather than
messaging anyone twice. Saves and the send are audited with `"via": "api"`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy.orm as so
from flask import Blueprint, abort, current_app, jsonify, request

from admin.access import COORDINATOR, get_owned
from admin.api import actor_id, require_role
from admin.api_auth import require_token
from admin.openapi import PREFIX, api_route
from admin.poll_feedback import scope_for
from bot import poll_feedback
from storage import models as m
from storage.queries import audit

blueprint = Blueprint("api_poll_feedback", __name__, url_prefix=PREFIX)

LAUNCH_ID = {
    "type": "integer",
    "description": "summarise one launch of the poll; absent: the whole poll",
}
SUMMARY_BODY = {
    "type": "object",
    "properties": {
        "text": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "text per language code, at most "
            f"{poll_feedback.MAX_LENGTH} characters each; absent: keep the draft "
            "(a new summary starts from the one written from the results)",
        },
        "launch_id": LAUNCH_ID,
    },
}
SEND_BODY = {"type": "object", "properties": {"launch_id": LAUNCH_ID}}


def _services():
    return current_app.extensions["heard"]


def _body() -> dict[str, Any]:
    if not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object (Content-Type: application/json)")
    return body


def _scope(session: so.Session, poll_id: int, launch_id: Any) -> tuple[m.Poll, Any]:
    poll = get_owned(session, m.Poll, poll_id)
    if launch_id is not None and (isinstance(launch_id, bool) or not isinstance(launch_id, int)):
        abort(400, description="launch_id must be an integer")
    return poll, scope_for(session, poll, launch_id)


def summary_json(
    session: so.Session, poll: m.Poll, scope, row: m.PollSummary | None
) -> dict[str, Any]:
    texts = dict(row.text) if row is not None else poll_feedback.draft_texts(session, scope)
    return {
        "id": row.id if row is not None else None,
        "poll_id": poll.id,
        "launch_id": scope.id if isinstance(scope, m.Launch) else None,
        "text": texts,
        "saved": row is not None,
        "sent_at": row.sent_at.isoformat() + "Z" if row is not None and row.sent_at else None,
        "recipients": row.recipients if row is not None else None,
        "preview": [
            {
                "language": item.language,
                "text": item.text,
                "encoding": item.encoding,
                "segments": item.segments,
                "participants": item.recipients,
            }
            for item in poll_feedback.preview(session, scope, texts)
        ],
    }


@api_route(
    blueprint,
    "/polls/<int:poll_id>/summary",
    summary="The poll's results summary for participants: saved, or the draft from results",
    query={"launch_id": "summarise one launch of the poll; absent: the whole poll"},
)
@require_token
def show(poll_id: int):
    launch_id = request.args.get("launch_id")
    with _services().db.session() as session:
        poll = get_owned(session, m.Poll, poll_id)
        scope = scope_for(session, poll, launch_id)
        row = poll_feedback.summary_of(session, scope)
        return jsonify(summary_json(session, poll, scope, row))


@api_route(
    blueprint,
    "/polls/<int:poll_id>/summary",
    methods=["POST"],
    body=SUMMARY_BODY,
    summary="Create the results summary (from the results), or edit its texts",
    responses={
        200: "edited",
        201: "created",
        400: "bad body",
        409: "already sent: it cannot change",
        422: "texts empty or too long",
    },
)
@require_token
def save(poll_id: int):
    require_role(COORDINATOR)
    body = _body()
    texts = body.get("text")
    if texts is not None and not isinstance(texts, dict):
        abort(400, description="text must be an object of language code to text")
    with _services().db.session() as session:
        poll, scope = _scope(session, poll_id, body.get("launch_id"))
        existing = poll_feedback.summary_of(session, scope)
        if existing is not None and existing.sent_at is not None:
            return jsonify({"error": "this summary was already sent"}), 409
        try:
            row, created = poll_feedback.save_draft(session, scope, texts, user_id=actor_id())
        except poll_feedback.SummaryError as problem:
            return jsonify({"error": str(problem)}), 422
        audit(
            session,
            organisation_id=poll.organisation_id,
            user_id=actor_id(),
            action="poll.summary.created" if created else "poll.summary.edited",
            target=f"poll:{poll.id}",
            detail={
                "summary_id": row.id,
                "launch_id": row.launch_id,
                "languages": sorted(row.text),
                "via": "api",
            },
        )
        return jsonify(summary_json(session, poll, scope, row)), (201 if created else 200)


@api_route(
    blueprint,
    "/polls/<int:poll_id>/summary/send",
    methods=["POST"],
    body=SEND_BODY,
    summary="Send the saved summary to the poll's respondents, once (quiet hours apply)",
    responses={
        200: 'queued: {"queued": messages}; 0 when it had already been sent',
        409: "no summary saved yet: create it first",
    },
)
@require_token
def send(poll_id: int):
    require_role(COORDINATOR)
    body = _body()
    with _services().db.session() as session:
        poll, scope = _scope(session, poll_id, body.get("launch_id"))
        row = poll_feedback.summary_of(session, scope)
        if row is None:
            return jsonify({"error": "no summary saved yet: POST .../summary first"}), 409
        try:
            queued = poll_feedback.send_summary(
                session, row, _services().clock.now(), user_id=actor_id(), via="api"
            )
        except poll_feedback.SummaryError as problem:
            return jsonify({"error": str(problem)}), 422
        return jsonify({**summary_json(session, poll, scope, row), "queued": queued})
