"""The owner's users page: invite, change role (audited), deactivate."""

from __future__ import annotations

import re

import sqlalchemy as sa

from storage import models as m
from tests.admin.conftest import csrf_token_from


def test_owner_invites_changes_role_and_deactivates(app, db, login_as, organisation, post_form):
    owner = login_as(organisation.id, "owner")
    created = post_form(owner, "/users", data={"email": "Ana@Example.org", "role": "analyst"})
    assert created.status_code == 201
    password = re.search(r'id="new-password">([^<]+)<', created.get_data(as_text=True)).group(1)
    with db.session() as session:
        user = session.scalar(sa.select(m.User).where(m.User.email == "ana@example.org"))
    # the one-time password works
    client = app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    login = client.post(
        "/login", data={"email": "ana@example.org", "password": password, "csrf_token": token}
    )
    assert login.status_code == 302

    post_form(owner, "/users", f"/users/{user.id}/role", data={"role": "coordinator"})
    post_form(owner, "/users", f"/users/{user.id}/active")
    with db.session() as session:
        user = session.get(m.User, user.id)
        assert (user.role, user.active) == ("coordinator", False)
        events = session.execute(
            sa.select(m.AuditEvent.action, m.AuditEvent.detail)
            .where(m.AuditEvent.target == "ana@example.org")
            .order_by(m.AuditEvent.id)
        ).all()
    assert [e.action for e in events] == ["user.create", "user.role", "user.deactivate"]
    assert events[1].detail == {"from": "analyst", "to": "coordinator"}
    # a deactivated user is logged out on the next request
    assert client.get("/participants").status_code == 302


def test_owner_cannot_demote_themself(db, login_as, organisation, post_form):
    owner = login_as(organisation.id, "owner")
    post_form(owner, "/users", f"/users/{owner.user.id}/role", data={"role": "analyst"})
    with db.session() as session:
        assert session.get(m.User, owner.user.id).role == "owner"


def test_duplicate_email_is_refused(login_as, organisation, post_form):
    owner = login_as(organisation.id, "owner")
    response = post_form(owner, "/users", data={"email": owner.user.email, "role": "analyst"})
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)


def test_owner_cannot_touch_another_organisations_user(
    db, login_as, make_user, organisation, other_organisation, post_form
):
    stranger = make_user(other_organisation.id, "analyst")
    owner = login_as(organisation.id, "owner")
    response = post_form(owner, "/users", f"/users/{stranger.id}/role", data={"role": "owner"})
    assert response.status_code == 404
    with db.session() as session:
        assert session.get(m.User, stranger.id).role == "analyst"
