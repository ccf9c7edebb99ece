"""Nobody sees another organisation's data: every GET route, aimed at B's ids, is a 404.

The routes are read from `app.url_map`, so a page or API route added later by anyone is
walked too; a new kind of id placeholder fails the test until it is seeded below.
"""

from __future__ import annotations

import re

import pytest

from tests.admin.conftest import seed_organisation

ROLES = ("owner", "coordinator", "analyst")
_PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>")
# Routes whose placeholders are not ids of organisation-owned rows.
NOT_IDS = {"filename", "slug"}


def _get_rules(app) -> list[str]:
    rules = []
    for rule in app.url_map.iter_rules():
        names = set(_PLACEHOLDER.findall(rule.rule))
        if "GET" in rule.methods and names and not names & NOT_IDS:
            rules.append(rule.rule)
    return sorted(rules)


def _fill(rule: str, ids: dict) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in ids:
            pytest.fail(f"{rule}: seed an id for <{name}> in tests/admin/conftest.py")
        return str(ids[name])

    return _PLACEHOLDER.sub(value, rule)


@pytest.fixture
def two_organisations(db, organisation, other_organisation):
    mine = seed_organisation(db, organisation.id, tag="a")
    theirs = seed_organisation(db, other_organisation.id, tag="b")
    return mine, theirs


def test_there_are_routes_to_walk(app):
    rules = _get_rules(app)
    assert "/participants/<int:participant_id>" in rules
    assert "/api/v1/polls/<int:poll_id>/results" in rules


@pytest.mark.parametrize("role", ROLES)
def test_panel_routes_404_on_another_organisations_ids(
    app, login_as, organisation, two_organisations, role
):
    _, theirs = two_organisations
    client = login_as(organisation.id, role)
    leaks = {}
    for rule in _get_rules(app):
        if rule.startswith("/api/"):
            continue
        url = _fill(rule, theirs)
        response = client.get(url)
        response.close()  # streamed exports hold a temporary file until closed
        status = response.status_code
        # role-restricted pages may refuse first (403); nothing may answer with B's data
        if status not in (404, 403):
            leaks[url] = status
    assert leaks == {}


def test_panel_routes_answer_for_own_ids(app, login_as, organisation, two_organisations):
    """The same walk with A's own ids: proves the 404s above come from scoping."""
    mine, _ = two_organisations
    client = login_as(organisation.id, "owner")
    broken = {}
    for rule in _get_rules(app):
        if rule.startswith("/api/"):
            continue
        response = client.get(_fill(rule, mine))
        response.close()
        status = response.status_code
        if status >= 500:
            broken[rule] = status
    assert broken == {}
    assert client.get(_fill("/participants/<int:participant_id>", mine)).status_code == 200
    with client.get(_fill("/polls/<int:poll_id>/export.csv", mine)) as response:
        assert response.status_code == 200


def test_api_routes_404_on_another_organisations_ids(app, two_organisations):
    mine, theirs = two_organisations
    client = app.test_client()
    headers = {"Authorization": f"Bearer {mine['token']}"}
    leaks = {}
    for rule in _get_rules(app):
        if not rule.startswith("/api/"):
            continue
        url = _fill(rule, theirs)
        response = client.get(url, headers=headers)
        response.close()
        if response.status_code not in (404, 403):
            leaks[url] = response.status_code
        else:
            assert "error" in response.get_json()
    assert leaks == {}
    own = client.get(_fill("/api/v1/polls/<int:poll_id>/results", mine), headers=headers)
    assert own.status_code == 200


def test_lists_show_only_own_rows(app, login_as, organisation, two_organisations):
    mine, _ = two_organisations
    client = login_as(organisation.id, "coordinator")
    page = client.get("/participants").get_data(as_text=True)
    assert "+254712100000" in page
    assert "+254712200000" not in page
    api = app.test_client().get(
        "/api/v1/participants", headers={"Authorization": f"Bearer {mine['token']}"}
    )
    phones = {p["phone"] for p in api.get_json()["items"]}
    assert phones == {"+254712100000", "+254712100001", "+254712100002"}
