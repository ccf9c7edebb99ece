"""`heard poll schedule KEY`: send a poll again and again, e.g. every Monday at 09:00."""

from __future__ import annotations

from datetime import time

import click

from bot import recurring
from bot.commitments import local_today
from heard.cli_commitments import _day, _group, _organisation, _services, organisation_option


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
