"""Recurring polls: the same poll, to the same audience, on a cadence.

A women's group champion is asked every Monday at 09:00 "How many seedlings did your
group plant this week?". A `RecurringPoll` says when (every N days from `starts_on`, or
every week on a weekday) and to whom; each occurrence becomes an ordinary `Launch`, so
launching, reminders, pausing and results need nothing new.

Occurrences are computed, never stored in advance: editing the cadence changes only the
future. An occurrence's launch is unique per (recurring poll, occurrence date), so
`due_recurring` may run late, twice, or from a restarted scheduler and still sends each
occurrence at most once. After an outage during which several occurrences fell due, only
the newest is sent: three "this week" questions on one morning would be answered once,
and wrongly.

Each occurrence uses the poll's latest version at the time it goes out, so a coordinator
can fix a typo between weeks without recreating the schedule (launching makes that
version immutable, like any launch).

Times: `send_at` is wall-clock time in the organisation's zone; an occurrence that would
fall in quiet hours is due when they end (`bot.outreach.allowed_send_time`, which is
`bot.quiet_hours.next_allowed_send`), and each message is again moved out of its own
participant's quiet hours when queued.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from bot import audience as audiences
from bot.commitments import local_today
from bot.outreach import allowed_send_time, create_launch, launch, zone
from bot.polls import definition_of, latest_version
from storage import models as m

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class RecurringError(ValueError):
    """A schedule that cannot be set up as given; the message says why."""


@dataclass(frozen=True)
class Occurrence:
    recurring_poll_id: int
    occurrence_on: date  # the local date it belongs to
    due_at: datetime  # naive UTC, out of quiet hours
    launch_id: int | None = None
    started: int = 0
    skipped: int = 0  # older occurrences coalesced into this one after an outage


# --- setting one up ---------------------------------------------------------------------


def schedule_poll(
    db: so.Session,
    organisation_id: int,
    poll_key: str,
    audience: Mapping[str, Any],
    *,
    every_days: int = 7,
    weekday: int | None = None,
    send_at: time = time(9, 0),
    starts_on: date,
    ends_on: date | None = None,
    created_by: int | None = None,
) -> m.RecurringPoll:
    """Record a recurring poll. The poll must exist and have questions now; its latest
    version is looked up again at every occurrence."""
    version = latest_version(db, organisation_id, poll_key)
    if version is None:
        raise LookupError(f"no poll {poll_key!r} in this organisation")
    if not definition_of(db, version.id).questions:
        raise RecurringError("a poll without questions cannot be scheduled")
    check_cadence(every_days, weekday)
    if ends_on is not None and ends_on < starts_on:
        raise RecurringError("the schedule would end before it starts")
    cleaned = audiences.validate(audience)
    if not cleaned:
        # An empty filter means everybody; a weekly poll to everybody is almost always a
        # forgotten --group, and cannot be taken back once it has gone out.
        raise RecurringError("a recurring poll needs an audience (groups, villages, ...)")
    row = m.RecurringPoll(
        organisation_id=organisation_id,
        poll_id=version.poll_id,
        audience=cleaned,
        every_days=every_days,
        weekday=weekday,
        send_at=send_at,
        starts_on=starts_on,
        ends_on=ends_on,
        active=True,
        created_by=created_by,
    )
    db.add(row)
    db.flush()
    return row


def check_cadence(every_days: int, weekday: int | None) -> None:
    """Refuse a cadence that cannot be kept. A weekday with a step that is not whole weeks
    would drift off that weekday after the first occurrence ("every Monday" sent on a
    Thursday), so it must be 7, 14, ... days."""
    if not 1 <= every_days <= 365:
        raise RecurringError("every_days must be between 1 and 365")
    if weekday is None:
        return
    if not 0 <= weekday <= 6:
        raise RecurringError("weekday must be 0 (Monday) to 6 (Sunday)")
    if every_days % 7:
        raise RecurringError("with a weekday, every_days must be whole weeks (7, 14, ...)")


# --- when -------------------------------------------------------------------------------


def first_day(row: m.RecurringPoll) -> date:
    return _on_or_after(row, row.starts_on)


def _on_or_after(row: m.RecurringPoll, day: date) -> date:
    if row.weekday is None:
        return day
    return day + timedelta(days=(row.weekday - day.weekday()) % 7)


def due_at(row: m.RecurringPoll, organisation: m.Organisation, day: date) -> datetime:
    """When the occurrence of local `day` goes out: `send_at` there, out of quiet hours."""
    local = datetime.combine(day, row.send_at, tzinfo=zone(organisation.timezone))
    utc = local.astimezone(zone("UTC")).replace(tzinfo=None)
    return allowed_send_time(
        utc, organisation.timezone, organisation.quiet_start, organisation.quiet_end
    )


def occurrences(
    row: m.RecurringPoll, organisation: m.Organisation, until: date
) -> list[tuple[date, datetime]]:
    """Every (local date, due time) from the first up to `until` and `ends_on`."""
    last = min(until, row.ends_on) if row.ends_on else until
    found = []
    day = first_day(row)
    while day <= last:
        found.append((day, due_at(row, organisation, day)))
        day += timedelta(days=row.every_days)
    return found


def newest_due(
    row: m.RecurringPoll, organisation: m.Organisation, now: datetime
) -> tuple[int, date, datetime] | None:
    """(index, local date, due time) of the newest occurrence due at `now`, or None.

    Arithmetic, not a walk from `starts_on`: a schedule years old costs the same."""
    start, step = first_day(row), row.every_days
    today = now.replace(tzinfo=zone("UTC")).astimezone(zone(organisation.timezone)).date()
    index = (today - start).days // step + 1  # one past today: quiet hours move times
    if row.ends_on is not None:
        index = min(index, (row.ends_on - start).days // step)
    while index >= 0:
        day = start + timedelta(days=index * step)
        at = due_at(row, organisation, day)
        if at <= now:
            return index, day, at
        index -= 1
    return None


# --- the scheduler duty -----------------------------------------------------------------


def due_ids(db: so.Session, now: datetime) -> list[int]:
    """Active recurring polls that have started (a cheap pre-filter; `launch_due` decides).
    A local date can be a day ahead of UTC, hence the day's margin."""
    return list(
        db.scalars(
            sa.select(m.RecurringPoll.id)
            .where(
                m.RecurringPoll.active.is_(True),
                m.RecurringPoll.starts_on <= now.date() + timedelta(days=1),
            )
            .order_by(m.RecurringPoll.id)
        )
    )


def due_recurring(db: so.Session, now: datetime) -> list[Occurrence]:
    """Launch the newest due occurrence of every recurring poll not yet launched."""
    done = []
    for recurring_id in due_ids(db, now):
        occurrence = launch_due(db, recurring_id, now)
        if occurrence is not None:
            done.append(occurrence)
    return done


def launch_due(db: so.Session, recurring_id: int, now: datetime) -> Occurrence | None:
    """The newest due occurrence of one recurring poll, launched; None when there is
    nothing new. Safe late, twice, and against a second scheduler."""
    row = db.get(m.RecurringPoll, recurring_id, with_for_update=True)
    if row is None or not row.active:
        return None
    organisation = db.get(m.Organisation, row.organisation_id)
    newest = newest_due(row, organisation, now)
    if newest is None:
        return None
    index, day, at = newest
    if now - at >= timedelta(days=row.every_days):
        # Its period is over and no newer occurrence exists: the schedule has ended.
        # A "this week" question about last month would only mislead.
        return None
    previous = last_sent(db, row.id)
    if previous is not None and previous >= day:
        return None
    skipped = _skipped(row, previous, index)
    if skipped:
        log.warning(
            "recurring poll %s: %s occurrence(s) before %s missed; sending only the newest",
            row.id, skipped, day,
        )  # fmt: skip
    launch_row = _create(db, row, day, at, now)
    if launch_row is None:
        return None
    report = launch(db, launch_row.id, now)
    return Occurrence(row.id, day, at, launch_row.id, report.started, skipped)


def _skipped(row: m.RecurringPoll, previous: date | None, index: int) -> int:
    if previous is None:
        return index
    return max(0, index - (previous - first_day(row)).days // row.every_days - 1)


def _create(db, row: m.RecurringPoll, day: date, at: datetime, now: datetime):
    poll = db.get(m.Poll, row.poll_id)
    version = latest_version(db, row.organisation_id, poll.key)
    try:
        with db.begin_nested():
            return create_launch(
                db,
                row.organisation_id,
                version.id,
                row.audience,
                scheduled_for=at,
                created_by=row.created_by,
                recurring_poll_id=row.id,
                occurrence_on=day,
                now=now,
            )
    except sa.exc.IntegrityError:  # another scheduler launched this occurrence first
        return None


def schedules(db: so.Session, organisation_id: int) -> list[m.RecurringPoll]:
    return list(
        db.scalars(
            sa.select(m.RecurringPoll)
            .where(m.RecurringPoll.organisation_id == organisation_id)
            .order_by(m.RecurringPoll.id)
        )
    )


# --- looking at and changing one -----------------------------------------------------------


def last_sent(db: so.Session, recurring_id: int) -> date | None:
    """The local date of the newest occurrence already launched."""
    return db.scalar(
        sa.select(sa.func.max(m.Launch.occurrence_on)).where(
            m.Launch.recurring_poll_id == recurring_id
        )
    )


def last_sent_by_schedule(db: so.Session, ids: list[int]) -> dict[int, date]:
    """`last_sent` for many schedules in one query (a list page shows them all)."""
    if not ids:
        return {}
    rows = db.execute(
        sa.select(m.Launch.recurring_poll_id, sa.func.max(m.Launch.occurrence_on))
        .where(m.Launch.recurring_poll_id.in_(ids))
        .group_by(m.Launch.recurring_poll_id)
    ).all()
    return dict(rows)


def recent_launches(db: so.Session, ids: list[int], *, each: int = 3) -> dict[int, list[m.Launch]]:
    """The newest `each` launches of every schedule in `ids`, newest first. A window
    function, so a schedule that has run weekly for years costs no more than a new one."""
    if not ids:
        return {}
    rank = (
        sa.func.row_number()
        .over(partition_by=m.Launch.recurring_poll_id, order_by=m.Launch.occurrence_on.desc())
        .label("rank")
    )
    ranked = sa.select(m.Launch.id, rank).where(m.Launch.recurring_poll_id.in_(ids)).subquery()
    rows = db.scalars(
        sa.select(m.Launch)
        .join(ranked, ranked.c.id == m.Launch.id)
        .where(ranked.c.rank <= each)
        .order_by(m.Launch.recurring_poll_id, m.Launch.occurrence_on.desc())
    ).all()
    found: dict[int, list[m.Launch]] = {recurring_id: [] for recurring_id in ids}
    for row in rows:
        found[row.recurring_poll_id].append(row)
    return found


def next_occurrence(
    row: m.RecurringPoll, organisation: m.Organisation, now: datetime, *, sent: date | None
) -> tuple[date, datetime] | None:
    """(local date, due time) of the next occurrence that will be launched, or None when
    the schedule is paused or over. `sent` is `last_sent`. Mirrors `launch_due`: an
    occurrence already due but not yet launched (the scheduler ticks every few minutes, or
    the schedule was just resumed within its period) is the next one."""
    if not row.active:
        return None
    newest = newest_due(row, organisation, now)
    index = 0
    if newest is not None:
        index, day, at = newest
        if now - at < timedelta(days=row.every_days) and (sent is None or sent < day):
            return day, at
        index += 1
    day = first_day(row) + timedelta(days=index * row.every_days)
    if row.ends_on is not None and day > row.ends_on:
        return None
    return day, due_at(row, organisation, day)


def update_schedule(
    db: so.Session,
    row: m.RecurringPoll,
    now: datetime,
    *,
    every_days: int,
    weekday: int | None,
    send_at: time,
    ends_on: date | None,
) -> list[str]:
    """Change the cadence or the end; the names of the fields that changed (for the audit
    log). A change reaches only the future: see `_restart_on`."""
    organisation = db.get(m.Organisation, row.organisation_id)
    check_cadence(every_days, weekday)
    if ends_on is not None and ends_on != row.ends_on:
        if ends_on < row.starts_on:
            raise RecurringError("the schedule would end before it starts")
        if ends_on < local_today(organisation, now):
            raise RecurringError("that end date has passed: pause the schedule to stop it now")
    new = {"every_days": every_days, "weekday": weekday, "send_at": send_at, "ends_on": ends_on}
    changed = [name for name, value in new.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, new[name])
    if "every_days" in changed or "weekday" in changed:
        restart = _restart_on(db, row, organisation, now)
        if restart != row.starts_on:
            row.starts_on = restart
            changed.append("starts_on")
    db.flush()
    return changed


def _restart_on(
    db: so.Session, row: m.RecurringPoll, organisation: m.Organisation, now: datetime
) -> date:
    """Where a changed cadence starts counting. Occurrences are computed from `starts_on`,
    so a new step or weekday would otherwise make a past date of the new grid "due" and
    send it at the next tick (Monday's poll sent, the weekday changed to Tuesday on
    Wednesday: a second "this week" question at once). So the new grid counts on from the
    last occurrence sent, one new step later, and never from a moment already past."""
    start = max(row.starts_on, local_today(organisation, now))
    sent = last_sent(db, row.id)
    if sent is not None:
        start = max(start, sent + timedelta(days=row.every_days))
    first = _on_or_after(row, start)
    if due_at(row, organisation, first) <= now:
        return first + timedelta(days=1)
    return start


def set_active(db: so.Session, row: m.RecurringPoll, active: bool) -> bool:
    """Pause (False) or resume (True); whether anything changed. Launches already sent are
    left alone: each is paused on its own page. On resume, the current period's occurrence
    goes out if it has not (like after an outage), older ones never do."""
    if row.active == active:
        return False
    row.active = active
    db.flush()
    return True
