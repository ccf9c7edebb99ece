"""Recurring polls, driven by a FakeClock: every occurrence once, none twice, none in the
night, only the newest after an outage, and the poll's latest version each time."""

from __future__ import annotations

import copy
from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bot import recurring, scheduler
from bot.flows.poll_format import load_poll
from bot.polls import save_poll
from bot.quiet_hours import in_quiet_hours
from heard.cli import main
from heard.demo import DEMO_POLL
from heard.services import Services
from storage import models as m

GROUP = "Ngiluni Women's Group"
MONDAY = date(2026, 1, 5)  # the FakeClock starts on this Monday, 09:00 UTC


@pytest.fixture
def members(db, organisation, people) -> list[int]:
    """Three group members, and one other villager the weekly poll must not reach."""
    ids = people(3, village="Ngiluni")
    people(1, village="Ngiluni")
    with db.session() as session:
        group = m.Group(organisation_id=organisation.id, name=GROUP)
        session.add(group)
        session.flush()
        session.execute(
            sa.insert(m.group_members), [{"group_id": group.id, "participant_id": i} for i in ids]
        )
    return ids


def schedule(db, organisation, **kwargs) -> int:
    options = {"weekday": 0, "send_at": time(9, 0), "starts_on": MONDAY, **kwargs}
    with db.session() as session:
        return recurring.schedule_poll(
            session, organisation.id, "water-point", {"groups": [GROUP]}, **options
        ).id


def launches(db, recurring_id: int) -> list[m.Launch]:
    with db.session() as session:
        rows = session.scalars(
            sa.select(m.Launch)
            .where(m.Launch.recurring_poll_id == recurring_id)
            .order_by(m.Launch.occurrence_on)
        ).all()
        session.expunge_all()
        return list(rows)


def count(db, model, *where) -> int:
    with db.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_weekly_for_six_weeks_is_exactly_six_launches(services, db, organisation, members, clock):
    recurring_id = schedule(db, organisation, ends_on=MONDAY + timedelta(weeks=5))
    clock.set(datetime(2026, 1, 4, 0, 0))
    launched = 0
    while clock.now() < datetime(2026, 3, 1):  # every 3 hours, well past the end
        launched += scheduler.due_recurring(services)
        clock.advance(hours=3)
    rows = launches(db, recurring_id)
    assert launched == 6
    assert [r.occurrence_on for r in rows] == [MONDAY + timedelta(weeks=n) for n in range(6)]
    # 09:00 in Nairobi is 06:00 UTC; the 3-hourly tick caught each one at once.
    assert {(r.scheduled_for.time(), r.started_at.time()) for r in rows} == {(time(6), time(6))}
    for row in rows:
        sessions = count(db, m.ConversationSession, m.ConversationSession.launch_id == row.id)
        assert sessions == len(members)  # the group, not the other villager
    # Nobody answered, so later weeks wait behind the first one: one message each.
    assert count(db, m.OutboundMessage) == len(members)


def test_a_restart_between_occurrences_neither_skips_nor_repeats(
    settings, services, db, organisation, members, clock
):
    recurring_id = schedule(db, organisation)
    current = services
    launched = []
    for week in range(4):
        clock.set(datetime(2026, 1, 5, 6, 0) + timedelta(weeks=week, minutes=11 * week))
        launched.append(scheduler.tick(current).recurring)
        current.db.dispose()
        current = Services.build(settings, clock=clock)  # "killed and restarted"
        assert scheduler.tick(current).recurring == 0
        clock.advance(days=3)  # mid-week: nothing is due
        assert scheduler.tick(current).recurring == 0
    current.db.dispose()
    assert launched == [1, 1, 1, 1]
    assert [r.occurrence_on for r in launches(db, recurring_id)] == [
        MONDAY + timedelta(weeks=n) for n in range(4)
    ]


def test_an_outage_sends_only_the_newest_occurrence(db, organisation, members, clock):
    recurring_id = schedule(db, organisation)
    now = datetime(2026, 1, 20, 8, 0)  # down since before Jan 5: three Mondays fell due
    with db.session() as session:
        done = recurring.due_recurring(session, now)
    assert [(d.occurrence_on, d.skipped, d.started) for d in done] == [
        (date(2026, 1, 19), 2, len(members))
    ]
    with db.session() as session:
        assert recurring.due_recurring(session, now + timedelta(hours=1)) == []
    assert [r.occurrence_on for r in launches(db, recurring_id)] == [date(2026, 1, 19)]


def test_occurrences_in_quiet_hours_wait_for_the_morning(db, organisation, people, clock):
    schedule(db, organisation, weekday=None, send_at=time(22, 0), starts_on=MONDAY)
    ids = people(2, village="Ngiluni") + people(1, timezone="America/New_York")
    with db.session() as session:
        group = m.Group(organisation_id=organisation.id, name=GROUP)
        session.add(group)
        session.flush()
        session.execute(
            sa.insert(m.group_members), [{"group_id": group.id, "participant_id": i} for i in ids]
        )
    evening = datetime(2026, 1, 5, 19, 0)  # 22:00 in Nairobi: quiet
    with db.session() as session:
        assert recurring.due_recurring(session, evening) == []
        assert recurring.due_recurring(session, datetime(2026, 1, 6, 3, 59)) == []
        (done,) = recurring.due_recurring(session, datetime(2026, 1, 6, 4, 0))  # 07:00 there
    assert (done.occurrence_on, done.due_at) == (MONDAY, datetime(2026, 1, 6, 4, 0))
    with db.session() as session:
        messages = session.execute(
            sa.select(m.OutboundMessage.next_attempt_at, m.Participant.timezone).join(
                m.Participant, m.Participant.id == m.OutboundMessage.participant_id
            )
        ).all()
    assert len(messages) == 3
    for at, tz_name in messages:
        assert not in_quiet_hours(at, tz_name or organisation.timezone, time(21), time(7))
    # 04:00 UTC is 23:00 in New York: that message waits for 07:00 there (12:00 UTC).
    assert sorted(at for at, _ in messages) == [datetime(2026, 1, 6, 4, 0)] * 2 + [
        datetime(2026, 1, 6, 12, 0)
    ]


def test_every_n_days_until_the_end(db, organisation, members):
    recurring_id = schedule(db, organisation, weekday=None, every_days=3, ends_on=date(2026, 1, 14))
    now = datetime(2026, 1, 5, 6, 0)
    while now < datetime(2026, 2, 10):
        with db.session() as session:
            recurring.due_recurring(session, now)
        now += timedelta(hours=6)
    assert [r.occurrence_on for r in launches(db, recurring_id)] == [
        date(2026, 1, 5), date(2026, 1, 8), date(2026, 1, 11), date(2026, 1, 14)
    ]  # fmt: skip


def test_each_occurrence_uses_the_latest_poll_version(db, organisation, members):
    recurring_id = schedule(db, organisation)
    with db.session() as session:
        recurring.due_recurring(session, datetime(2026, 1, 5, 6, 0))
        changed = copy.deepcopy(DEMO_POLL)
        changed["questions"][0]["prompt"]["en"] = "Is the water point working today?"
        newer = save_poll(session, organisation.id, load_poll(changed)).id
        recurring.due_recurring(session, datetime(2026, 1, 12, 6, 0))
    first, second = launches(db, recurring_id)
    assert first.poll_version_id != newer and second.poll_version_id == newer


def test_one_launch_per_occurrence_is_enforced_by_the_database(db, organisation, members):
    recurring_id = schedule(db, organisation)
    with db.session() as session:
        (done,) = recurring.due_recurring(session, datetime(2026, 1, 5, 6, 0))
        version_id = session.get(m.Launch, done.launch_id).poll_version_id
    with pytest.raises(sa.exc.IntegrityError), db.session() as session:
        session.add(
            m.Launch(
                organisation_id=organisation.id,
                poll_version_id=version_id,
                audience={},
                recurring_poll_id=recurring_id,
                occurrence_on=MONDAY,
            )
        )
        session.flush()


def test_newest_due_agrees_with_the_list_of_occurrences(db, organisation):
    recurring_id = schedule(db, organisation, weekday=2, send_at=time(21, 30))
    with db.session() as session:
        row = session.get(m.RecurringPoll, recurring_id)
        org = session.get(m.Organisation, organisation.id)
        listed = recurring.occurrences(row, org, date(2026, 3, 1))
        now = datetime(2026, 1, 1)
        while now < datetime(2026, 2, 20):
            due = [(day, at) for day, at in listed if at <= now]
            newest = recurring.newest_due(row, org, now)
            assert (newest[1:] if newest else None) == (due[-1] if due else None), now
            now += timedelta(minutes=47)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"every_days": 0}, "every_days"),
        ({"weekday": 7}, "weekday"),
        ({"ends_on": date(2026, 1, 1)}, "end before it starts"),
    ],
)
def test_bad_schedules_are_refused(db, organisation, kwargs, message):
    with pytest.raises(recurring.RecurringError, match=message):
        schedule(db, organisation, **kwargs)


def test_an_audience_is_required_and_the_poll_must_exist(db, organisation):
    with db.session() as session:
        with pytest.raises(recurring.RecurringError, match="audience"):
            recurring.schedule_poll(session, organisation.id, "water-point", {}, starts_on=MONDAY)
        with pytest.raises(LookupError, match="no-such-poll"):
            recurring.schedule_poll(
                session, organisation.id, "no-such-poll", {"villages": ["X"]}, starts_on=MONDAY
            )


def env_for(settings) -> dict[str, str]:
    return {
        "HEARD_DATABASE_URL": settings.database_url,
        "HEARD_INSTANCE_PATH": str(settings.instance_path),
        "HEARD_SECRET_KEY": "a-secret-for-the-cli-tests-0123",
    }


def test_cli_poll_schedule(settings, db, organisation):
    result = CliRunner().invoke(
        main,
        ["poll", "schedule", "water-point", "--every-days", "7", "--group", GROUP,
         "--at", "09:00", "--starts", "2026-01-05"],
        env=env_for(settings),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "every 7 days at 09:00 Africa/Nairobi, first on 2026-01-05" in result.output
    with db.session() as session:
        row = session.scalar(sa.select(m.RecurringPoll))
        assert (row.every_days, row.weekday, row.send_at) == (7, None, time(9, 0))
        assert row.audience == {"groups": [GROUP]} and row.active


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["water-point", "--at", "9am", "--group", GROUP], 2, "HH:MM"),
        (["water-point"], 2, "give the audience"),
        (["nothing-here", "--village", "Ngiluni"], 1, "no poll 'nothing-here'"),
        (["water-point", "--village", "V", "--starts", "2026-02-01", "--ends", "2026-01-01"], 1,
         "end before it starts"),
    ],
)  # fmt: skip
def test_cli_poll_schedule_errors(settings, organisation, args, code, message):
    result = CliRunner().invoke(main, ["poll", "schedule", *args], env=env_for(settings))
    assert result.exit_code == code and message in result.output, result.output
