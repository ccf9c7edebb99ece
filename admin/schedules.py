"""Recurring polls in the panel: list them, set one up, change its cadence or end, pause it.

A recurring poll ("How many seedlings did your group plant this week?", every Monday at
09:00, to the women's groups) used to be set up from the CLI only, and could then be
neither seen nor stopped without a shell. `bot.recurring` owns the rules (when an
occurrence is due, what an edit may change); this module reads forms and shows rows.

The audience is picked with the launch page's checkboxes (`admin.launches.audience_from`
and `options`), so a schedule and a one-off launch reach people by the same filter. Every
change is in the audit log: a poll that goes to hundreds of people every week must have a
name on it. Coordinators and owners change schedules; analysts see the list only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin.access import ANALYST, COORDINATOR, get_owned, has_role, role_required
from admin.form_fields import Errors, date_field, time_of_day, whole_number
from admin.i18n import N_, _
from admin.launches import audience_from, options
from admin.polls import latest
from admin.tracker_page import group_names
from bot import outreach, recurring
from bot.audience import PROFILE_FILTERS, AudienceError
from bot.commitments import local_today
from bot.outreach import zone
from storage import models as m
from storage.queries import audit

blueprint = Blueprint("schedules", __name__, template_folder="templates")


WEEKDAY_NAMES = (
    N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"),
    N_("Saturday"), N_("Sunday"),
)  # fmt: skip
DEFAULTS = {"every_days": "7", "weekday": "", "send_at": "09:00", "starts_on": "", "ends_on": ""}


def _services():
    return current_app.extensions["heard"]


# --- what a schedule looks like to people --------------------------------------------------


def cadence_text(row: m.RecurringPoll) -> str:
    """ "Every Monday at 09:00", "Every 3 days at 18:00": the schedule as a sentence."""
    at = row.send_at.strftime("%H:%M")
    if row.weekday is not None:
        weekday = _(WEEKDAY_NAMES[row.weekday])
        if row.every_days == 7:
            return _("Every %(weekday)s at %(time)s", weekday=weekday, time=at)
        weeks = row.every_days // 7
        return _(
            "Every %(weeks)s weeks on %(weekday)s at %(time)s",
            weeks=weeks,
            weekday=weekday,
            time=at,
        )
    if row.every_days == 1:
        return _("Every day at %(time)s", time=at)
    return _("Every %(days)s days at %(time)s", days=row.every_days, time=at)


def audience_parts(session: so.Session, row: m.RecurringPoll) -> list[str]:
    """The filter as people read it: group names, not ids ("Ngiluni Women's Group")."""
    audience = dict(row.audience or {})
    parts = group_names(session, row.organisation_id, audience.get("groups", []))
    for key in ("villages", "languages", *PROFILE_FILTERS):
        parts += [str(value) for value in audience.get(key, [])]
    return parts


def local_time(moment: datetime, timezone: str) -> str:
    """A naive-UTC moment as the organisation's wall clock, which is how schedules are set."""
    local = moment.replace(tzinfo=zone("UTC")).astimezone(zone(timezone))
    return local.strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Line:
    """One schedule as the list shows it (and the API returns it)."""

    row: m.RecurringPoll
    poll: m.Poll
    audience: list[str]
    cadence: str
    next_on: date | None
    next_at: datetime | None
    launches: list[m.Launch]


def lines(session: so.Session, organisation: m.Organisation, rows: list[m.RecurringPoll]):
    """`Line`s for `rows`, with three queries in all, whatever the number of schedules."""
    now = _services().clock.now()
    ids = [row.id for row in rows]
    sent = recurring.last_sent_by_schedule(session, ids)
    recent = recurring.recent_launches(session, ids)
    polls = {
        poll.id: poll
        for poll in session.scalars(
            sa.select(m.Poll).where(m.Poll.id.in_({r.poll_id for r in rows}))
        )
    }
    found = []
    for row in rows:
        upcoming = recurring.next_occurrence(row, organisation, now, sent=sent.get(row.id))
        found.append(
            Line(
                row=row,
                poll=polls[row.poll_id],
                audience=audience_parts(session, row),
                cadence=cadence_text(row),
                next_on=upcoming[0] if upcoming else None,
                next_at=upcoming[1] if upcoming else None,
                launches=recent.get(row.id, []),
            )
        )
    return found


# --- the list ------------------------------------------------------------------------------


@blueprint.get("/schedules")
@role_required(COORDINATOR, ANALYST)
def index():
    with _services().db.session() as session:
        organisation = _organisation(session)
        rows = recurring.schedules(session, organisation.id)
        return render_template(
            "schedules_list.html",
            lines=lines(session, organisation, rows),
            timezone=organisation.timezone,
            local_time=local_time,
            now=_services().clock.now(),
            can_edit=has_role(COORDINATOR),
        )


# --- setting one up ------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleInput:
    every_days: int
    weekday: int | None
    send_at: time
    starts_on: date | None
    ends_on: date | None


def _weekday(form: Mapping[str, str], errors: Errors) -> int | None:
    raw = (form.get("weekday") or "").strip()
    if not raw:
        return None
    if raw not in recurring.WEEKDAYS:
        errors.setdefault("weekday", []).append(_("Pick a day from the list."))
        return None
    return recurring.WEEKDAYS.index(raw)


def schedule_from(form: Mapping[str, str]) -> tuple[ScheduleInput | None, Errors]:
    """The cadence fields, read; `bot.recurring` judges how they fit together."""
    errors: Errors = {}
    every_days = whole_number(form, "every_days", errors, low=1, high=365)
    weekday = _weekday(form, errors)
    if weekday is not None and "every_days" not in errors and every_days % 7:
        errors.setdefault("every_days", []).append(
            _("With a day of the week, repeat every 7, 14, 21… days.")
        )
    send_at = time_of_day(form, "send_at", errors, default=time(9, 0))
    starts_on = date_field(form, "starts_on", errors)
    ends_on = date_field(form, "ends_on", errors)
    if starts_on and ends_on and ends_on < starts_on:
        errors.setdefault("ends_on", []).append(_("The end comes before the start."))
    if errors:
        return None, errors
    return ScheduleInput(every_days, weekday, send_at, starts_on, ends_on), errors


def _polls(session: so.Session, organisation_id: int) -> list[m.Poll]:
    """Polls that can be scheduled: not archived, with a version to send."""
    polls = session.scalars(
        sa.select(m.Poll)
        .where(m.Poll.organisation_id == organisation_id, m.Poll.archived.is_(False))
        .order_by(m.Poll.key)
    ).all()
    return [poll for poll in polls if latest(session, poll) is not None]


@blueprint.route("/schedules/new", methods=["GET", "POST"])
@role_required(COORDINATOR)
def new():
    with _services().db.session() as session:
        organisation = _organisation(session)
        polls = _polls(session, organisation.id)
        source = request.form if request.method == "POST" else request.args
        values = {**DEFAULTS, "starts_on": _today(organisation).isoformat()}
        values |= {key: source[key] for key in (*DEFAULTS, "poll_id") if key in source}
        audience = audience_from(source)
        errors: Errors = {}
        reach = None
        if request.method == "POST":
            reach, errors = _reach(session, organisation, audience)
            if request.form.get("action") != "count":
                row, errors = _create(session, organisation, polls, audience, errors)
                if row is not None:
                    return redirect(url_for("schedules.index"))
        return _form(
            schedule=None,
            polls=polls,
            values=values,
            audience=audience,
            options=options(session, organisation),
            errors=errors,
            reach=reach,
            timezone=organisation.timezone,
        )


def _reach(session, organisation, audience) -> tuple[int | None, Errors]:
    """How many people the audience reaches today (only people who consented count)."""
    if not audience:
        return None, {}
    try:
        return outreach.audience_count(session, organisation.id, audience), {}
    except AudienceError as problem:
        return None, {"audience": [str(problem)]}


def _create(session, organisation, polls, audience, errors: Errors):
    """Record the schedule from the posted form; (row, {}) or (None, problems by field)."""
    form = request.form
    data, problems = schedule_from(form)
    errors = {**errors, **problems}
    poll = next((p for p in polls if str(p.id) == (form.get("poll_id") or "").strip()), None)
    if poll is None:
        errors.setdefault("poll_id", []).append(_("Pick a poll from the list."))
    if not audience:
        errors.setdefault("audience", []).append(
            _("Pick who is asked: at least one group, village, language or profile value.")
        )
    if errors or data is None or poll is None:
        return None, errors
    try:
        row = recurring.schedule_poll(
            session,
            organisation.id,
            poll.key,
            audience,
            every_days=data.every_days,
            weekday=data.weekday,
            send_at=data.send_at,
            starts_on=data.starts_on or _today(organisation),
            ends_on=data.ends_on,
            created_by=current_user.id,
        )
    except (LookupError, ValueError) as problem:  # RecurringError and AudienceError
        return None, {"form": [str(problem)]}
    detail = {"poll_key": poll.key, "audience": row.audience, **_cadence_detail(row)}
    _audit(session, "schedule.created", row, **detail)
    upcoming = recurring.next_occurrence(row, organisation, _services().clock.now(), sent=None)
    if upcoming is None:
        flash(_("Schedule saved; it has no occurrence left before its end date."))
    elif upcoming[1] <= _services().clock.now():
        flash(_("Schedule saved: today’s occurrence is due and goes out within minutes."))
    else:
        when = local_time(upcoming[1], organisation.timezone)
        flash(
            _(
                "Schedule saved: first on %(when)s (%(timezone)s).",
                when=when,
                timezone=organisation.timezone,
            )
        )
    return row, {}


# --- changing one --------------------------------------------------------------------------


@blueprint.route("/schedules/<int:schedule_id>/edit", methods=["GET", "POST"])
@role_required(COORDINATOR)
def edit(schedule_id: int):
    with _services().db.session() as session:
        row = get_owned(session, m.RecurringPoll, schedule_id)
        organisation = _organisation(session)
        values = _values(row)
        errors: Errors = {}
        if request.method == "POST":
            values = {key: request.form.get(key, "") for key in DEFAULTS}
            values["starts_on"] = row.starts_on.isoformat()
            errors = _update(session, row)
            if not errors:
                return redirect(url_for("schedules.index"))
        [line] = lines(session, organisation, [row])
        return _form(
            schedule=line,
            values=values,
            errors=errors,
            timezone=organisation.timezone,
        )


def _values(row: m.RecurringPoll) -> dict[str, str]:
    return {
        "every_days": str(row.every_days),
        "weekday": recurring.WEEKDAYS[row.weekday] if row.weekday is not None else "",
        "send_at": row.send_at.strftime("%H:%M"),
        "starts_on": row.starts_on.isoformat(),
        "ends_on": row.ends_on.isoformat() if row.ends_on else "",
    }


def _update(session, row: m.RecurringPoll) -> Errors:
    form = {**request.form, "starts_on": ""}  # the start is not edited: it is history
    data, errors = schedule_from(form)
    if data is None:
        return errors
    try:
        changed = recurring.update_schedule(
            session,
            row,
            _services().clock.now(),
            every_days=data.every_days,
            weekday=data.weekday,
            send_at=data.send_at,
            ends_on=data.ends_on,
        )
    except ValueError as problem:
        return {"form": [str(problem)]}
    if changed:
        _audit(session, "schedule.updated", row, fields=changed, **_cadence_detail(row))
    flash(_("Schedule saved.") if changed else _("Nothing changed."))
    return {}


@blueprint.post("/schedules/<int:schedule_id>/<any(pause, resume):action>")
@role_required(COORDINATOR)
def pause_or_resume(schedule_id: int, action: str):
    with _services().db.session() as session:
        row = get_owned(session, m.RecurringPoll, schedule_id)
        if recurring.set_active(session, row, action == "resume"):
            _audit(session, f"schedule.{'paused' if action == 'pause' else 'resumed'}", row)
            flash(_("Schedule paused.") if action == "pause" else _("Schedule resumed."))
    return redirect(url_for("schedules.index"))


# --- helpers -------------------------------------------------------------------------------


def _form(**context):
    page = render_template(
        "schedules_form.html",
        weekdays=recurring.WEEKDAYS,
        weekday_names=WEEKDAY_NAMES,
        local_time=local_time,
        **context,
    )
    return page, (422 if context["errors"] else 200)


def _organisation(session: so.Session) -> m.Organisation:
    return session.get(m.Organisation, current_user.organisation_id)


def _today(organisation: m.Organisation) -> date:
    return local_today(organisation, _services().clock.now())


def _cadence_detail(row: m.RecurringPoll) -> dict[str, Any]:
    return {
        "every_days": row.every_days,
        "weekday": recurring.WEEKDAYS[row.weekday] if row.weekday is not None else None,
        "send_at": row.send_at.strftime("%H:%M"),
        "starts_on": row.starts_on.isoformat(),
        "ends_on": row.ends_on.isoformat() if row.ends_on else None,
    }


def _audit(session: so.Session, action: str, row: m.RecurringPoll, **detail) -> None:
    audit(
        session,
        organisation_id=row.organisation_id,
        user_id=current_user.id,
        action=action,
        target=f"schedule:{row.id}",
        detail=detail,
    )
