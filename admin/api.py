"""The JSON API under /api/v1: participants, groups, polls, results and exports.

Every route takes a bearer token (admin.api_auth.require_token) and acts as the token's
user: their organisation bounds every query (another organisation's id is a 404) and
their role bounds what they may change. Errors are `{"error": message}`; an invalid poll
is a 422 that lists every problem, so a script can fix them all in one go.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, jsonify, request

from admin.access import (
    ANALYST,
    COORDINATOR,
    current_organisation_id,
    current_principal,
    get_owned,
    has_role,
    shown_number,
)
from admin.api_auth import require_token
from admin.exports import csv_response, xlsx_response
from admin.openapi import PREFIX, api_route
from admin.participants import Filters, create_group, participant_query
from bot.flows.poll_format import PollValidationError, load_poll, poll_to_dict
from bot.phone import InvalidNumber, normalise_number
from bot.polls import definition_of, latest_version, save_poll
from storage import models as m
from storage.queries import audit

blueprint = Blueprint("api", __name__, url_prefix=PREFIX)

MAX_PER_PAGE = 200
PAGE_QUERY = {"page": "page number, from 1", "per_page": f"items per page, 1-{MAX_PER_PAGE}"}
PROFILE = ("language", "village", "gender", "age_band", "disability")

PARTICIPANT_BODY = {
    "type": "object",
    "required": ["phone"],
    "properties": {
        "phone": {"type": "string", "description": "E.164 or local format"},
        **{name: {"type": "string"} for name in PROFILE},
        "groups": {"type": "array", "items": {"type": "string"}, "description": "group names"},
    },
}
GROUP_BODY = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "kind": {"type": "string"},
        "village": {"type": "string"},
    },
}
MEMBERS_BODY = {
    "type": "object",
    "required": ["participants"],
    "properties": {"participants": {"type": "array", "items": {"type": "integer"}}},
}
POLL_BODY = {"type": "object", "description": "a poll in the poll format (see DESIGN.md)"}


def _db():
    return current_app.extensions["heard"].db


def require_role(*roles: str) -> None:
    """403 unless the token's user has one of `roles` (every /api/v1 module uses this)."""
    if not has_role(*roles):
        abort(403, description="your role does not allow this")


def actor_id() -> int | None:
    """The user behind the request, for the audit log and authorship columns."""
    return getattr(current_principal(), "id", None)


def iso(moment: datetime | None) -> str | None:
    """A naive UTC timestamp as the API writes it (ISO 8601 with Z)."""
    return moment.isoformat() + "Z" if moment else None


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object (Content-Type: application/json)")
    return body


def _pagination() -> tuple[int, int]:
    def number(name: str, default: int) -> int:
        raw = request.args.get(name, str(default))
        if not raw.isdigit() or int(raw) < 1:
            abort(400, description=f"{name} must be a whole number from 1")
        return int(raw)

    page, per_page = number("page", 1), number("per_page", 50)
    if per_page > MAX_PER_PAGE:
        abort(400, description=f"per_page must be at most {MAX_PER_PAGE}")
    return page, per_page


def paginate(session, query: sa.Select, serialise) -> dict[str, Any]:
    page, per_page = _pagination()
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {
        "items": [serialise(row) for row in rows],
        "page": page,
        "per_page": per_page,
        "total": total,
    }


def participant_json(p: m.Participant) -> dict[str, Any]:
    return {
        "id": p.id,
        "pseudonym": p.pseudonym,
        "phone": shown_number(p.phone) if p.phone else None,
        "status": p.status,
        **{name: getattr(p, name) for name in PROFILE},
        "created_at": p.created_at.isoformat(),
    }


def group_json(g: m.Group, members: int | None = None) -> dict[str, Any]:
    body = {"id": g.id, "name": g.name, "kind": g.kind, "village": g.village}
    if members is not None:
        body["members"] = members
    return body


# --- participants --------------------------------------------------------------------------


@api_route(
    blueprint,
    "/participants",
    summary="List participants (numbers masked for analysts)",
    query={
        **PAGE_QUERY,
        "q": "pseudonym or village (staff: number too)",
        "status": "status",
        "group": "group id",
        "village": "village",
        "language": "language code",
    },
)
@require_token
def participants_list():
    require_role(COORDINATOR, ANALYST)
    filters = Filters.from_args(request.args)
    query = participant_query(current_organisation_id(), filters, by_number=has_role(COORDINATOR))
    with _db().session() as session:
        return jsonify(paginate(session, query, participant_json))


@api_route(
    blueprint,
    "/participants",
    methods=["POST"],
    body=PARTICIPANT_BODY,
    summary="Add a participant (status new: asked for consent on first contact)",
    responses={
        201: "created",
        409: "the number is already a participant",
        422: "invalid number, language or group",
    },
)
@require_token
def participants_create():
    require_role(COORDINATOR)
    body = _json_object()
    organisation_id = current_organisation_id()
    with _db().session() as session:
        organisation = session.get(m.Organisation, organisation_id)
        try:
            phone = normalise_number(str(body.get("phone", "")), organisation.default_region)
        except InvalidNumber as error:
            return jsonify({"error": f"invalid phone: {error.reason}"}), 422
        language = body.get("language")
        if language is not None and language not in organisation.languages:
            return jsonify({"error": f"unknown language {language!r}"}), 422
        names = body.get("groups") or []
        if not isinstance(names, list):
            return jsonify({"error": "groups must be a list of group names"}), 422
        groups = session.scalars(
            sa.select(m.Group).where(
                m.Group.organisation_id == organisation_id,
                m.Group.name.in_([str(n) for n in names]),
            )
        ).all()
        missing = sorted(set(map(str, names)) - {g.name for g in groups})
        if missing:
            return jsonify({"error": f"unknown group {missing[0]!r}"}), 422
        exists = session.scalar(
            sa.select(m.Participant.id).where(
                m.Participant.organisation_id == organisation_id, m.Participant.phone == phone
            )
        )
        if exists is not None:
            return jsonify({"error": "this number is already a participant", "id": exists}), 409
        participant = m.Participant(
            organisation_id=organisation_id,
            phone=phone,
            status="new",
            **{name: str(body[name])[:200] for name in PROFILE if body.get(name)},
        )
        participant.groups = list(groups)
        session.add(participant)
        session.flush()
        return jsonify(participant_json(participant)), 201


@api_route(blueprint, "/participants/<int:participant_id>", summary="One participant")
@require_token
def participants_show(participant_id: int):
    require_role(COORDINATOR, ANALYST)
    with _db().session() as session:
        participant = get_owned(session, m.Participant, participant_id)
        body = participant_json(participant)
        body["groups"] = [g.id for g in participant.groups]
        return jsonify(body)


# --- groups -----------------------------------------------------------------------------------


@api_route(blueprint, "/groups", summary="List groups", query=PAGE_QUERY)
@require_token
def groups_list():
    require_role(COORDINATOR, ANALYST)
    query = (
        sa.select(m.Group)
        .where(m.Group.organisation_id == current_organisation_id())
        .order_by(m.Group.name)
    )
    with _db().session() as session:
        return jsonify(paginate(session, query, group_json))


@api_route(
    blueprint,
    "/groups",
    methods=["POST"],
    body=GROUP_BODY,
    summary="Create a group",
    responses={201: "created", 409: "a group of this name exists", 422: "no name"},
)
@require_token
def groups_create():
    require_role(COORDINATOR)
    body = _json_object()
    name = str(body.get("name") or "").strip()
    if not name or len(name) > 200:
        return jsonify({"error": "name is required (at most 200 characters)"}), 422
    with _db().session() as session:
        group = create_group(
            session,
            current_organisation_id(),
            name,
            str(body.get("kind") or "")[:64],
            str(body.get("village") or "")[:200],
        )
        if group is None:
            return jsonify({"error": "a group with this name already exists"}), 409
        return jsonify(group_json(group, 0)), 201


@api_route(
    blueprint, "/groups/<int:group_id>/members", summary="A group's members", query=PAGE_QUERY
)
@require_token
def group_members(group_id: int):
    require_role(COORDINATOR, ANALYST)
    with _db().session() as session:
        group = get_owned(session, m.Group, group_id)
        return jsonify(
            paginate(session, group.members.select().order_by(m.Participant.id), participant_json)
        )


@api_route(
    blueprint,
    "/groups/<int:group_id>/members",
    methods=["POST"],
    body=MEMBERS_BODY,
    summary="Add participants (by id) to a group",
    responses={200: "added", 422: "an id is not a participant of the organisation"},
)
@require_token
def group_members_add(group_id: int):
    require_role(COORDINATOR)
    ids = _json_object().get("participants")
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        return jsonify({"error": "participants must be a list of participant ids"}), 422
    with _db().session() as session:
        group = get_owned(session, m.Group, group_id)
        found = set(
            session.scalars(
                sa.select(m.Participant.id).where(
                    m.Participant.organisation_id == group.organisation_id,
                    m.Participant.id.in_(ids),
                )
            )
        )
        unknown = [i for i in ids if i not in found]
        if unknown:
            return jsonify({"error": f"no participant {unknown[0]} in this organisation"}), 422
        members = m.group_members
        already = set(
            session.scalars(
                sa.select(members.c.participant_id).where(
                    members.c.group_id == group.id, members.c.participant_id.in_(ids)
                )
            )
        )
        rows = [{"group_id": group.id, "participant_id": i} for i in sorted(found - already)]
        if rows:
            session.execute(members.insert(), rows)
        return jsonify({"added": len(rows)}), 200


# --- polls ----------------------------------------------------------------------------------


def poll_json(poll: m.Poll) -> dict[str, Any]:
    latest = poll.versions[-1] if poll.versions else None
    return {
        "id": poll.id,
        "key": poll.key,
        "title": poll.title,
        "archived": poll.archived,
        "version": latest.version if latest else None,
        "launched_at": latest.launched_at.isoformat() if latest and latest.launched_at else None,
    }


@api_route(blueprint, "/polls", summary="List polls", query=PAGE_QUERY)
@require_token
def polls_list():
    query = (
        sa.select(m.Poll)
        .where(m.Poll.organisation_id == current_organisation_id())
        .order_by(m.Poll.key)
    )
    with _db().session() as session:
        return jsonify(paginate(session, query, poll_json))


@api_route(
    blueprint,
    "/polls",
    methods=["POST"],
    body=POLL_BODY,
    summary="Create a poll (or a new version of it) from the poll format",
    responses={201: "saved", 422: "invalid poll: `problems` lists every problem"},
)
@require_token
def polls_create():
    require_role(COORDINATOR)
    body = _json_object()
    try:
        definition = load_poll(body)
    except PollValidationError as error:
        return jsonify({"error": "invalid poll", "problems": error.problems}), 422
    organisation_id = current_organisation_id()
    with _db().session() as session:
        version = save_poll(session, organisation_id, definition)
        poll = version.poll
        audit(
            session,
            organisation_id=organisation_id,
            user_id=actor_id(),
            action="poll.save",
            target=poll.key,
            detail={"version": version.version, "via": "api"},
        )
        return jsonify(poll_json(poll)), 201


@api_route(blueprint, "/polls/<int:poll_id>", summary="A poll and its latest definition")
@require_token
def polls_show(poll_id: int):
    with _db().session() as session:
        poll = get_owned(session, m.Poll, poll_id)
        body = poll_json(poll)
        latest = latest_version(session, poll.organisation_id, poll.key)
        body["definition"] = poll_to_dict(definition_of(session, latest.id)) if latest else None
        return jsonify(body)


@api_route(
    blueprint,
    "/polls/<int:poll_id>/results",
    summary="Answer counts per question (choices: per value; numbers: count, min, max, mean)",
)
@require_token
def polls_results(poll_id: int):
    with _db().session() as session:
        poll = get_owned(session, m.Poll, poll_id)
        return jsonify({"poll": poll.key, "questions": question_results(session, poll.id)})


def question_results(session, poll_id: int) -> list[dict[str, Any]]:
    questions: dict[str, str] = {}
    for key, kind in session.execute(
        sa.select(m.Question.key, m.Question.type)
        .join(m.PollVersion)
        .where(m.PollVersion.poll_id == poll_id)
        .order_by(m.PollVersion.version, m.Question.position)
    ):
        questions.setdefault(key, kind)
    results = {
        key: {"key": key, "type": kind, "answered": 0, "skipped": 0, "counts": {}}
        for key, kind in questions.items()
    }
    rows = session.execute(
        sa.select(m.Answer.question_key, m.Answer.status, m.Answer.value)
        .join(m.PollVersion, m.PollVersion.id == m.Answer.poll_version_id)
        .where(m.PollVersion.poll_id == poll_id)
        .execution_options(yield_per=1000)
    )
    numbers: dict[str, list[float]] = {}
    for key, status, value in rows:
        result = results.get(key)
        if result is None:
            continue
        if status != "answered":
            result["skipped"] += 1
            continue
        result["answered"] += 1
        if result["type"] in ("number",) and isinstance(value, int | float):
            numbers.setdefault(key, []).append(float(value))
        elif result["type"] != "text":
            for picked in value if isinstance(value, list) else [value]:
                result["counts"][str(picked)] = result["counts"].get(str(picked), 0) + 1
    for key, values in numbers.items():
        results[key]["numbers"] = {
            "count": len(values),
            "min": min(values),
            "max": max(values),
            "mean": round(sum(values) / len(values), 3),
        }
    return list(results.values())


@api_route(
    blueprint,
    "/polls/<int:poll_id>/export.csv",
    summary="The answers as CSV (pseudonymous respondent ids)",
)
@require_token
def polls_export_csv(poll_id: int):
    return csv_response(poll_id)


@api_route(
    blueprint, "/polls/<int:poll_id>/export.xlsx", summary="The answers and their metadata as XLSX"
)
@require_token
def polls_export_xlsx(poll_id: int):
    return xlsx_response(poll_id)
