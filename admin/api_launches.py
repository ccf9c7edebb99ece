"""Launches over the JSON API: launch or schedule a poll, watch it, pause and resume it.

The same `bot.outreach` calls as the panel's launch page, and the same progress counts
(`admin.launches.progress`), so a script and a coordinator see one number. Writes need a
coordinator's or owner's token (analysts get a 403); every launch, pause and resume is in
the audit log with `"via": "api"`, because a message to thousands of people must have a
name on it whichever door it came through.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, jsonify, request

from admin.access import (
    COORDINATOR,
    current_organisation_id,
    get_owned,
)
from admin.api import PAGE_QUERY, actor_id, iso, paginate, require_role
from admin.api_auth import require_token
from admin.launches import progress
from admin.openapi import PREFIX, api_route
from bot import outreach
from bot.audience import AudienceError
from bot.polls import latest_version
from storage import models as m
from storage.queries import audit

blueprint = Blueprint("api_launches", __name__, url_prefix=PREFIX)

STATUSES = ("scheduled", "running", "paused", "done", "cancelled")
LAUNCH_BODY = {
    "type": "object",
    "required": ["audience"],
    "properties": {
        "audience": {
            "type": "object",
            "description": "groups (ids or names), villages, languages, gender, age_band, "
            "disability: lists; values in one list are alternatives, lists combine",
        },
        "scheduled_for": {
            "type": "string",
            "format": "date-time",
            "description": "ISO 8601, in the future; without an offset it is UTC. "
            "Absent: launch now",
        },
    },
}


def _services():
    return current_app.extensions["heard"]


def launch_json(row: m.Launch) -> dict[str, Any]:
    return {
        "id": row.id,
        "poll_id": row.poll_version.poll_id,
        "poll_version": row.poll_version.version,
        "status": row.status,
        "audience": row.audience,
        "scheduled_for": iso(row.scheduled_for),
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "repoll": row.repoll_round_id is not None,
    }


def _scheduled_for(raw: Any, now: datetime) -> datetime | None:
    """ISO 8601 → naive UTC, like every stored time; a 400 when unreadable or past."""
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        abort(400, description="scheduled_for must be an ISO 8601 date-time string")
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        abort(400, description="scheduled_for must be an ISO 8601 date-time")
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    if moment <= now:
        abort(400, description="scheduled_for has passed: give a future time, or leave it out")
    return moment


@api_route(
    blueprint,
    "/polls/<int:poll_id>/launches",
    methods=["POST"],
    body=LAUNCH_BODY,
    summary="Launch the poll's latest version now, or schedule it",
    responses={
        201: "launched or scheduled: the launch and its progress",
        400: "bad audience or scheduled_for",
        422: "nobody can be reached, or the poll cannot be launched",
    },
)
@require_token
def create(poll_id: int):
    require_role(COORDINATOR)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object (Content-Type: application/json)")
    audience = body.get("audience")
    if not isinstance(audience, dict):
        abort(400, description="audience must be an object (groups, villages, languages, ...)")
    now = _services().clock.now()
    scheduled_for = _scheduled_for(body.get("scheduled_for"), now)
    organisation_id = current_organisation_id()
    with _services().db.session() as session:
        poll = get_owned(session, m.Poll, poll_id)
        version = latest_version(session, organisation_id, poll.key)
        if version is None:
            return jsonify({"error": "the poll has no version to launch"}), 422
        try:
            if outreach.audience_count(session, organisation_id, audience) == 0:
                return jsonify({"error": "nobody can be reached with this audience"}), 422
            row = outreach.create_launch(
                session,
                organisation_id,
                version.id,
                audience,
                scheduled_for=scheduled_for,
                created_by=actor_id(),
                now=now,
            )
            if scheduled_for is None:
                outreach.launch(session, row.id, now)
        except AudienceError as problem:
            return jsonify({"error": str(problem)}), 400
        except (LookupError, ValueError) as problem:
            return jsonify({"error": str(problem)}), 422
        # counted in the database, not from the launch report's driver row counts
        numbers = progress(session, row.id)
        audit(
            session,
            organisation_id=organisation_id,
            user_id=actor_id(),
            action="launch.scheduled" if scheduled_for else "launch.started",
            target=f"launch:{row.id}",
            detail={
                "poll_version_id": version.id,
                "audience": row.audience,
                "scheduled_for": iso(scheduled_for),
                "reached": numbers["reached"] if scheduled_for is None else None,
                "via": "api",
            },
        )
        return jsonify({**launch_json(row), "progress": numbers}), 201


@api_route(
    blueprint,
    "/launches",
    summary="List launches, newest first",
    query={**PAGE_QUERY, "status": f"only launches with this status ({', '.join(STATUSES)})"},
)
@require_token
def index():
    query = (
        sa.select(m.Launch)
        .where(m.Launch.organisation_id == current_organisation_id())
        .order_by(m.Launch.id.desc())
    )
    status = request.args.get("status")
    if status:
        if status not in STATUSES:
            abort(400, description=f"status must be one of {', '.join(STATUSES)}")
        query = query.where(m.Launch.status == status)
    with _services().db.session() as session:
        return jsonify(paginate(session, query, launch_json))


@api_route(
    blueprint,
    "/launches/<int:launch_id>",
    summary="A launch: status and progress (queued, sent, delivered, failed, answered)",
)
@require_token
def show(launch_id: int):
    with _services().db.session() as session:
        row = get_owned(session, m.Launch, launch_id)
        return jsonify({**launch_json(row), "progress": progress(session, row.id)})


@api_route(
    blueprint,
    "/launches/<int:launch_id>/pause",
    methods=["POST"],
    summary="Pause a launch: its unsent messages are held",
    responses={200: "paused", 409: "a finished launch cannot be paused"},
)
@require_token
def pause(launch_id: int):
    return _pause_or_resume(launch_id, "pause")


@api_route(
    blueprint,
    "/launches/<int:launch_id>/resume",
    methods=["POST"],
    summary="Resume a paused launch: its held messages are released (quiet hours apply)",
    responses={200: "resumed (a launch that was not paused is left as it is)"},
)
@require_token
def resume(launch_id: int):
    return _pause_or_resume(launch_id, "resume")


def _pause_or_resume(launch_id: int, action: str):
    require_role(COORDINATOR)
    now = _services().clock.now()
    with _services().db.session() as session:
        row = get_owned(session, m.Launch, launch_id)
        change = outreach.pause_launch if action == "pause" else outreach.resume_launch
        try:
            moved = change(session, launch_id, now)
        except ValueError as problem:
            return jsonify({"error": str(problem)}), 409
        audit(
            session,
            organisation_id=row.organisation_id,
            user_id=actor_id(),
            action=f"launch.{'paused' if action == 'pause' else 'resumed'}",
            target=f"launch:{launch_id}",
            detail={"messages": moved, "via": "api"},
        )
        body = {**launch_json(row), "messages": moved, "progress": progress(session, row.id)}
        return jsonify(body)
