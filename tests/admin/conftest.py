"""Panel fixtures: users of each role, a second organisation, logging in through the form.

`login_as` posts the real login form; CSRF is switched off for it only by reading the
token the form rendered, so the CSRF protection itself stays on for every test.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from admin.auth import create_user
from storage import models as m

PASSWORD = "correct horse battery"

_CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                      r'name="csrf_token" value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    """The CSRF token a page rendered (WTForms and hand-written hidden inputs)."""
    match = _CSRF_RE.search(html)
    if match is None:
        raise AssertionError("no csrf_token on the page")
    return match.group(1) or match.group(2)


@pytest.fixture
def other_organisation(db):
    """Organisation B, whose data organisation A's users must never see."""
    with db.session() as session:
        org = m.Organisation(slug="other", name="Other Org", languages=["en"])
        session.add(org)
        session.flush()
        return org


@pytest.fixture
def make_user(db) -> Callable[..., m.User]:
    counter = iter(range(1000))

    def make(organisation_id: int, role: str = "coordinator", email: str | None = None) -> m.User:
        with db.session() as session:
            return create_user(
                session,
                organisation_id=organisation_id,
                email=email or f"{role}{next(counter)}@org{organisation_id}.example",
                password=PASSWORD,
                role=role,
            )

    return make


@pytest.fixture
def login_as(app, make_user) -> Callable:
    """Log a fresh user of `role` in through the real login form; returns the client."""

    def login(organisation_id: int, role: str = "coordinator", client=None):
        client = client or app.test_client()
        user = make_user(organisation_id, role)
        page = client.get("/login")
        response = client.post(
            "/login",
            data={
                "email": user.email,
                "password": PASSWORD,
                "csrf_token": csrf_token_from(page.get_data(as_text=True)),
            },
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        client.user = user
        return client

    return login


@pytest.fixture
def post_form() -> Callable:
    """POST a form the way a browser does: fetch the page, send back its CSRF token."""

    def post(client, page_url: str, url: str | None = None, data: dict | None = None, **kw):
        page = client.get(page_url)
        payload = dict(data or {})
        payload["csrf_token"] = csrf_token_from(page.get_data(as_text=True))
        return client.post(url or page_url, data=payload, **kw)

    return post
