"""API bearer tokens: each user makes their own, sees it once, and can revoke it.

Only the SHA-256 of a token is stored (tokens are 256 random bits, so a fast hash is
enough, unlike passwords): a database leak then yields no usable token. A token acts as
its user, with that user's role and organisation.
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from admin.access import role_required
from admin.i18n import _, _l
from storage import models as m
from storage.queries import audit

blueprint = Blueprint("tokens", __name__, template_folder="templates")

PREFIX = "heard_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session, user_id: int, name: str) -> tuple[m.ApiToken, str]:
    """A new token row and the plain token, which exists nowhere else after this call."""
    plain = PREFIX + secrets.token_urlsafe(32)
    row = m.ApiToken(user_id=user_id, name=name.strip()[:100], token_hash=hash_token(plain))
    session.add(row)
    session.flush()
    return row, plain


class TokenForm(FlaskForm):
    name = StringField(_l("What is it for?"), validators=[DataRequired(), Length(max=100)])


class RevokeForm(FlaskForm):
    """Only a button; the form exists for its CSRF token."""


def _db():
    return current_app.extensions["heard"].db


@blueprint.route("/tokens", methods=["GET", "POST"])
@role_required("coordinator", "analyst")
def index():
    form = TokenForm()
    plain = None
    status = 200
    if form.is_submitted():
        if form.validate():
            with _db().session() as session:
                row, plain = issue_token(session, current_user.id, form.name.data)
                audit(
                    session,
                    organisation_id=current_user.organisation_id,
                    user_id=current_user.id,
                    action="token.create",
                    target=row.name,
                )
            status = 201
        else:
            status = 400
    with _db().session() as session:
        tokens = session.scalars(
            sa.select(m.ApiToken)
            .where(m.ApiToken.user_id == current_user.id)
            .order_by(m.ApiToken.created_at.desc(), m.ApiToken.id.desc())
        ).all()
    return render_template(
        "people/tokens.html", tokens=tokens, form=form, plain=plain, revoke_form=RevokeForm()
    ), status


@blueprint.post("/tokens/<int:token_id>/revoke")
@role_required("coordinator", "analyst")
def revoke(token_id: int):
    if not RevokeForm().validate_on_submit():
        abort(400)
    with _db().session() as session:
        token = session.get(m.ApiToken, token_id)
        # someone else's token is "not found", even within the organisation
        if token is None or token.user_id != current_user.id:
            abort(404)
        if token.revoked_at is None:
            token.revoked_at = current_app.extensions["heard"].clock.now()
            audit(
                session,
                organisation_id=current_user.organisation_id,
                user_id=current_user.id,
                action="token.revoke",
                target=token.name,
            )
    flash(_("Token revoked."))
    return redirect(url_for(".index"))
