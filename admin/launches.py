"""Launching a poll: pick the audience, see who it reaches and what it costs, launch now or
schedule, then watch the outbox drain and the answers arrive.

The counts come from `bot.outreach` (the same query the launch itself runs), so the number
on the screen is the number of people who will be messaged. Every launch, pause and resume
is written to the audit log: a message to thousands of people must have a name on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from admin.access import ANALYST, COORDINATOR, get_owned, role_required
from admin.i18n import _, ngettext
from admin.labels import label
from admin.polls import latest, poll_or_404
from bot.audience import PROFILE_FILTERS, AudienceError
from storage import models as m
from storage.queries import audit

blueprint = Blueprint("launches", __name__, template_folder="templates")

AUDIENCE_KEYS = ("groups", "villages", "languages", *PROFILE_FILTERS)
WAITING = ("queued", "sending", "held")
FAILED = ("failed", "undelivered", "cancelled")


def services():
    return current_app.extensions["heard"]


def audience_from(args: Any) -> dict[str, list[Any]]:
    """The filter from checkboxes; group ids stay ids so renaming a group keeps a launch."""
    audience: dict[str, list[Any]] = {}
    for key in AUDIENCE_KEYS:
        values = [v for v in args.getlist(key) if v.strip()]
        if key == "groups":
            values = [int(v) for v in values if v.isdigit()]
        if values:
            audience[key] = values
    return audience


def options(session: so.Session, organisation: m.Organisation) -> dict[str, list[Any]]:
    """What the audience can be narrowed by: only values that occur, so no empty choices."""
    p = m.Participant
    in_org = p.organisation_id == organisation.id

    def distinct(column) -> list[str]:
        return list(
            session.scalars(
                sa.select(column).where(in_org, column.is_not(None)).distinct().order_by(column)
            )
        )

    groups = session.execute(
        sa.select(m.Group.id, m.Group.name)
        .where(m.Group.organisation_id == organisation.id)
        .order_by(m.Group.name)
    ).all()
    return {
        "groups": [(str(gid), name) for gid, name in groups],
        "villages": [(v, v) for v in distinct(p.village)],
        "languages": [(lang, lang) for lang in (organisation.languages or ["en"])],
        # profile answers are stored codes ("prefer_not"): shown as translated labels
        **{
            key: [(v, label(v, "profile")) for v in distinct(getattr(p, key))]
            for key in PROFILE_FILTERS
        },
    }


def estimate(session: so.Session, organisation_id: int, version_id: int, audience: dict) -> dict:
    from bot import outreach

    result = outreach.estimate_segments(session, organisation_id, version_id, audience)
    return {
        "participants": result.participants,
        "by_language": result.by_language,
        "first_message_segments": result.first_message_segments,
        "segments_per_person_max": result.segments_per_person_max,
        "segments_max": result.segments_per_person_max * result.participants,
    }


@blueprint.route("/polls/<int:poll_id>/launch", methods=["GET", "POST"])
@role_required(COORDINATOR)
def new(poll_id: int):
    source = request.form if request.method == "POST" else request.args
    audience = audience_from(source)
    with services().db.session() as session:
        poll = poll_or_404(session, poll_id)
        version = latest(session, poll)
        if version is None:
            abort(404)
        organisation = session.get(m.Organisation, current_user.organisation_id)
        error = None
        try:
            numbers = estimate(session, organisation.id, version.id, audience)
        except AudienceError as problem:
            numbers, error = None, str(problem)
        if (
            request.method == "POST"
            and request.form.get("action") in ("now", "schedule")
            and not error
        ):
            outcome = _launch(session, organisation, version, audience)
            if isinstance(outcome, int):
                return redirect(url_for("launches.show", launch_id=outcome))
            error = outcome
        past = session.scalars(
            sa.select(m.Launch)
            .join(m.PollVersion, m.PollVersion.id == m.Launch.poll_version_id)
            .where(m.PollVersion.poll_id == poll.id)
            .order_by(m.Launch.id.desc())
            .limit(20)
        ).all()
        return render_template(
            "launch_new.html",
            poll=poll,
            version=version,
            options=options(session, organisation),
            audience=audience,
            estimate=numbers,
            error=error,
            past=past,
            timezone=organisation.timezone,
        ), (422 if error else 200)


def _launch(session, organisation, version, audience) -> int | str:
    """Create (and, for "now", run) the launch; an error message when it cannot be."""
    from bot import outreach

    now = services().clock.now()
    scheduled_for = None
    if request.form.get("action") == "schedule":
        scheduled_for = _scheduled_for(request.form.get("scheduled_for", ""), organisation.timezone)
        if scheduled_for is None:
            return _("Pick a date and time in the future to schedule the launch.")
        if scheduled_for <= now:
            return _("That time has passed: pick a time in the future, or launch now.")
    if outreach.audience_count(session, organisation.id, audience) == 0:
        return _("Nobody can be reached with this audience (only people who consented count).")
    try:
        row = outreach.create_launch(
            session,
            organisation.id,
            version.id,
            audience,
            scheduled_for=scheduled_for,
            created_by=current_user.id,
            now=now,
        )
        report = outreach.launch(session, row.id, now) if scheduled_for is None else None
    except (LookupError, ValueError) as problem:
        return str(problem)
    audit(
        session,
        organisation_id=organisation.id,
        user_id=current_user.id,
        action="launch.scheduled" if scheduled_for else "launch.started",
        target=f"launch:{row.id}",
        detail={
            "poll_version_id": version.id,
            "audience": row.audience,
            "scheduled_for": scheduled_for.isoformat() if scheduled_for else None,
            "reached": report.started + report.queued if report else None,
        },
    )
    return row.id


def _scheduled_for(raw: str, timezone: str) -> datetime | None:
    """A `datetime-local` value in the organisation's time zone → naive UTC."""
    try:
        local = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return local.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


@blueprint.get("/polls/<int:poll_id>/launch/estimate")
@role_required(COORDINATOR)
def estimate_json(poll_id: int):
    """launch.js asks this as boxes are ticked: reach and cost before anything is sent."""
    with services().db.session() as session:
        poll = poll_or_404(session, poll_id)
        version = latest(session, poll)
        if version is None:
            abort(404)
        try:
            return jsonify(
                estimate(session, poll.organisation_id, version.id, audience_from(request.args))
            )
        except AudienceError as problem:
            return jsonify({"error": str(problem)}), 400


def progress(session: so.Session, launch_id: int) -> dict[str, Any]:
    outbox = m.OutboundMessage
    counts = dict(
        session.execute(
            sa.select(outbox.status, sa.func.count(outbox.id))
            .where(outbox.launch_id == launch_id)
            .group_by(outbox.status)
        ).all()
    )
    s = m.ConversationSession
    reached = session.scalar(sa.select(sa.func.count(s.id)).where(s.launch_id == launch_id)) or 0
    answered = (
        session.scalar(
            sa.select(sa.func.count(sa.distinct(m.Answer.session_id)))
            .join(s, s.id == m.Answer.session_id)
            .where(s.launch_id == launch_id)
        )
        or 0
    )
    queued = sum(counts.get(k, 0) for k in WAITING)
    sent = counts.get("sent", 0) + counts.get("unknown", 0)
    delivered = counts.get("delivered", 0)
    failed = sum(counts.get(k, 0) for k in FAILED)
    total = queued + sent + delivered + failed
    done = total - queued
    return {
        "queued": queued,
        "sent": sent,
        "delivered": delivered,
        "failed": failed,
        "answered": answered,
        "reached": reached,
        "messages": total,
        "percent": round(100 * done / total) if total else 0,
        "answered_percent": round(100 * answered / reached) if reached else 0,
    }


@blueprint.get("/launches/<int:launch_id>")
@role_required(COORDINATOR, ANALYST)
def show(launch_id: int):
    with services().db.session() as session:
        row = get_owned(session, m.Launch, launch_id)
        poll = row.poll_version.poll
        numbers = progress(session, launch_id)
        groups = _group_names(session, row.audience.get("groups", []))
        creator = session.get(m.User, row.created_by) if row.created_by else None
        return render_template(
            "launch_progress.html",
            launch=row,
            poll=poll,
            progress=numbers,
            groups=groups,
            creator=creator,
        )


def _group_names(session: so.Session, ids: list[Any]) -> list[str]:
    numbers = [int(i) for i in ids if str(i).isdigit()]
    names = [str(i) for i in ids if not str(i).isdigit()]
    if numbers:
        names += session.scalars(
            sa.select(m.Group.name).where(
                m.Group.id.in_(numbers), m.Group.organisation_id == current_user.organisation_id
            )
        ).all()
    return names


@blueprint.get("/launches/<int:launch_id>/progress")
@role_required(COORDINATOR, ANALYST)
def progress_json(launch_id: int):
    with services().db.session() as session:
        row = get_owned(session, m.Launch, launch_id)
        return jsonify({"status": row.status, **progress(session, launch_id)})


@blueprint.post("/launches/<int:launch_id>/<any(pause, resume):action>")
@role_required(COORDINATOR)
def pause_or_resume(launch_id: int, action: str):
    from bot import outreach

    with services().db.session() as session:
        get_owned(session, m.Launch, launch_id)
        change = outreach.pause_launch if action == "pause" else outreach.resume_launch
        try:
            moved = change(session, launch_id, services().clock.now())
        except ValueError as problem:
            flash(str(problem))
            return redirect(url_for("launches.show", launch_id=launch_id))
        audit(
            session,
            organisation_id=current_user.organisation_id,
            user_id=current_user.id,
            action=f"launch.{'paused' if action == 'pause' else 'resumed'}",
            target=f"launch:{launch_id}",
            detail={"messages": moved},
        )
    if action == "pause":
        flash(
            ngettext("Launch paused (%(num)d message).", "Launch paused (%(num)d messages).", moved)
        )
    else:
        flash(
            ngettext(
                "Launch resumed (%(num)d message).", "Launch resumed (%(num)d messages).", moved
            )
        )
    return redirect(url_for("launches.show", launch_id=launch_id))
