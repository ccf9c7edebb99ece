"""Who may do what, and whose data a request may touch.

Every panel page and API route goes through here so that two rules hold everywhere:
a role only reaches what it needs (analysts read results, never phone numbers), and an
id that belongs to another organisation is answered exactly like an id that does not
exist (404), so ids cannot be probed across organisations.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort, g, jsonify, render_template, request
from flask_login import current_user, login_required

from admin.i18n import N_, gettext
from bot.phone import mask_number

OWNER, COORDINATOR, ANALYST = "owner", "coordinator", "analyst"
STAFF = (OWNER, COORDINATOR)

Model = TypeVar("Model")


def current_principal() -> Any | None:
    """The API token's user when the request carried one, else the panel's user."""
    api_user = getattr(g, "api_user", None)
    if api_user is not None:
        return api_user
    if current_user and current_user.is_authenticated:
        return current_user
    return None


def current_organisation_id() -> int:
    principal = current_principal()
    if principal is None:
        abort(401)
    return int(principal.organisation_id)


def current_role() -> str:
    principal = current_principal()
    return getattr(principal, "role", "") if principal is not None else ""


def has_role(*roles: str) -> bool:
    """Owners may do everything; other roles only what is listed."""
    role = current_role()
    return role == OWNER or role in roles


def role_required(*roles: str) -> Callable:
    """Log in, then 403 unless the user's role is one of `roles` (owner always passes)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return login_required(wrapped)

    return decorator


def get_owned(session: so.Session, model: type[Model], ident: int) -> Model:
    """The row of `model` with `ident` in the current organisation, or 404."""
    row = session.get(model, ident)
    if row is None or row.organisation_id != current_organisation_id():
        abort(404)
    return row


def scoped(query: sa.Select, model: type) -> sa.Select:
    """`query` narrowed to the current organisation's rows of `model`."""
    return query.where(model.organisation_id == current_organisation_id())


def shown_number(phone: str | None) -> str:
    """The number as this user may see it: masked for analysts, gone once erased."""
    if not phone:
        return "—"
    return phone if has_role(COORDINATOR) else mask_number(phone)


# Marked with N_, translated only for people: API clients get the English text, which
# their code may match on.
_MESSAGES = {
    400: N_("The request could not be understood (a form may have expired: reload and retry)."),
    401: N_("Please log in."),
    403: N_("Your role does not allow this."),
    404: N_("Not found."),
    405: N_("Method not allowed."),
    413: N_("The upload is too large."),
    422: N_("The data is not valid."),
    429: N_("Too many attempts: wait a few minutes and try again."),
    500: N_("Something went wrong on our side; nothing you entered was lost."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _error(error) -> Any:
    code = getattr(error, "code", 500) or 500
    message = _MESSAGES.get(code, getattr(error, "description", "Error"))
    if _wants_json():
        description = getattr(error, "description", None)
        if isinstance(description, str) and code not in (404, 500):
            message = description
        return jsonify({"error": message}), code
    if code in _MESSAGES:
        message = gettext(message)
    return render_template("error.html", code=code, message=message), code


def init_app(app) -> None:
    """Friendly pages for people, JSON for machines, for every error the panel raises."""
    for code in _MESSAGES:
        app.register_error_handler(code, _error)
    app.jinja_env.globals.update(has_role=has_role, shown_number=shown_number)
