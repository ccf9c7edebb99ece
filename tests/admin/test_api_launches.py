"""Launches over the JSON API: launch now or schedule, progress, pause and resume, roles."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from storage import models as m
from storage.queries import record_status
from tests.admin.conftest import seed_organisation
from tests.admin.polls_seed import poll_id, seed_participants


@pytest.fixture
def women(db, organisation) -> int:
    seed_participants(db, organisation.id, 6, group="Women")
    seed_participants(db, organisation.id, 2, group="Youth", start=100)
    with db.session() as session:
        return session.scalar(sa.select(m.Group.id).where(m.Group.name == "Women"))


def test_launch_now_then_watch_its_progress(api, db, organisation, women):
    client = api("coordinator")
    pid = poll_id(db, organisation.id)
    response = client.post(f"/api/v1/polls/{pid}/launches", {"audience": {"groups": [women]}})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["status"], body["poll_id"], body["audience"]) == (
        "running",
        pid,
        {"groups": [women]},
    )
    assert body["progress"]["queued"] == 6 and body["progress"]["reached"] == 6
    launch_id = body["id"]
    with db.session() as session:
        rows = session.scalars(
            sa.select(m.OutboundMessage).where(m.OutboundMessage.launch_id == launch_id)
        ).all()
        for index, row in enumerate(rows[:3]):
            record_status(session, row, ("delivered", "sent", "failed")[index])
        convo = session.scalar(
            sa.select(m.ConversationSession).where(m.ConversationSession.launch_id == launch_id)
        )
        session.add(
            m.Answer(
                session_id=convo.id,
                participant_id=convo.participant_id,
                poll_version_id=convo.poll_version_id,
                question_key="works",
                value="yes",
            )
        )
        event = session.scalar(
            sa.select(m.AuditEvent).where(m.AuditEvent.action == "launch.started")
        )
        assert event.target == f"launch:{launch_id}" and event.user_id == client.user_id
        assert event.detail["via"] == "api" and event.detail["reached"] == 6
    progress = client.get(f"/api/v1/launches/{launch_id}").get_json()["progress"]
    counts = {k: progress[k] for k in ("queued", "sent", "delivered", "failed", "answered")}
    assert counts == {"queued": 3, "sent": 1, "delivered": 1, "failed": 1, "answered": 1}


def test_schedule_for_later(api, db, organisation, women, clock):
    client = api("owner")
    pid = poll_id(db, organisation.id)
    response = client.post(
        f"/api/v1/polls/{pid}/launches",
        {"audience": {"villages": ["Ngiluni"]}, "scheduled_for": "2026-01-06T10:00:00+03:00"},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "scheduled" and body["scheduled_for"] == "2026-01-06T07:00:00Z"
    assert body["progress"]["messages"] == 0
    with db.session() as session:
        event = session.scalar(
            sa.select(m.AuditEvent).where(m.AuditEvent.action == "launch.scheduled")
        )
        assert event.detail["scheduled_for"] == "2026-01-06T07:00:00Z"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "audience must be an object"),
        ({"audience": {"village": ["Ngiluni"]}}, 400, "unknown audience filter"),
        ({"audience": {"villages": ["Nowhere"]}}, 422, "nobody can be reached"),
        ({"audience": {}, "scheduled_for": "tomorrow"}, 400, "ISO 8601"),
        ({"audience": {}, "scheduled_for": "2026-01-05T08:00:00Z"}, 400, "has passed"),
        ({"audience": {}, "scheduled_for": 5}, 400, "date-time string"),
    ],
)
def test_bad_launches_get_a_reason(api, db, organisation, women, body, status, message):
    pid = poll_id(db, organisation.id)
    response = api("coordinator").post(f"/api/v1/polls/{pid}/launches", body)
    assert response.status_code == status
    assert message in response.get_json()["error"]
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count(m.Launch.id))) == 0


def test_not_json_is_a_400(app, api, db, organisation):
    pid = poll_id(db, organisation.id)
    response = api("coordinator").post(f"/api/v1/polls/{pid}/launches")
    assert response.status_code == 400 and "JSON object" in response.get_json()["error"]


def test_pause_and_resume(api, db, organisation, women):
    client = api("coordinator")
    pid = poll_id(db, organisation.id)
    launch_id = client.post(
        f"/api/v1/polls/{pid}/launches", {"audience": {"groups": [women]}}
    ).get_json()["id"]
    paused = client.post(f"/api/v1/launches/{launch_id}/pause")
    assert paused.status_code == 200
    assert paused.get_json()["status"] == "paused" and paused.get_json()["messages"] == 6
    with db.session() as session:
        held = session.scalar(
            sa.select(sa.func.count(m.OutboundMessage.id)).where(
                m.OutboundMessage.launch_id == launch_id, m.OutboundMessage.status == "held"
            )
        )
        assert held == 6
    resumed = client.post(f"/api/v1/launches/{launch_id}/resume").get_json()
    assert resumed["status"] == "running" and resumed["messages"] == 6
    assert resumed["progress"]["queued"] == 6
    with db.session() as session:
        actions = session.scalars(
            sa.select(m.AuditEvent.action)
            .where(m.AuditEvent.target == f"launch:{launch_id}")
            .order_by(m.AuditEvent.id)
        ).all()
        assert actions == ["launch.started", "launch.paused", "launch.resumed"]
        session.get(m.Launch, launch_id).status = "done"
    finished = client.post(f"/api/v1/launches/{launch_id}/pause")
    assert finished.status_code == 409 and "cannot be paused" in finished.get_json()["error"]


def test_list_launches_paginated(api, db, organisation, women):
    client = api("coordinator")
    pid = poll_id(db, organisation.id)
    first = client.post(f"/api/v1/polls/{pid}/launches", {"audience": {"groups": [women]}})
    second = client.post(
        f"/api/v1/polls/{pid}/launches",
        {"audience": {"groups": [women]}, "scheduled_for": "2026-02-01T10:00:00Z"},
    )
    page = client.get("/api/v1/launches?per_page=1").get_json()
    assert page["total"] == 2 and page["per_page"] == 1
    assert [item["id"] for item in page["items"]] == [second.get_json()["id"]]
    page2 = client.get("/api/v1/launches?per_page=1&page=2").get_json()
    assert [item["id"] for item in page2["items"]] == [first.get_json()["id"]]
    scheduled = client.get("/api/v1/launches?status=scheduled").get_json()
    assert [item["id"] for item in scheduled["items"]] == [second.get_json()["id"]]
    assert client.get("/api/v1/launches?status=sent").status_code == 400
    assert client.get("/api/v1/launches?per_page=0").status_code == 400


def test_analysts_read_launches_but_cannot_launch(api, db, organisation, women):
    pid = poll_id(db, organisation.id)
    launch_id = (
        api("coordinator")
        .post(f"/api/v1/polls/{pid}/launches", {"audience": {"groups": [women]}})
        .get_json()["id"]
    )
    analyst = api("analyst")
    assert analyst.get(f"/api/v1/launches/{launch_id}").status_code == 200
    assert analyst.get("/api/v1/launches").get_json()["total"] == 1
    for path, body in [
        (f"/api/v1/polls/{pid}/launches", {"audience": {"groups": [women]}}),
        (f"/api/v1/launches/{launch_id}/pause", None),
        (f"/api/v1/launches/{launch_id}/resume", None),
    ]:
        response = analyst.post(path, body)
        assert response.status_code == 403, path
        assert response.get_json() == {"error": "your role does not allow this"}
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count(m.Launch.id))) == 1
        assert session.get(m.Launch, launch_id).status == "running"


def test_another_organisations_launches_and_polls_are_404(
    api, db, organisation, other_organisation, women
):
    theirs = seed_organisation(db, other_organisation.id, tag="b")
    client = api("owner")
    assert client.get(f"/api/v1/launches/{theirs['launch_id']}").status_code == 404
    assert client.post(f"/api/v1/launches/{theirs['launch_id']}/pause").status_code == 404
    response = client.post(
        f"/api/v1/polls/{theirs['poll_id']}/launches", {"audience": {"groups": [women]}}
    )
    assert response.status_code == 404 and "error" in response.get_json()
    assert client.get("/api/v1/launches").get_json()["total"] == 0
    with db.session() as session:
        assert session.get(m.Launch, theirs["launch_id"]).status == "done"


def test_tokens_are_required(client, db, organisation):
    assert client.get("/api/v1/launches").status_code == 401
    pid = poll_id(db, organisation.id)
    response = client.post(f"/api/v1/polls/{pid}/launches", json={"audience": {}})
    assert response.status_code == 401


def test_the_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "requestBody" in paths["/api/v1/polls/{poll_id}/launches"]["post"]
    assert "get" in paths["/api/v1/launches"] and "get" in paths["/api/v1/launches/{launch_id}"]
    assert "409" in paths["/api/v1/launches/{launch_id}/pause"]["post"]["responses"]
    assert "post" in paths["/api/v1/launches/{launch_id}/resume"]


def test_scheduled_for_without_an_offset_is_utc(api, db, organisation, women):
    pid = poll_id(db, organisation.id)
    body = (
        api("coordinator")
        .post(
            f"/api/v1/polls/{pid}/launches",
            {"audience": {"groups": [women]}, "scheduled_for": "2026-01-07T12:30"},
        )
        .get_json()
    )
    with db.session() as session:
        assert session.get(m.Launch, body["id"]).scheduled_for == datetime(2026, 1, 7, 12, 30)
