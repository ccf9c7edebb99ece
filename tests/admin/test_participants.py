"""Participant list, filters, masked numbers, detail, erasure and groups."""

from __future__ import annotations

import importlib.util

import pytest
import sqlalchemy as sa

from storage import models as m
from tests.admin.conftest import seed_organisation


@pytest.fixture
def seeded(db, organisation):
    return seed_organisation(db, organisation.id, tag="a")


def test_coordinator_sees_numbers_analyst_sees_them_masked(login_as, organisation, seeded):
    coordinator = login_as(organisation.id, "coordinator").get("/participants")
    assert "+254712100000" in coordinator.get_data(as_text=True)
    analyst = login_as(organisation.id, "analyst").get("/participants").get_data(as_text=True)
    assert "+254712100000" not in analyst
    assert "+2547•••••000" in analyst


def test_analyst_cannot_search_by_number(login_as, organisation, seeded):
    page = login_as(organisation.id, "analyst").get("/participants?q=712100001")
    assert "0 participants" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("", 3),
        ("q=712100001", 1),
        ("status=active", 3),
        ("status=opted_out", 0),
        ("village=Ngiluni", 3),
        ("village=Elsewhere", 0),
        ("language=sw", 0),
    ],
)
def test_filters(login_as, organisation, seeded, query, count):
    page = login_as(organisation.id, "coordinator").get(f"/participants?{query}")
    assert f"{count} participant" in page.get_data(as_text=True)


def test_group_filter(login_as, organisation, seeded):
    page = login_as(organisation.id, "coordinator").get(f"/participants?group={seeded['group_id']}")
    assert "3 participants" in page.get_data(as_text=True)


def test_detail_page(login_as, organisation, seeded):
    page = login_as(organisation.id, "analyst").get(f"/participants/{seeded['participant_id']}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Group a" in text and "Erase" not in text  # analysts cannot erase


def test_analyst_cannot_erase(login_as, organisation, seeded, post_form):
    client = login_as(organisation.id, "analyst")
    url = f"/participants/{seeded['participant_id']}"
    assert post_form(client, url, url + "/erase").status_code == 403


def test_coordinator_erases_and_it_is_audited(db, login_as, organisation, seeded, post_form):
    client = login_as(organisation.id, "coordinator")
    url = f"/participants/{seeded['participant_id']}"
    response = post_form(client, url, url + "/erase")
    if importlib.util.find_spec("bot.erasure") is None:
        assert response.status_code == 503  # erasure engine not installed: nothing changed
        return
    assert response.status_code == 302
    with db.session() as session:
        participant = session.get(m.Participant, seeded["participant_id"])
        assert participant.phone is None
        assert session.scalar(
            sa.select(m.AuditEvent).where(m.AuditEvent.action == "participant.erase")
        )


def test_create_group_and_add_member(db, login_as, organisation, seeded, post_form):
    client = login_as(organisation.id, "coordinator")
    response = post_form(client, "/groups", data={"name": "Women of Ngiluni", "village": "Ngiluni"})
    assert response.status_code == 302
    group_url = response.headers["Location"]
    added = post_form(client, group_url, data={"phone": "0712 100 001", "action": "add"})
    assert added.status_code == 200
    assert "+254712100001" in added.get_data(as_text=True)
    unknown = post_form(client, group_url, data={"phone": "0712 999 999", "action": "add"})
    assert unknown.status_code == 400
    assert "No participant has this number" in unknown.get_data(as_text=True)
    invalid = post_form(client, group_url, data={"phone": "12", "action": "add"})
    assert "Invalid number" in invalid.get_data(as_text=True)


def test_duplicate_group_name_is_refused(login_as, organisation, seeded, post_form):
    client = login_as(organisation.id, "coordinator")
    response = post_form(client, "/groups", data={"name": "Group a"})
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)


def test_analyst_cannot_create_groups(login_as, organisation, post_form):
    client = login_as(organisation.id, "analyst")
    assert post_form(client, "/groups", data={"name": "X"}).status_code == 403
