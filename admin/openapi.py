"""The OpenAPI description of /api/v1, built from the routes that are really registered.

API views are declared with `api_route(...)` instead of `blueprint.route(...)`: it
registers the route and records its summary and request/response shapes on the view.
`GET /api/v1/openapi.json` walks `app.url_map` and describes every /api/v1 rule from that
record, so the document follows the code; a route registered without `api_route` is
missing from it, and tests/admin/test_api_openapi.py fails until it is described.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, current_app, jsonify

PREFIX = "/api/v1"
ATTRIBUTE = "__openapi__"
_CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
_TYPES = {
    "int": "integer",
    "float": "number",
    None: "string",
    "string": "string",
    "path": "string",
    "uuid": "string",
}

blueprint = Blueprint("openapi", __name__, url_prefix=PREFIX)


def api_route(
    bp: Blueprint,
    rule: str,
    *,
    methods: Iterable[str] = ("GET",),
    summary: str,
    description: str = "",
    query: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    responses: dict[int, str] | None = None,
    public: bool = False,
) -> Callable:
    """`bp.route(rule, methods=...)` that also records what the route is for.

    `query` maps query parameter names to descriptions; `body` is a JSON schema of the
    request body; `responses` maps status codes to what they mean.
    """
    methods = [method.upper() for method in methods]

    def decorator(view: Callable) -> Callable:
        operations = getattr(view, ATTRIBUTE, {})
        for method in methods:
            operations[method] = {
                "summary": summary,
                "description": description,
                "query": dict(query or {}),
                "body": body,
                "responses": dict(responses or {}),
                "public": public,
            }
        setattr(view, ATTRIBUTE, operations)
        return bp.route(rule, methods=methods)(view)

    return decorator


def openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """Flask's `/polls/<int:poll_id>` as OpenAPI's `/polls/{poll_id}`, with parameters."""
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": _TYPES.get(converter, "string")},
        }
        for converter, name in _CONVERTER.findall(rule)
    ]
    return _CONVERTER.sub(lambda match: "{" + match.group(2) + "}", rule), parameters


def _operation(endpoint: str, method: str, spec: dict[str, Any], params: list) -> dict:
    responses = {str(code): {"description": text} for code, text in spec["responses"].items()}
    responses.setdefault("200" if method == "GET" else "201", {"description": "success"})
    if not spec["public"]:
        responses.setdefault("401", {"description": "missing, unknown or revoked token"})
        responses.setdefault("403", {"description": "the token's role does not allow this"})
    if params:
        responses.setdefault("404", {"description": "not found in the token's organisation"})
    operation: dict[str, Any] = {
        "operationId": f"{endpoint}.{method.lower()}",
        "summary": spec["summary"],
        "parameters": params
        + [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": text,
                "schema": {"type": "string"},
            }
            for name, text in spec["query"].items()
        ],
        "responses": responses,
    }
    if spec["description"]:
        operation["description"] = spec["description"]
    if spec["body"] is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": spec["body"]}},
        }
    if spec["public"]:
        operation["security"] = []
    return operation


def build_document(app) -> dict[str, Any]:
    """Every documented /api/v1 rule of `app`; undocumented rules are left out."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        operations = getattr(app.view_functions[rule.endpoint], ATTRIBUTE, {})
        path, params = openapi_path(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method in operations:
                paths.setdefault(path, {})[method.lower()] = _operation(
                    rule.endpoint, method, operations[method], params
                )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Heard API",
            "version": "1",
            "description": "Polls, participants, groups, results, dialogues and commitments. "
            'Errors are JSON: {"error": message}.',
        },
        "servers": [{"url": "/"}],
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
        "paths": paths,
    }


@api_route(blueprint, "/openapi.json", summary="This description of the API", public=True)
def document():
    return jsonify(build_document(current_app))
