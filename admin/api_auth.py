"""Bearer tokens for the JSON API: `Authorization: Bearer <token>`.

Only the SHA-256 of a token is stored (`ApiToken.token_hash`), so a leaked database does
not leak working tokens. A revoked token, or one whose user is inactive, is refused with
401 and a JSON reason, never a login page: API clients are machines.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, jsonify, request

from storage import models as m


@dataclass(frozen=True)
class ApiPrincipal:
    """Who is calling: resolved once per request, detached from the database session."""

    user_id: int
    organisation_id: int
    role: str
    token_id: int

    @property
    def id(self) -> int:
        """The user's id, as on the panel's `PanelUser`, so code serving both reads one name."""
        return self.user_id


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _unauthorised(reason: str):
    response = jsonify({"error": reason})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="heard"'
    return response


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def resolve(token: str) -> ApiPrincipal | None:
    services = current_app.extensions["heard"]
    digest = hash_token(token)
    with services.db.session() as session:
        row = session.execute(
            sa.select(m.ApiToken, m.User)
            .join(m.User, m.User.id == m.ApiToken.user_id)
            .where(m.ApiToken.token_hash == digest, m.ApiToken.revoked_at.is_(None))
        ).first()
        if row is None:
            return None
        api_token, user = row
        # The lookup is by hash; compare again in constant time all the same.
        if not hmac.compare_digest(api_token.token_hash, digest) or not user.active:
            return None
        api_token.last_used_at = services.clock.now()
        return ApiPrincipal(user.id, user.organisation_id, user.role, api_token.id)


def require_token(view: Callable[..., Any]) -> Callable[..., Any]:
    """Resolve `g.api` and `g.api_user` (an `ApiPrincipal`) from the bearer token, or 401."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any):
        token = _bearer()
        if token is None:
            return _unauthorised("missing bearer token")
        principal = resolve(token)
        if principal is None:
            return _unauthorised("invalid or revoked token")
        g.api = principal
        g.api_user = principal  # what admin.access.current_principal() looks for
        return view(*args, **kwargs)

    return wrapped
