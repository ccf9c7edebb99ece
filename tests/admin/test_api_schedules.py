"""Recurring polls over the JSON API: create, list, read, change cadence or end, pause;
roles, organisations and bad bodies. The FakeClock starts on Monday 2026-01-05, 09:00 UTC
(12:00 in Nairobi)."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from bot.scheduler import due_recurring
from storage import models as m
from tests.admin.conftest import seed_organisation
from tests.admin.polls_seed import poll_id, seed_participants


@pytest.fixture
def women(db, organisation) -> int:
    seed_participants(db, organisation.id, 3, group="Women")
    with db.session() as session:
        return session.scalar(sa.select(m.Group.id).where(m.Group.name == "Women"))


def body(db, organisation, women, **fields) -> dict:
    return {
        "poll_id": poll_id(db, organisation.id),
        "audience": {"groups": [women]},
        "weekday": "mon",
        "send_at": "09:00",
        "starts_on": "2026-01-12",
        **fields,
    }


def audit_actions(db) -> list[tuple[str, dict]]:
    with db.session() as session:
        return [
            (e.action, e.detail)
            for e in session.scalars(
                sa.select(m.AuditEvent)
                .where(m.AuditEvent.action.like("schedule.%"))
                .order_by(m.AuditEvent.id)
            )
        ]


def test_create_then_read_and_list(api, db, organisation, women):
    client = api("coordinator")
    response = client.post("/api/v1/schedules", body(db, organisation, women))
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created == {
        "id": created["id"],
        "poll_id": poll_id(db, organisation.id),
        "poll_key": "water-point",
        "audience": {"groups": [women]},
        "every_days": 7,
        "weekday": "mon",
        "send_at": "09:00",
        "timezone": "Africa/Nairobi",
        "starts_on": "2026-01-12",
        "ends_on": None,
        "active": True,
        "next_occurrence": {"on": "2026-01-12", "due_at": "2026-01-12T06:00:00Z"},
        "recent_launches": [],
    }
    assert client.get(f"/api/v1/schedules/{created['id']}").get_json() == created
    listed = client.get("/api/v1/schedules").get_json()
    assert listed["items"] == [created] and listed["total"] == 1
    [(action, detail)] = audit_actions(db)
    assert action == "schedule.created" and detail["via"] == "api"
    with db.session() as session:
        assert session.get(m.RecurringPoll, created["id"]).created_by == client.user_id


def test_recent_launches_and_the_next_occurrence_follow_the_scheduler(
    api, services, db, organisation, women, clock
):
    client = api("analyst")
    created = api("coordinator").post(
        "/api/v1/schedules", body(db, organisation, women, starts_on=None)
    )
    schedule_id = created.get_json()["id"]
    # starts today; 09:00 in Nairobi has passed: due at once, not next week
    assert created.get_json()["next_occurrence"]["on"] == "2026-01-05"
    assert due_recurring(services) == 1
    clock.set(datetime(2026, 1, 13, 9, 0))
    assert due_recurring(services) == 1
    shown = client.get(f"/api/v1/schedules/{schedule_id}").get_json()
    assert [(r["occurrence_on"], r["status"]) for r in shown["recent_launches"]] == [
        ("2026-01-12", "running"),
        ("2026-01-05", "running"),
    ]
    assert shown["next_occurrence"] == {"on": "2026-01-19", "due_at": "2026-01-19T06:00:00Z"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"poll_id": "water-point"}, "poll_id must be"),
        ({"poll_id": 999999}, "no such poll"),
        ({"audience": ["Women"]}, "audience must be an object"),
        ({"audience": {}}, "needs an audience"),
        ({"audience": {"village": ["Ngiluni"]}}, "unknown audience filter"),
        ({"every_days": "7"}, "every_days must be a whole number"),
        ({"every_days": 400}, "between 1 and 365"),
        ({"every_days": 10}, "whole weeks"),
        ({"weekday": "monday"}, "weekday must be one of"),
        ({"send_at": "9am"}, "HH:MM"),
        ({"starts_on": "12/01/2026"}, "starts_on must be a date"),
        ({"ends_on": "2026-01-01"}, "end before it starts"),
    ],
)
def test_bad_bodies_are_400_with_a_reason(api, db, organisation, women, fields, message):
    response = api().post("/api/v1/schedules", body(db, organisation, women, **fields))
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert audit_actions(db) == []


def test_a_body_that_is_not_json_is_400(app, api):
    response = api().post("/api/v1/schedules", None)
    assert response.status_code == 400 and "JSON object" in response.get_json()["error"]


def test_patch_changes_cadence_and_end_and_pauses(api, services, db, organisation, women, clock):
    client = api("coordinator")
    schedule_id = client.post("/api/v1/schedules", body(db, organisation, women)).get_json()["id"]
    response = client.patch(
        f"/api/v1/schedules/{schedule_id}", {"weekday": "wed", "ends_on": "2026-02-28"}
    )
    assert response.status_code == 200, response.get_json()
    changed = response.get_json()
    assert (changed["weekday"], changed["ends_on"], changed["send_at"]) == (
        "wed",
        "2026-02-28",
        "09:00",
    )
    assert changed["next_occurrence"]["on"] == "2026-01-14"
    paused = client.patch(f"/api/v1/schedules/{schedule_id}", {"active": False}).get_json()
    assert paused["active"] is False and paused["next_occurrence"] is None
    clock.set(datetime(2026, 1, 14, 6, 1))
    assert due_recurring(services) == 0
    assert [a for a, _ in audit_actions(db)] == [
        "schedule.created",
        "schedule.updated",
        "schedule.paused",
    ]
    assert audit_actions(db)[1][1] == {"fields": ["weekday", "ends_on"], "via": "api"}
    resumed = client.patch(f"/api/v1/schedules/{schedule_id}", {"active": True}).get_json()
    assert resumed["next_occurrence"] == {"on": "2026-01-14", "due_at": "2026-01-14T06:00:00Z"}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"audience": {"villages": ["X"]}}, "cannot change: audience"),
        ({"starts_on": "2026-02-01"}, "cannot change: starts_on"),
        ({"active": "no"}, "active must be true or false"),
        ({"every_days": 3}, "whole weeks"),
        ({"ends_on": "2026-01-04"}, "end before it starts"),
    ],
)
def test_bad_patches_change_nothing(api, db, organisation, women, patch, message):
    client = api("coordinator")
    created = client.post("/api/v1/schedules", body(db, organisation, women)).get_json()
    response = client.patch(f"/api/v1/schedules/{created['id']}", patch)
    assert response.status_code == 400 and message in response.get_json()["error"]
    assert client.get(f"/api/v1/schedules/{created['id']}").get_json() == created


def test_analysts_read_but_cannot_write(api, db, organisation, women):
    created = api("coordinator").post("/api/v1/schedules", body(db, organisation, women))
    analyst = api("analyst")
    assert analyst.get("/api/v1/schedules").status_code == 200
    assert analyst.post("/api/v1/schedules", body(db, organisation, women)).status_code == 403
    response = analyst.patch(f"/api/v1/schedules/{created.get_json()['id']}", {"active": False})
    assert response.status_code == 403


def test_another_organisations_schedules_are_404(api, db, organisation, other_organisation):
    theirs = seed_organisation(db, other_organisation.id, tag="b")
    client = api("owner")
    assert client.get("/api/v1/schedules").get_json()["items"] == []
    assert client.get(f"/api/v1/schedules/{theirs['schedule_id']}").status_code == 404
    response = client.patch(f"/api/v1/schedules/{theirs['schedule_id']}", {"active": False})
    assert response.status_code == 404
    response = client.post(
        "/api/v1/schedules",
        {"poll_id": theirs["poll_id"], "audience": {"groups": [theirs["group_id"]]}},
    )
    assert response.status_code == 400 and "no such poll" in response.get_json()["error"]


def test_no_token_is_401(client):
    assert client.get("/api/v1/schedules").status_code == 401
    assert client.patch("/api/v1/schedules/1", json={"active": False}).status_code == 401
