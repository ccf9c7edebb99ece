"""`heard poll schedule KEY`: send a poll again and again, e.g. every Monday at 09:00;
`heard poll schedules` lists them and `heard poll unschedule ID` stops one."""

from __future__ import annotations

from datetime import time

import click
import sqlalchemy as sa

from bot import recurring
from bot.commitments import local_today
from bot.outreach import zone
from heard.cli_commitments import _day, _group, _organisation, _services, organisation_option
from storage import models as m
from storage import queries


def _clock_time(value: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use HH:MM (24-hour, the organisation's time zone)") from None


@click.command("schedule")
@click.argument("key")
@click.option("--every-days", type=click.IntRange(1, 365), default=None, help="default 7")
@click.option("--weekday", type=click.Choice(recurring.WEEKDAYS), default=None)
@click.option("--at", "at", default="09:00", show_default=True, help="HH:MM, local time")
@click.option("--group", "groups", multiple=True, help="audience: group id or name")
@click.option("--village", "villages", multiple=True, help="audience: repeatable")
@click.option("--language", "languages", multiple=True, help="audience: repeatable")
@click.option("--starts", default=None, help="YYYY-MM-DD (default: today)")
@click.option("--ends", default=None, help="YYYY-MM-DD (default: no end)")
@organisation_option
@click.pass_obj
def poll_schedule(
    obj, key, every_days, weekday, at, groups, villages, languages, starts, ends,
    organisation_slug,
) -> None:  # fmt: skip
    """Send poll KEY (its latest version each time) on a cadence, to an audience."""
    if not groups and not villages and not languages:
        raise click.UsageError("give the audience: --group, --village and/or --language")
    send_at = _clock_time(at)
    audience = {
        "groups": [_group(g) for g in groups],
        "villages": list(villages),
        "languages": list(languages),
    }
    services = _services(obj)
    try:
        with services.db.session() as session:
            organisation = _organisation(session, organisation_slug)
            row = recurring.schedule_poll(
                session,
                organisation.id,
                key,
                {k: v for k, v in audience.items() if v},
                every_days=every_days or 7,
                weekday=recurring.WEEKDAYS.index(weekday) if weekday else None,
                send_at=send_at,
                starts_on=_day(starts, "--starts")
                or local_today(organisation, services.clock.now()),
                ends_on=_day(ends, "--ends"),
            )
            first = recurring.first_day(row)
            click.echo(
                f"recurring poll {row.id}: {key} every {row.every_days} days at "
                f"{send_at:%H:%M} {organisation.timezone}, first on {first.isoformat()}"
                + (f", until {row.ends_on.isoformat()}" if row.ends_on else "")
            )
    except LookupError as error:
        raise click.ClickException(str(error)) from None
    except ValueError as error:  # RecurringError and AudienceError
        raise click.ClickException(str(error)) from None
    finally:
        services.db.dispose()


@click.command("schedules")
@click.option("--all", "show_all", is_flag=True, help="also paused and ended ones")
@organisation_option
@click.pass_obj
def poll_schedules(obj, show_all, organisation_slug) -> None:
    """List recurring polls: id, poll, cadence, next occurrence (local time), audience."""
    services = _services(obj)
    now = services.clock.now()
    try:
        with services.db.session() as session:
            organisation = _organisation(session, organisation_slug)
            rows = recurring.schedules(session, organisation.id)
            sent = recurring.last_sent_by_schedule(session, [row.id for row in rows])
            keys = dict(
                session.execute(
                    sa.select(m.Poll.id, m.Poll.key).where(
                        m.Poll.organisation_id == organisation.id
                    )
                ).all()
            )
            shown = 0
            for row in rows:
                upcoming = recurring.next_occurrence(row, organisation, now, sent=sent.get(row.id))
                if upcoming is None and not show_all:
                    continue
                click.echo(_line(row, keys[row.poll_id], upcoming, organisation.timezone))
                shown += 1
            if not shown:
                click.echo("no recurring polls" + ("" if show_all else " to come (see --all)"))
    finally:
        services.db.dispose()


def _line(row, key: str, upcoming, timezone: str) -> str:
    if row.weekday is None:
        cadence = f"every {row.every_days} days"
    else:
        cadence = f"every {row.every_days} days on {recurring.WEEKDAYS[row.weekday]}"
    if upcoming is not None:
        local = upcoming[1].replace(tzinfo=zone("UTC")).astimezone(zone(timezone))
        state = f"next {local:%Y-%m-%d %H:%M}"
    else:
        state = "ended" if row.active else "paused"
    audience = "; ".join(f"{k}={','.join(map(str, v))}" for k, v in sorted(row.audience.items()))
    return f"{row.id}\t{key}\t{cadence} at {row.send_at:%H:%M}\t{state}\t{audience}"


@click.command("unschedule")
@click.argument("schedule_id", type=int)
@organisation_option
@click.pass_obj
def poll_unschedule(obj, schedule_id, organisation_slug) -> None:
    """Stop recurring poll SCHEDULE_ID: no further occurrence is sent. Launches already
    sent are kept (their answers are results); the panel can resume it."""
    services = _services(obj)
    try:
        with services.db.session() as session:
            organisation = _organisation(session, organisation_slug)
            row = session.get(m.RecurringPoll, schedule_id)
            if row is None or row.organisation_id != organisation.id:
                raise click.ClickException(
                    f"no recurring poll {schedule_id} in {organisation.slug}"
                )
            if not recurring.set_active(session, row, False):
                click.echo(f"recurring poll {schedule_id} was already stopped")
                return
            queries.audit(
                session,
                organisation_id=organisation.id,
                user_id=None,
                action="schedule.paused",
                target=f"schedule:{row.id}",
                detail={"via": "cli"},
            )
            click.echo(f"recurring poll {schedule_id} stopped; launches already sent are kept")
    finally:
        services.db.dispose()
