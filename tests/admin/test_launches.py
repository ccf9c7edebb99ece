"""Launching from the panel: audience, estimate, launch now or schedule, progress, pause."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from storage import models as m
from storage.queries import record_status
from tests.admin.polls_seed import poll_id, seed_participants


def test_estimate_counts_only_the_chosen_audience(login_as, organisation, db):
    seed_participants(db, organisation.id, 4, group="Women", gender="female", language="sw")
    seed_participants(db, organisation.id, 3, group="Youth", start=100, gender="male")
    client = login_as(organisation.id, "coordinator")
    pid = poll_id(db, organisation.id)
    with db.session() as session:
        women = session.scalar(sa.select(m.Group.id).where(m.Group.name == "Women"))
    body = client.get(f"/polls/{pid}/launch/estimate?groups={women}").get_json()
    assert body["participants"] == 4
    assert body["by_language"] == {"sw": 4}
    assert body["first_message_segments"] == 4
    assert client.get(f"/polls/{pid}/launch/estimate").get_json()["participants"] == 7
    assert client.get(f"/polls/{pid}/launch/estimate?gender=male").get_json()["participants"] == 3
    page = client.get(f"/polls/{pid}/launch?languages=sw").get_data(as_text=True)
    assert 'id="estimate-participants">4<' in page
    assert "Women" in page and "Youth" in page and "female" in page


def test_launch_now_queues_messages_shows_progress_and_is_audited(
    login_as, organisation, db, post_form
):
    seed_participants(db, organisation.id, 6, group="Women")
    client = login_as(organisation.id, "coordinator")
    pid = poll_id(db, organisation.id)
    with db.session() as session:
        women = session.scalar(sa.select(m.Group.id).where(m.Group.name == "Women"))
    response = post_form(
        client, f"/polls/{pid}/launch", data={"groups": str(women), "action": "now"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    launch_url = response.headers["Location"]
    launch_id = int(launch_url.rsplit("/", 1)[1])
    progress = client.get(f"/launches/{launch_id}/progress").get_json()
    assert progress["queued"] == 6 and progress["percent"] == 0 and progress["reached"] == 6
    with db.session() as session:
        rows = session.scalars(
            sa.select(m.OutboundMessage).where(m.OutboundMessage.launch_id == launch_id)
        ).all()
        for index, row in enumerate(rows):
            record_status(session, row, ("delivered", "sent", "failed")[index % 3])
        event = session.scalar(
            sa.select(m.AuditEvent).where(m.AuditEvent.action == "launch.started")
        )
        assert event.target == f"launch:{launch_id}" and event.detail["reached"] == 6
    progress = client.get(f"/launches/{launch_id}/progress").get_json()
    assert (progress["delivered"], progress["sent"], progress["failed"]) == (2, 2, 2)
    assert progress["percent"] == 100
    html = client.get(launch_url).get_data(as_text=True)
    assert 'role="progressbar"' in html and "Women" in html


def test_pause_and_resume_hold_and_release_messages(login_as, organisation, db, post_form):
    seed_participants(db, organisation.id, 3)
    client = login_as(organisation.id, "coordinator")
    pid = poll_id(db, organisation.id)
    response = post_form(client, f"/polls/{pid}/launch", data={"action": "now"})
    launch_url = response.headers["Location"]
    launch_id = int(launch_url.rsplit("/", 1)[1])
    post_form(client, launch_url, f"/launches/{launch_id}/pause")
    with db.session() as session:
        assert session.get(m.Launch, launch_id).status == "paused"
        statuses = session.scalars(
            sa.select(m.OutboundMessage.status).where(m.OutboundMessage.launch_id == launch_id)
        ).all()
        assert set(statuses) == {"held"}
    assert client.get(f"/launches/{launch_id}/progress").get_json()["queued"] == 3
    post_form(client, launch_url, f"/launches/{launch_id}/resume")
    with db.session() as session:
        assert session.get(m.Launch, launch_id).status == "running"
        actions = session.scalars(sa.select(m.AuditEvent.action).order_by(m.AuditEvent.id)).all()
        assert actions[-2:] == ["launch.paused", "launch.resumed"]


def test_schedule_converts_local_time_and_refuses_the_past(login_as, organisation, db, post_form):
    seed_participants(db, organisation.id, 2)
    client = login_as(organisation.id, "coordinator")
    pid = poll_id(db, organisation.id)
    url = f"/polls/{pid}/launch"
    past = post_form(client, url, data={"action": "schedule", "scheduled_for": "2020-01-01T10:00"})
    assert past.status_code == 422 and "has passed" in past.get_data(as_text=True)
    empty = post_form(client, url, data={"action": "schedule", "scheduled_for": ""})
    assert empty.status_code == 422
    future = post_form(
        client, url, data={"action": "schedule", "scheduled_for": "2030-03-01T10:00"}
    )
    assert future.status_code == 302
    with db.session() as session:
        launch = session.scalar(sa.select(m.Launch))
        # Africa/Nairobi is UTC+3
        assert launch.scheduled_for == datetime(2030, 3, 1, 7, 0)
        assert launch.status == "scheduled"
        assert session.scalar(sa.select(sa.func.count(m.OutboundMessage.id))) == 0


def test_nobody_reachable_is_an_error_not_an_empty_launch(login_as, organisation, db, post_form):
    client = login_as(organisation.id, "coordinator")
    pid = poll_id(db, organisation.id)
    response = post_form(client, f"/polls/{pid}/launch", data={"action": "now"})
    assert response.status_code == 422
    assert "Nobody can be reached" in response.get_data(as_text=True)


def test_roles_and_organisations(login_as, organisation, other_organisation, db, post_form):
    seed_participants(db, organisation.id, 2)
    owner = login_as(organisation.id, "owner")
    pid = poll_id(db, organisation.id)
    launch_url = post_form(owner, f"/polls/{pid}/launch", data={"action": "now"}).headers[
        "Location"
    ]
    analyst = login_as(organisation.id, "analyst")
    assert analyst.get(f"/polls/{pid}/launch").status_code == 403
    assert analyst.get(launch_url).status_code == 200
    stranger = login_as(other_organisation.id, "owner")
    assert stranger.get(launch_url).status_code == 404
    assert stranger.get(launch_url + "/progress").status_code == 404
