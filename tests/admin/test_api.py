"""The JSON API: pagination, creation, validation errors as JSON, results, roles."""

from __future__ import annotations

import pytest

from admin.tokens import issue_token
from heard.demo import DEMO_POLL
from tests.admin.conftest import seed_organisation


@pytest.fixture
def seeded(db, organisation):
    return seed_organisation(db, organisation.id, tag="a")


@pytest.fixture
def api(app, seeded):
    client = app.test_client()

    def call(method: str, url: str, token: str | None = None, **kwargs):
        headers = {"Authorization": f"Bearer {token or seeded['token']}"}
        return client.open(url, method=method, headers=headers, **kwargs)

    return call


@pytest.fixture
def analyst_token(db, make_user, organisation):
    user = make_user(organisation.id, "analyst")
    with db.session() as session:
        return issue_token(session, user.id, "analyst")[1]


def test_participants_are_paginated(api):
    first = api("GET", "/api/v1/participants?per_page=2").get_json()
    second = api("GET", "/api/v1/participants?per_page=2&page=2").get_json()
    assert (first["total"], len(first["items"]), len(second["items"])) == (3, 2, 1)
    assert first["items"][0]["phone"] == "+254712100000"


@pytest.mark.parametrize("query", ["page=0", "per_page=1000", "page=x"])
def test_bad_pagination_is_a_json_400(api, query):
    response = api("GET", f"/api/v1/participants?{query}")
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_analyst_sees_masked_numbers_and_cannot_create(api, analyst_token):
    items = api("GET", "/api/v1/participants", analyst_token).get_json()["items"]
    assert items[0]["phone"] == "+2547•••••000"
    response = api("POST", "/api/v1/participants", analyst_token, json={"phone": "0712000111"})
    assert response.status_code == 403


def test_create_participant(api, seeded):
    response = api(
        "POST",
        "/api/v1/participants",
        json={"phone": "0712 345 678", "language": "sw", "groups": ["Group a"]},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert (body["phone"], body["status"]) == ("+254712345678", "new")
    shown = api("GET", f"/api/v1/participants/{body['id']}").get_json()
    assert shown["groups"] == [seeded["group_id"]]
    assert api("POST", "/api/v1/participants", json={"phone": "0712345678"}).status_code == 409


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"phone": "12"}, 422, "invalid phone"),
        ({"phone": "0712345678", "language": "xx"}, 422, "unknown language"),
        ({"phone": "0712345678", "groups": ["Nope"]}, 422, "unknown group"),
    ],
)
def test_create_participant_errors(api, body, status, message):
    response = api("POST", "/api/v1/participants", json=body)
    assert response.status_code == status
    assert message in response.get_json()["error"]


def test_not_json_is_a_json_400(api):
    response = api("POST", "/api/v1/groups", data="name=x")
    assert response.status_code == 400
    assert "JSON object" in response.get_json()["error"]


def test_groups_and_members(api):
    created = api("POST", "/api/v1/groups", json={"name": "Youth", "village": "Kivani"})
    assert created.status_code == 201
    group_id = created.get_json()["id"]
    assert api("POST", "/api/v1/groups", json={"name": "Youth"}).status_code == 409
    ids = [p["id"] for p in api("GET", "/api/v1/participants").get_json()["items"]]
    added = api("POST", f"/api/v1/groups/{group_id}/members", json={"participants": ids[:2]})
    assert added.get_json() == {"added": 2}
    members = api("GET", f"/api/v1/groups/{group_id}/members").get_json()
    assert members["total"] == 2
    unknown = api("POST", f"/api/v1/groups/{group_id}/members", json={"participants": [99999]})
    assert unknown.status_code == 422
    names = {g["name"] for g in api("GET", "/api/v1/groups").get_json()["items"]}
    assert names == {"Group a", "Youth"}


def test_create_poll_and_validation_problems(api):
    poll = {**DEMO_POLL, "key": "api-poll"}
    created = api("POST", "/api/v1/polls", json=poll)
    assert created.status_code == 201
    shown = api("GET", f"/api/v1/polls/{created.get_json()['id']}").get_json()
    assert shown["definition"]["key"] == "api-poll"
    bad = api("POST", "/api/v1/polls", json={"key": "Bad Key", "questions": []})
    assert bad.status_code == 422
    body = bad.get_json()
    assert body["error"] == "invalid poll"
    assert any(p.startswith("key:") for p in body["problems"])
    assert any(p.startswith("questions:") for p in body["problems"])


def test_results_count_per_question(api, seeded):
    body = api("GET", f"/api/v1/polls/{seeded['poll_id']}/results").get_json()
    by_key = {q["key"]: q for q in body["questions"]}
    assert by_key["works"]["counts"] == {"yes": 2, "no": 1}
    assert by_key["queue_minutes"]["numbers"] == {
        "count": 3,
        "min": 10.0,
        "max": 30.0,
        "mean": 20.0,
    }
    assert by_key["days_broken"]["answered"] == 0


def test_api_export_csv(api, seeded):
    response = api("GET", f"/api/v1/polls/{seeded['poll_id']}/export.csv")
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith("respondent,")
    response.close()


def test_unknown_api_route_is_json(api):
    response = api("GET", "/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json() == {"error": "Not found."}
