"""Recurring polls in the panel: set one up with the launch page's audience picker, see its
next occurrence and last launches, change its cadence without a double send, pause it;
roles and organisations kept apart, and every change audited.

The FakeClock starts on Monday 2026-01-05 at 09:00 UTC, 12:00 in Nairobi."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
import sqlalchemy as sa

from bot import recurring
from bot.scheduler import due_recurring
from storage import models as m
from tests.admin.conftest import seed_organisation
from tests.admin.polls_seed import poll_id, seed_participants

MONDAY = date(2026, 1, 5)


@pytest.fixture
def women(db, organisation) -> int:
    seed_participants(db, organisation.id, 4, group="Women")
    with db.session() as session:
        return session.scalar(sa.select(m.Group.id).where(m.Group.name == "Women"))


def form(pid: int, women: int, **fields) -> dict:
    return {
        "poll_id": str(pid),
        "groups": [str(women)],
        "every_days": "7",
        "weekday": "mon",
        "send_at": "09:00",
        "starts_on": "2026-01-12",
        "ends_on": "",
        "action": "save",
        **fields,
    }


def rows(db) -> list[m.RecurringPoll]:
    with db.session() as session:
        found = session.scalars(sa.select(m.RecurringPoll).order_by(m.RecurringPoll.id)).all()
        session.expunge_all()
        return list(found)


def audit_actions(db) -> list[tuple[str, str, dict]]:
    with db.session() as session:
        return [
            (e.action, e.target, e.detail)
            for e in session.scalars(
                sa.select(m.AuditEvent)
                .where(m.AuditEvent.action.like("schedule.%"))
                .order_by(m.AuditEvent.id)
            )
        ]


def schedule(db, organisation, women: int, **kwargs) -> int:
    options = {"weekday": 0, "send_at": time(9, 0), "starts_on": MONDAY, **kwargs}
    with db.session() as session:
        return recurring.schedule_poll(
            session, organisation.id, "water-point", {"groups": [women]}, **options
        ).id


def test_a_coordinator_schedules_a_weekly_poll(db, organisation, login_as, post_form, women):
    client = login_as(organisation.id, "coordinator")
    pid = poll_id(db, organisation.id)
    page = client.get(f"/schedules/new?poll_id={pid}").get_data(as_text=True)
    assert f'<option value="{pid}" selected>water-point</option>' in page
    assert 'name="groups"' in page and "Women" in page  # the launch page's picker

    response = post_form(client, "/schedules/new", data=form(pid, women))
    assert response.status_code == 302 and response.location.endswith("/schedules")

    [row] = rows(db)
    assert (row.poll_id, row.audience, row.every_days, row.weekday, row.send_at) == (
        pid,
        {"groups": [women]},
        7,
        0,
        time(9, 0),
    )
    assert (row.starts_on, row.ends_on, row.active, row.created_by) == (
        date(2026, 1, 12),
        None,
        True,
        client.user.id,
    )
    [(action, target, detail)] = audit_actions(db)
    assert (action, target) == ("schedule.created", f"schedule:{row.id}")
    assert detail["weekday"] == "mon" and detail["audience"] == {"groups": [women]}

    listing = client.get("/schedules").get_data(as_text=True)
    assert "Schedule saved: first on 2026-01-12 09:00 (Africa/Nairobi)." in listing
    assert "Every Monday at 09:00" in listing and "Women" in listing
    assert "2026-01-12 09:00" in listing and "None yet." in listing


def test_the_count_button_counts_and_saves_nothing(db, organisation, login_as, post_form, women):
    client = login_as(organisation.id, "coordinator")
    pid = poll_id(db, organisation.id)
    response = post_form(client, "/schedules/new", data=form(pid, women, action="count"))
    assert response.status_code == 200
    assert "4 participants can be reached today." in response.get_data(as_text=True)
    assert rows(db) == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"poll_id": ""}, "poll_id", "Pick a poll from the list."),
        ({"poll_id": "999999"}, "poll_id", "Pick a poll from the list."),
        ({"groups": []}, "audience", "Pick who is asked"),
        ({"every_days": "0"}, "every_days", "A whole number from 1 to 365."),
        ({"every_days": "many"}, "every_days", "A whole number from 1 to 365."),
        ({"every_days": "10"}, "every_days", "repeat every 7, 14, 21"),
        ({"weekday": "funday"}, "weekday", "Pick a day from the list."),
        ({"send_at": "9am"}, "send_at", "A time of day (HH:MM)."),
        ({"starts_on": "12/01/2026"}, "starts_on", "Not a date (YYYY-MM-DD)."),
        ({"ends_on": "2026-01-01"}, "ends_on", "The end comes before the start."),
    ],
)
def test_bad_forms_are_refused_field_by_field(
    db, organisation, login_as, post_form, women, fields, field, message
):
    client = login_as(organisation.id, "coordinator")
    response = post_form(
        client, "/schedules/new", data=form(poll_id(db, organisation.id), women, **fields)
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="err-{field}"' in page and message in page
    assert rows(db) == [] and audit_actions(db) == []


def test_another_organisations_poll_cannot_be_scheduled(
    db, organisation, other_organisation, login_as, post_form, women
):
    theirs = seed_organisation(db, other_organisation.id, tag="b")
    client = login_as(organisation.id, "coordinator")
    page = client.get("/schedules/new").get_data(as_text=True)
    assert "poll-b" not in page
    response = post_form(
        client, "/schedules/new", data=form(theirs["poll_id"], women, starts_on="")
    )
    assert response.status_code == 422
    with db.session() as session:
        assert (
            session.scalar(
                sa.select(sa.func.count(m.RecurringPoll.id)).where(
                    m.RecurringPoll.organisation_id == organisation.id
                )
            )
            == 0
        )


def test_the_list_links_each_launch_and_shows_what_is_next(
    services, db, organisation, login_as, women, clock
):
    recurring_id = schedule(db, organisation, women)
    assert due_recurring(services) == 1  # Monday 09:00 Nairobi was three hours ago
    with db.session() as session:
        launch_id = session.scalar(
            sa.select(m.Launch.id).where(m.Launch.recurring_poll_id == recurring_id)
        )
    page = login_as(organisation.id, "analyst").get("/schedules").get_data(as_text=True)
    assert f'href="/launches/{launch_id}">2026-01-05</a>' in page
    assert "2026-01-12 09:00" in page  # the next Monday, local time
    # analysts read; the buttons are not even shown
    assert "/pause" not in page and "/edit" not in page and "/schedules/new" not in page


def test_an_occurrence_due_but_not_yet_sent_is_shown_as_due(db, organisation, login_as, women):
    schedule(db, organisation, women)
    page = login_as(organisation.id, "coordinator").get("/schedules").get_data(as_text=True)
    assert "due now" in page


def test_a_new_weekday_counts_on_from_the_last_occurrence_sent(
    services, db, organisation, login_as, post_form, women, clock
):
    """Sent on Monday; on Wednesday the group asks for Tuesdays. Without the re-anchoring,
    Tuesday the 6th would be "due" on the new grid and go out at once: a second "this week"
    question two days after the first."""
    recurring_id = schedule(db, organisation, women)
    assert due_recurring(services) == 1
    clock.set(datetime(2026, 1, 7, 9, 0))
    client = login_as(organisation.id, "coordinator")
    url = f"/schedules/{recurring_id}/edit"
    assert 'value="2026-01-05"' not in client.get(url).get_data(as_text=True)  # start: history
    data = {"every_days": "7", "weekday": "tue", "send_at": "10:30", "ends_on": "2026-03-31"}
    response = post_form(client, url, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    [row] = rows(db)
    assert (row.weekday, row.send_at, row.ends_on) == (1, time(10, 30), date(2026, 3, 31))
    assert row.starts_on == date(2026, 1, 12)  # a week after the last one sent
    assert due_recurring(services) == 0
    clock.set(datetime(2026, 1, 13, 7, 31))  # Tuesday 10:31 in Nairobi
    assert due_recurring(services) == 1
    [(action, _, detail)] = audit_actions(db)
    assert action == "schedule.updated"
    assert detail["fields"] == ["weekday", "send_at", "ends_on", "starts_on"]


def test_saving_an_unchanged_form_changes_and_audits_nothing(
    db, organisation, login_as, post_form, women
):
    recurring_id = schedule(db, organisation, women)
    client = login_as(organisation.id, "coordinator")
    url = f"/schedules/{recurring_id}/edit"
    data = {"every_days": "7", "weekday": "mon", "send_at": "09:00", "ends_on": ""}
    response = post_form(client, url, data=data)
    assert response.status_code == 302
    assert "Nothing changed." in client.get("/schedules").get_data(as_text=True)
    assert audit_actions(db) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ends_on": "2026-01-04"}, "end before it starts"),
        ({"every_days": "3", "weekday": "mon"}, "repeat every 7, 14, 21"),
    ],
)
def test_bad_edits_are_refused(db, organisation, login_as, post_form, women, fields, message):
    recurring_id = schedule(db, organisation, women)
    client = login_as(organisation.id, "coordinator")
    data = {"every_days": "7", "weekday": "mon", "send_at": "09:00", "ends_on": "", **fields}
    response = post_form(client, f"/schedules/{recurring_id}/edit", data=data)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert rows(db)[0].ends_on is None and audit_actions(db) == []


def test_a_past_end_date_is_refused(db, organisation, login_as, post_form, women, clock):
    recurring_id = schedule(db, organisation, women)
    clock.set(datetime(2026, 2, 1, 9, 0))
    client = login_as(organisation.id, "coordinator")
    data = {"every_days": "7", "weekday": "mon", "send_at": "09:00", "ends_on": "2026-01-20"}
    response = post_form(client, f"/schedules/{recurring_id}/edit", data=data)
    assert response.status_code == 422
    assert "pause the schedule" in response.get_data(as_text=True)


def test_pause_stops_occurrences_and_resume_restarts_them(
    services, db, organisation, login_as, post_form, women, clock
):
    recurring_id = schedule(db, organisation, women, starts_on=date(2026, 1, 12))
    client = login_as(organisation.id, "coordinator")
    response = post_form(client, "/schedules", f"/schedules/{recurring_id}/pause")
    assert response.status_code == 302
    page = client.get("/schedules").get_data(as_text=True)
    assert "Schedule paused." in page and ">Resume<" in page
    clock.set(datetime(2026, 1, 12, 6, 5))
    assert due_recurring(services) == 0
    post_form(client, "/schedules", f"/schedules/{recurring_id}/resume")
    assert due_recurring(services) == 1  # the current week's occurrence, once
    assert [a[0] for a in audit_actions(db)] == ["schedule.paused", "schedule.resumed"]
    # pausing twice is not a second event
    post_form(client, "/schedules", f"/schedules/{recurring_id}/resume")
    assert len(audit_actions(db)) == 2


def test_analysts_cannot_change_schedules(db, organisation, login_as, women):
    recurring_id = schedule(db, organisation, women)
    client = login_as(organisation.id, "analyst")
    assert client.get("/schedules").status_code == 200
    assert client.get("/schedules/new").status_code == 403
    assert client.get(f"/schedules/{recurring_id}/edit").status_code == 403


def test_other_organisations_schedules_are_not_found(
    db, organisation, other_organisation, login_as, post_form
):
    theirs = seed_organisation(db, other_organisation.id, tag="b")
    client = login_as(organisation.id, "coordinator")
    assert "poll-b" not in client.get("/schedules").get_data(as_text=True)
    assert client.get(f"/schedules/{theirs['schedule_id']}/edit").status_code == 404
    response = post_form(client, "/schedules", f"/schedules/{theirs['schedule_id']}/pause")
    assert response.status_code == 404
    with db.session() as session:
        assert session.get(m.RecurringPoll, theirs["schedule_id"]).active


def test_the_nav_and_the_poll_page_link_here(db, organisation, login_as):
    client = login_as(organisation.id, "coordinator")
    pid = poll_id(db, organisation.id)
    assert 'href="/schedules"' in client.get("/polls").get_data(as_text=True)
    assert f'href="/schedules/new?poll_id={pid}"' in client.get(f"/polls/{pid}/edit").get_data(
        as_text=True
    )


def test_the_next_occurrence_shown_is_the_one_the_scheduler_sends(
    services, db, organisation, women, clock
):
    """Walk three weeks in 5-hour steps, with a pause, a resume and a cadence change on the
    way. At every step the occurrence the list shows is launched exactly when it falls due,
    nothing else is, and the prediction does not move unless the schedule was changed."""
    recurring_id = schedule(
        db, organisation, women, weekday=None, every_days=2, send_at=time(23, 30)
    )
    changes = {
        datetime(2026, 1, 10, 5): lambda s, row, now: recurring.set_active(s, row, False),
        datetime(2026, 1, 14, 5): lambda s, row, now: recurring.set_active(s, row, True),
        datetime(2026, 1, 16, 5): lambda s, row, now: recurring.update_schedule(
            s, row, now, every_days=7, weekday=4, send_at=time(8, 0), ends_on=None
        ),
    }
    clock.set(datetime(2026, 1, 4, 0, 0))
    previous, launched, sent_days = None, 0, []
    while clock.now() < datetime(2026, 1, 31):
        now = clock.now()
        changed = [at for at in changes if at <= now]
        with db.session() as session:
            row = session.get(m.RecurringPoll, recurring_id)
            for at in changed:
                changes.pop(at)(session, row, now)
            org = session.get(m.Organisation, organisation.id)
            upcoming = recurring.next_occurrence(
                row, org, now, sent=recurring.last_sent(session, recurring_id)
            )
        if previous is not None and not launched and not changed:
            assert upcoming == previous, now
        launched = due_recurring(services)
        if upcoming is not None and upcoming[1] <= now:
            assert launched == 1, now
            with db.session() as session:
                assert recurring.last_sent(session, recurring_id) == upcoming[0]
            sent_days.append(upcoming[0])
        else:
            assert launched == 0, now
        previous = upcoming
        clock.advance(hours=5)
    # paused over the 11th; the 13th, still in its period at the resume, went out then
    assert date(2026, 1, 11) not in sent_days and date(2026, 1, 13) in sent_days
    assert [d.weekday() for d in sent_days if d > date(2026, 1, 16)] == [4, 4]  # Fridays
