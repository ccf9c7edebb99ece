"""Roles, CSRF on every form, login rate limiting and secure cookies."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from storage import models as m
from tests.admin.conftest import PASSWORD, csrf_token_from


@pytest.mark.parametrize(
    ("role", "url", "expected"),
    [
        ("analyst", "/users", 403),
        ("coordinator", "/users", 403),
        ("owner", "/users", 200),
        ("analyst", "/audit", 403),
        ("owner", "/audit", 200),
        ("analyst", "/channels", 403),
        ("coordinator", "/channels", 200),
        ("analyst", "/participants/import", 403),
        ("coordinator", "/participants/import", 200),
        ("analyst", "/participants", 200),
        ("analyst", "/tokens", 200),
    ],
)
def test_roles(login_as, organisation, role, url, expected):
    client = login_as(organisation.id, role)
    assert client.get(url).status_code == expected


def test_anonymous_is_sent_to_login(client, organisation):
    response = client.get("/participants")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_forbidden_page_is_friendly(login_as, organisation):
    page = login_as(organisation.id, "analyst").get("/users").get_data(as_text=True)
    assert "Your role does not allow this" in page


@pytest.mark.parametrize(
    ("page", "url", "data"),
    [
        ("/groups", "/groups", {"name": "Women"}),
        ("/users", "/users", {"email": "x@example.org", "role": "analyst"}),
        ("/tokens", "/tokens", {"name": "script"}),
        ("/channels", "/channels", {"provider": "twilio", "kind": "sms", "address": "+15550001"}),
    ],
)
def test_forms_refuse_a_post_without_csrf_token(login_as, organisation, page, url, data):
    client = login_as(organisation.id, "owner")
    assert "csrf_token" in client.get(page).get_data(as_text=True)
    assert client.post(url, data=data).status_code == 400


def test_session_cookie_is_secure_and_httponly(app, make_user, organisation):
    user = make_user(organisation.id, "owner")
    client = app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def _login(client, email, password):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def test_five_failures_lock_the_login_for_fifteen_minutes(app, make_user, organisation, clock):
    user = make_user(organisation.id, "owner")
    client = app.test_client()
    for _ in range(5):
        assert _login(client, user.email, "wrong password").status_code == 401
    locked = _login(client, user.email, PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.get_data(as_text=True)
    clock.advance(minutes=16)
    assert _login(client, user.email, PASSWORD).status_code == 302


def test_logins_are_audited(app, db, make_user, organisation):
    user = make_user(organisation.id, "owner")
    client = app.test_client()
    _login(client, user.email, "wrong password")
    _login(client, user.email, PASSWORD)
    with db.session() as session:
        actions = session.scalars(
            sa.select(m.AuditEvent.action).where(m.AuditEvent.user_id == user.id)
        ).all()
    assert sorted(actions) == ["login", "login.failed"]
