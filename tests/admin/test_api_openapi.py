"""The OpenAPI document describes every /api/v1 route the app really has.

Routes are read from `app.url_map`, so a route anyone registers without `api_route(...)`
(admin/openapi.py) fails here until it is described.
"""

from __future__ import annotations

from admin.openapi import PREFIX, openapi_path


def _registered(app) -> set[tuple[str, str]]:
    return {
        (openapi_path(rule.rule)[0], method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(PREFIX + "/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_api_route_is_documented(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    documented = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    assert _registered(app) - documented == set(), "describe these routes with api_route(...)"
    assert documented - _registered(app) == set()


def test_document_shape(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    results = document["paths"]["/api/v1/polls/{poll_id}/results"]["get"]
    assert results["parameters"][0] == {
        "name": "poll_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }
    assert "401" in results["responses"] and "404" in results["responses"]
    create = document["paths"]["/api/v1/polls"]["post"]
    assert "422" in create["responses"] and "requestBody" in create
    assert document["paths"]["/api/v1/openapi.json"]["get"]["security"] == []


def test_openapi_path_converts_flask_rules():
    assert openapi_path("/a/<int:x>/b/<y>") == (
        "/a/{x}/b/{y}",
        [
            {"name": "x", "in": "path", "required": True, "schema": {"type": "integer"}},
            {"name": "y", "in": "path", "required": True, "schema": {"type": "string"}},
        ],
    )
