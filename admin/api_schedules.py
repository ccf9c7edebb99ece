"""Recurring polls over the JSON API: list, set up, read, change cadence or end, pause.

The same `bot.recurring` calls as the panel's schedules page (`admin.schedules`), so a
script and a coordinator see the same next occurrence. Writes need a coordinator's or
owner's token (analysts get a 403); each is in the audit log with `"via": "api"`, because a
poll sent to hundreds of people every week must have a name on it whichever door it came
through. Weekdays are the CLI's three-letter codes (`mon` … `sun`), times of day are the
organisation's wall clock ("09:00"), and moments are UTC with a `Z`.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, abort, current_app, jsonify, request

from admin.access import (
    COORDINATOR,
    current_organisation_id,
    get_owned,
)
from admin.api import PAGE_QUERY, actor_id, iso, paginate, require_role
from admin.api_auth import require_token
from admin.openapi import PREFIX, api_route
from bot import recurring
from bot.commitments import local_today
from storage import models as m
from storage.queries import audit

blueprint = Blueprint("api_schedules", __name__, url_prefix=PREFIX)

CADENCE_PROPERTIES: dict[str, Any] = {
    "every_days": {"type": "integer", "minimum": 1, "maximum": 365, "description": "default 7"},
    "weekday": {
        "type": ["string", "null"],
        "enum": [*recurring.WEEKDAYS, None],
        "description": "the first occurrence is the first such day on or after starts_on; "
        "every_days must then be whole weeks. null: count from starts_on",
    },
    "send_at": {"type": "string", "description": "HH:MM in the organisation's time zone"},
    "ends_on": {"type": ["string", "null"], "format": "date", "description": "null: no end"},
}
CREATE_BODY = {
    "type": "object",
    "required": ["poll_id", "audience"],
    "properties": {
        "poll_id": {"type": "integer"},
        "audience": {
            "type": "object",
            "description": "groups (ids or names), villages, languages, gender, age_band, "
            "disability: lists; values in one list are alternatives, lists combine. "
            "Required and not empty: a recurring poll to everybody is refused",
        },
        **CADENCE_PROPERTIES,
        "starts_on": {"type": "string", "format": "date", "description": "default: today"},
    },
}
UPDATE_BODY = {
    "type": "object",
    "description": "Only the fields given change. A new every_days or weekday counts on "
    "from the last occurrence sent, so nothing is sent twice in one period",
    "properties": {
        **CADENCE_PROPERTIES,
        "active": {"type": "boolean", "description": "false pauses, true resumes"},
    },
}


def _services():
    return current_app.extensions["heard"]


def schedule_json(
    row: m.RecurringPoll,
    poll_key: str,
    organisation: m.Organisation,
    *,
    sent: date | None,
    launches: list[m.Launch],
) -> dict[str, Any]:
    upcoming = recurring.next_occurrence(row, organisation, _services().clock.now(), sent=sent)
    return {
        "id": row.id,
        "poll_id": row.poll_id,
        "poll_key": poll_key,
        "audience": row.audience,
        "every_days": row.every_days,
        "weekday": recurring.WEEKDAYS[row.weekday] if row.weekday is not None else None,
        "send_at": row.send_at.strftime("%H:%M"),
        "timezone": organisation.timezone,
        "starts_on": row.starts_on.isoformat(),
        "ends_on": row.ends_on.isoformat() if row.ends_on else None,
        "active": row.active,
        "next_occurrence": (
            {"on": upcoming[0].isoformat(), "due_at": iso(upcoming[1])} if upcoming else None
        ),
        "recent_launches": [
            {
                "id": launch.id,
                "occurrence_on": launch.occurrence_on.isoformat(),
                "status": launch.status,
            }
            for launch in launches
        ],
    }


def _many_json(session: so.Session, rows: list[m.RecurringPoll]) -> list[dict[str, Any]]:
    """Rows as JSON with a fixed number of queries, however many there are."""
    if not rows:
        return []
    organisation = session.get(m.Organisation, current_organisation_id())
    ids = [row.id for row in rows]
    sent = recurring.last_sent_by_schedule(session, ids)
    recent = recurring.recent_launches(session, ids)
    keys = dict(
        session.execute(
            sa.select(m.Poll.id, m.Poll.key).where(m.Poll.id.in_({row.poll_id for row in rows}))
        ).all()
    )
    return [
        schedule_json(
            row, keys[row.poll_id], organisation, sent=sent.get(row.id), launches=recent[row.id]
        )
        for row in rows
    ]


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object (Content-Type: application/json)")
    return body


def _int(body: dict, name: str, default: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        abort(400, description=f"{name} must be a whole number")
    return value


def _weekday(body: dict, default: int | None) -> int | None:
    if "weekday" not in body:
        return default
    value = body["weekday"]
    if value is None:
        return None
    if value not in recurring.WEEKDAYS:
        abort(400, description=f"weekday must be one of {', '.join(recurring.WEEKDAYS)} or null")
    return recurring.WEEKDAYS.index(value)


def _time(body: dict, default: time) -> time:
    if "send_at" not in body:
        return default
    value = body["send_at"]
    try:
        if not isinstance(value, str):
            raise ValueError
        return time.fromisoformat(value.strip()).replace(second=0, microsecond=0)
    except ValueError:
        abort(400, description="send_at must be a time of day, HH:MM")


def _date(body: dict, name: str, default: date | None) -> date | None:
    if name not in body:
        return default
    value = body[name]
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError
        return date.fromisoformat(value.strip())
    except ValueError:
        abort(400, description=f"{name} must be a date, YYYY-MM-DD, or null")


@api_route(
    blueprint,
    "/schedules",
    summary="List recurring polls, oldest first, with each one's next occurrence",
    query=PAGE_QUERY,
)
@require_token
def index():
    query = (
        sa.select(m.RecurringPoll)
        .where(m.RecurringPoll.organisation_id == current_organisation_id())
        .order_by(m.RecurringPoll.id)
    )
    with _services().db.session() as session:
        page = paginate(session, query, lambda row: row)
        page["items"] = _many_json(session, page["items"])
        return jsonify(page)


@api_route(
    blueprint,
    "/schedules",
    methods=["POST"],
    body=CREATE_BODY,
    summary="Send a poll (its latest version each time) on a cadence to an audience",
    responses={201: "the recurring poll and its first occurrence", 400: "a field is not valid"},
)
@require_token
def create():
    require_role(COORDINATOR)
    body = _body()
    poll_id, audience = body.get("poll_id"), body.get("audience")
    if isinstance(poll_id, bool) or not isinstance(poll_id, int):
        abort(400, description="poll_id must be a poll's id")
    if not isinstance(audience, dict):
        abort(400, description="audience must be an object (groups, villages, languages, ...)")
    organisation_id = current_organisation_id()
    with _services().db.session() as session:
        organisation = session.get(m.Organisation, organisation_id)
        poll = session.get(m.Poll, poll_id)
        if poll is None or poll.organisation_id != organisation_id:
            abort(400, description="poll_id: no such poll")
        starts_on = _date(body, "starts_on", None) or local_today(
            organisation, _services().clock.now()
        )
        try:
            row = recurring.schedule_poll(
                session,
                organisation_id,
                poll.key,
                audience,
                every_days=_int(body, "every_days", 7),
                weekday=_weekday(body, None),
                send_at=_time(body, time(9, 0)),
                starts_on=starts_on,
                ends_on=_date(body, "ends_on", None),
                created_by=actor_id(),
            )
        except (LookupError, ValueError) as problem:  # RecurringError and AudienceError
            return jsonify({"error": str(problem)}), 400
        _audit(session, "schedule.created", row, poll_key=poll.key, audience=row.audience)
        return jsonify(schedule_json(row, poll.key, organisation, sent=None, launches=[])), 201


@api_route(
    blueprint,
    "/schedules/<int:schedule_id>",
    summary="A recurring poll: cadence, next occurrence and its latest launches",
)
@require_token
def show(schedule_id: int):
    with _services().db.session() as session:
        row = get_owned(session, m.RecurringPoll, schedule_id)
        return jsonify(_many_json(session, [row])[0])


@api_route(
    blueprint,
    "/schedules/<int:schedule_id>",
    methods=["PATCH"],
    body=UPDATE_BODY,
    summary="Change a recurring poll's cadence or end, or pause and resume it",
    responses={200: "the recurring poll as it now is", 400: "a field is not valid"},
)
@require_token
def update(schedule_id: int):
    require_role(COORDINATOR)
    body = _body()
    unknown = sorted(set(body) - set(UPDATE_BODY["properties"]))
    if unknown:
        # starts_on and the audience are history: past occurrences were sent with them
        abort(400, description=f"cannot change: {', '.join(unknown)}")
    active = body.get("active")
    if "active" in body and not isinstance(active, bool):
        abort(400, description="active must be true or false")
    with _services().db.session() as session:
        row = get_owned(session, m.RecurringPoll, schedule_id)
        try:
            changed = recurring.update_schedule(
                session,
                row,
                _services().clock.now(),
                every_days=_int(body, "every_days", row.every_days),
                weekday=_weekday(body, row.weekday),
                send_at=_time(body, row.send_at),
                ends_on=_date(body, "ends_on", row.ends_on),
            )
        except ValueError as problem:
            return jsonify({"error": str(problem)}), 400
        if changed:
            _audit(session, "schedule.updated", row, fields=changed)
        if active is not None and recurring.set_active(session, row, active):
            _audit(session, f"schedule.{'resumed' if active else 'paused'}", row)
        return jsonify(_many_json(session, [row])[0])


def _audit(session: so.Session, action: str, row: m.RecurringPoll, **detail) -> None:
    audit(
        session,
        organisation_id=row.organisation_id,
        user_id=actor_id(),
        action=action,
        target=f"schedule:{row.id}",
        detail={**detail, "via": "api"},
    )
