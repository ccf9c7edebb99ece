"""API tokens: shown once, stored as SHA-256, revocable."""

from __future__ import annotations

import hashlib
import re

import sqlalchemy as sa

from storage import models as m


def test_token_is_shown_once_stored_hashed_and_revocable(
    app, db, login_as, organisation, post_form
):
    client = login_as(organisation.id, "coordinator")
    created = post_form(client, "/tokens", data={"name": "nightly sync"})
    assert created.status_code == 201
    plain = re.search(r'id="new-token"[^>]*>([^<]+)<', created.get_data(as_text=True)).group(1)
    assert plain not in client.get("/tokens").get_data(as_text=True)
    with db.session() as session:
        row = session.scalar(sa.select(m.ApiToken))
        assert row.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {plain}"}
    assert api.get("/api/v1/polls", headers=headers).status_code == 200

    post_form(client, "/tokens", f"/tokens/{row.id}/revoke")
    response = api.get("/api/v1/polls", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.get_json()["error"]


def test_cannot_revoke_someone_elses_token(db, login_as, organisation, post_form):
    alice = login_as(organisation.id, "coordinator")
    post_form(alice, "/tokens", data={"name": "alice"})
    with db.session() as session:
        token_id = session.scalar(sa.select(m.ApiToken.id))
    bob = login_as(organisation.id, "coordinator")
    assert post_form(bob, "/tokens", f"/tokens/{token_id}/revoke").status_code == 404


def test_missing_token_is_a_json_401(client):
    response = client.get("/api/v1/participants")
    assert response.status_code == 401
    assert "bearer" in response.get_json()["error"].lower()
