"""`heard poll schedules` and `heard poll unschedule ID`: see and stop recurring polls from a
shell. The CLI runs on the wall clock, so the schedules here start far in the future or
ended long ago, and what is listed does not depend on today's date."""

from __future__ import annotations

from datetime import date, time

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bot import recurring
from heard.cli import main
from storage import models as m
from tests.commitments.test_recurring import env_for

FUTURE_MONDAY = date(2098, 12, 29)


@pytest.fixture
def schedules(db, organisation) -> dict[str, int]:
    with db.session() as session:
        weekly = recurring.schedule_poll(
            session, organisation.id, "water-point", {"villages": ["Ngiluni"]},
            weekday=0, send_at=time(9, 0), starts_on=FUTURE_MONDAY,
        )  # fmt: skip
        ended = recurring.schedule_poll(
            session, organisation.id, "water-point", {"languages": ["sw"]},
            every_days=3, send_at=time(18, 30), starts_on=date(2020, 1, 1),
            ends_on=date(2020, 2, 1),
        )  # fmt: skip
        return {"weekly": weekly.id, "ended": ended.id}


def run(settings, *args: str):
    return CliRunner().invoke(main, ["poll", *args], env=env_for(settings))


def test_schedules_lists_what_is_to_come(settings, schedules):
    result = run(settings, "schedules")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{schedules['weekly']}\twater-point\tevery 7 days on mon at 09:00\t"
        "next 2098-12-29 09:00\tvillages=Ngiluni"
    ]


def test_schedules_all_shows_ended_and_stopped_ones_too(settings, schedules):
    result = run(settings, "schedules", "--all")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert lines[1] == (
        f"{schedules['ended']}\twater-point\tevery 3 days at 18:30\tended\tlanguages=sw"
    )


def test_unschedule_stops_it_and_is_audited(settings, db, schedules):
    result = run(settings, "unschedule", str(schedules["weekly"]))
    assert result.exit_code == 0, result.output
    assert f"recurring poll {schedules['weekly']} stopped" in result.output
    with db.session() as session:
        assert not session.get(m.RecurringPoll, schedules["weekly"]).active
        event = session.scalar(sa.select(m.AuditEvent).where(m.AuditEvent.action.like("schedule%")))
        assert (event.action, event.target, event.detail) == (
            "schedule.paused",
            f"schedule:{schedules['weekly']}",
            {"via": "cli"},
        )
    listed = run(settings, "schedules")
    assert listed.output == "no recurring polls to come (see --all)\n"
    assert "\tpaused\t" in run(settings, "schedules", "--all").output
    again = run(settings, "unschedule", str(schedules["weekly"]))
    assert again.exit_code == 0 and "already stopped" in again.output


def test_unschedule_refuses_an_unknown_or_foreign_id(settings, db, organisation, schedules):
    with db.session() as session:
        other = m.Organisation(slug="other", name="Other", languages=["en"])
        session.add(other)
    result = run(settings, "unschedule", "999999")
    assert result.exit_code == 1 and "no recurring poll 999999 in ngiluni" in result.output
    foreign = run(settings, "unschedule", str(schedules["weekly"]), "--organisation", "other")
    assert foreign.exit_code == 1 and "no recurring poll" in foreign.output
    with db.session() as session:
        assert session.get(m.RecurringPoll, schedules["weekly"]).active


def test_schedules_with_none_says_so(settings, organisation):
    result = run(settings, "schedules", "--all")
    assert result.exit_code == 0 and result.output == "no recurring polls\n"


def test_a_weekday_needs_whole_weeks(settings, organisation):
    result = CliRunner().invoke(
        main,
        ["poll", "schedule", "water-point", "--weekday", "mon", "--every-days", "10",
         "--village", "Ngiluni"],
        env=env_for(settings),
    )  # fmt: skip
    assert result.exit_code == 1 and "whole weeks" in result.output
