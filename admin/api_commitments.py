"""JSON API for dialogues and commitments: `/api/v1/dialogues`, `/api/v1/commitments`.

Every route is scoped to the token's organisation: another organisation's id is a 404,
exactly like an id that does not exist, so ids reveal nothing. Bad input is a 400 with
`{"error": "..."}` naming the field.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify, request

from admin.api_auth import require_token
from admin.openapi import api_route
from bot import commitments, verdicts
from bot.audience import AudienceError
from storage import models as m

blueprint = Blueprint("api_commitments", __name__, url_prefix="/api/v1")


class BadRequest(ValueError):
    pass


def _services():
    return current_app.extensions["heard"]


def _error(message: str, status: int):
    return jsonify({"error": message}), status


@blueprint.errorhandler(BadRequest)
def _bad_request(error: BadRequest):
    return _error(str(error), 400)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def _date(data: dict, key: str, *, required: bool) -> date | None:
    raw = data.get(key)
    if raw in (None, ""):
        if required:
            raise BadRequest(f"{key} is required (YYYY-MM-DD)")
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise BadRequest(f"{key} must be a date (YYYY-MM-DD)") from None


def _text(data: dict, key: str, *, required: bool = True, default: str = "") -> str:
    raw = data.get(key, default)
    if not isinstance(raw, str):
        raise BadRequest(f"{key} must be a string")
    if required and not raw.strip():
        raise BadRequest(f"{key} is required")
    return raw.strip()


def _int(data: dict, key: str, default: int) -> int:
    raw = data.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise BadRequest(f"{key} must be an integer")
    return raw


def dialogue_json(row: m.Dialogue) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "held_on": row.held_on.isoformat(),
        "place": row.place,
        "officials": list(row.officials),
        "notes": row.notes,
    }


def overview_json(item: verdicts.CommitmentOverview) -> dict[str, Any]:
    return {
        "id": item.id,
        "dialogue_id": item.dialogue_id,
        "duty_bearer": item.duty_bearer,
        "description": item.description,
        "short_name": item.short_name,
        "due_on": item.due_on.isoformat() if item.due_on else None,
        "status": item.status,
        "overdue": item.overdue,
        "rounds": item.rounds,
        "last_verdict": item.last_verdict,
        "trend": item.direction,
    }


def round_json(row: m.RepollRound) -> dict[str, Any]:
    return {
        "number": row.number,
        "due_at": row.due_at.isoformat() + "Z",
        "status": row.status,
        "closes_at": row.closes_at.isoformat() + "Z" if row.closes_at else None,
        "verdict": row.verdict,
        "tally": row.tally or {},
        "response_rate": row.response_rate,
        "feedback_text": row.feedback_text or {},
        "feedback_sent_at": row.feedback_sent_at.isoformat() + "Z"
        if row.feedback_sent_at
        else None,
    }


# --- dialogues ------------------------------------------------------------------------


@api_route(blueprint, "/dialogues", summary="List community dialogues")
@require_token
def list_dialogues():
    with _services().db.session() as session:
        rows = session.scalars(
            sa.select(m.Dialogue)
            .where(m.Dialogue.organisation_id == g.api.organisation_id)
            .order_by(m.Dialogue.held_on.desc(), m.Dialogue.id.desc())
        ).all()
        return jsonify({"dialogues": [dialogue_json(r) for r in rows]})


@api_route(
    blueprint,
    "/dialogues",
    methods=["POST"],
    summary="Record a dialogue (title, held_on, place, officials, notes)",
    responses={201: "created", 400: "a field is missing or invalid"},
)
@require_token
def create_dialogue():
    data = _body()
    officials = data.get("officials", [])
    if not isinstance(officials, list) or not all(isinstance(o, str) for o in officials):
        raise BadRequest("officials must be a list of names")
    with _services().db.session() as session:
        try:
            row = commitments.add_dialogue(
                session,
                g.api.organisation_id,
                title=_text(data, "title"),
                held_on=_date(data, "held_on", required=True),
                place=_text(data, "place", required=False),
                officials=officials,
                notes=_text(data, "notes", required=False),
            )
        except commitments.CommitmentError as error:
            raise BadRequest(str(error)) from None
        return jsonify(dialogue_json(row)), 201


# --- commitments ----------------------------------------------------------------------


@api_route(
    blueprint,
    "/commitments",
    summary="List commitments with status, verdicts and trend",
    query={"status": "only commitments with this status"},
)
@require_token
def list_commitments():
    services = _services()
    wanted = request.args.get("status")
    with services.db.session() as session:
        items = verdicts.overviews(session, g.api.organisation_id, services.clock.now())
    if wanted:
        items = [i for i in items if i.status == wanted]
    return jsonify({"commitments": [overview_json(i) for i in items]})


@api_route(
    blueprint,
    "/commitments",
    methods=["POST"],
    summary="Record a commitment and its re-poll plan",
    responses={201: "created", 400: "a field is missing or invalid"},
)
@require_token
def create_commitment():
    data = _body()
    short_name = data.get("short_name")
    if isinstance(short_name, str):
        short_name = {"en": short_name}
    if not isinstance(short_name, dict) or not all(isinstance(v, str) for v in short_name.values()):
        raise BadRequest("short_name must be a string or an object of translations")
    audience = data.get("audience")
    if not isinstance(audience, dict):
        raise BadRequest("audience must be an object (groups, villages, languages, ...)")
    dialogue_id = data.get("dialogue_id")
    if isinstance(dialogue_id, bool) or not isinstance(dialogue_id, int):
        raise BadRequest("dialogue_id must be an integer")
    send_at = data.get("send_at", "10:00")
    try:
        send_time = time.fromisoformat(str(send_at))
    except ValueError:
        raise BadRequest("send_at must be a time (HH:MM)") from None
    services = _services()
    with services.db.session() as session:
        try:
            row = commitments.add_commitment(
                session,
                dialogue_id=dialogue_id,
                duty_bearer=_text(data, "duty_bearer"),
                description=_text(data, "description"),
                short_name=short_name,
                due_on=_date(data, "due_on", required=True),
                audience=audience,
                every_days=_int(data, "every_days", 14),
                weeks_after_due=_int(data, "weeks_after_due", 8),
                send_at=send_time,
                starts_on=_date(data, "starts_on", required=False),
                organisation_id=g.api.organisation_id,
            )
        except LookupError:
            return _error(f"dialogue {dialogue_id} not found", 404)
        except (commitments.CommitmentError, AudienceError) as error:
            raise BadRequest(str(error)) from None
        return jsonify(_detail(session, row, services.clock.now())), 201


@api_route(
    blueprint,
    "/commitments/<int:commitment_id>",
    summary="One commitment with its plan, rounds and verdicts",
    responses={404: "no such commitment in your organisation"},
)
@require_token
def get_commitment(commitment_id: int):
    services = _services()
    with services.db.session() as session:
        row = session.get(m.Commitment, commitment_id)
        if row is None or row.organisation_id != g.api.organisation_id:
            return _error(f"commitment {commitment_id} not found", 404)
        return jsonify(_detail(session, row, services.clock.now()))


def _detail(session, row: m.Commitment, now: datetime) -> dict[str, Any]:
    item = next(i for i in verdicts.overviews(session, row.organisation_id, now) if i.id == row.id)
    plan = commitments.plan_of(session, row.id)
    body = overview_json(item)
    body["audience"] = row.audience
    body["plan"] = {
        "every_days": plan.every_days,
        "starts_on": plan.starts_on.isoformat(),
        "ends_on": plan.ends_on.isoformat(),
        "send_at": plan.send_at.strftime("%H:%M"),
        "active": plan.active,
        "schedule": [t.isoformat() + "Z" for t in commitments.plan_rounds(plan)],
    }
    body["rounds"] = [round_json(r) for r in commitments.rounds_of(session, row.id)]
    return body


@blueprint.errorhandler(404)
def _not_found(_error_obj):
    return _error("not found", 404)


@blueprint.errorhandler(405)
def _not_allowed(_error_obj):
    return _error("method not allowed", 405)
