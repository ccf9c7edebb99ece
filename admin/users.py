"""The owner's page for the organisation's people: invite, change roles, deactivate.

Every role change is audited: who may see phone numbers is exactly what an auditor asks
about after a leak. An owner cannot demote or deactivate themself, so an organisation is
never left without one.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from admin.access import OWNER, current_organisation_id, get_owned, role_required
from admin.auth import ROLES, create_user
from admin.i18n import _, _l
from admin.labels import label
from storage import models as m
from storage.queries import audit

blueprint = Blueprint("users", __name__, template_folder="templates")

ROLE_LABELS = {"owner": _l("Owner"), "coordinator": _l("Coordinator"), "analyst": _l("Analyst")}
ROLE_CHOICES = [SelectChoice(role, ROLE_LABELS[role]) for role in ROLES]


class InviteForm(FlaskForm):
    email = EmailField(
        _l("Email"),
        validators=[
            DataRequired(),
            Length(max=254),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Not an email address.")),
        ],
    )
    name = StringField(_l("Name"), validators=[Length(max=200)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="coordinator")


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class ActiveForm(FlaskForm):
    """Only a button; the form exists for its CSRF token."""


def _db():
    return current_app.extensions["heard"].db


@blueprint.route("/users", methods=["GET", "POST"])
@role_required(OWNER)
def index():
    form = InviteForm()
    status = 200
    password = None
    if form.is_submitted():
        password, status = _invite(form)
    with _db().session() as session:
        users = session.scalars(
            sa.select(m.User)
            .where(m.User.organisation_id == current_organisation_id())
            .order_by(m.User.email)
        ).all()
    return render_template(
        "people/users.html",
        users=users,
        form=form,
        password=password,
        roles=ROLE_CHOICES,
        active_form=ActiveForm(),
    ), status


def _invite(form: InviteForm) -> tuple[str | None, int]:
    """Create the user with a one-time password shown once to the owner to pass on."""
    if not form.validate():
        return None, 400
    email = form.email.data.strip().lower()
    password = secrets.token_urlsafe(12)
    with _db().session() as session:
        if session.scalar(sa.select(m.User.id).where(m.User.email == email)) is not None:
            form.email.errors.append("A user with this email already exists.")
            return None, 400
        user = create_user(
            session,
            organisation_id=current_organisation_id(),
            email=email,
            password=password,
            role=form.role.data,
            name=form.name.data or "",
        )
        audit(
            session,
            organisation_id=user.organisation_id,
            user_id=current_user.id,
            action="user.create",
            target=email,
            detail={"role": user.role},
        )
    flash(
        _(
            "%(email)s can now log in as %(role)s with the password shown below.",
            email=email,
            role=label(form.role.data, "role"),
        )
    )
    return password, 201


@blueprint.post("/users/<int:user_id>/role")
@role_required(OWNER)
def change_role(user_id: int):
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    with _db().session() as session:
        user = get_owned(session, m.User, user_id)
        if user.id == current_user.id:
            flash(_("You cannot change your own role; ask another owner."))
            return redirect(url_for(".index"))
        before = user.role
        if before != form.role.data:
            user.role = form.role.data
            audit(
                session,
                organisation_id=user.organisation_id,
                user_id=current_user.id,
                action="user.role",
                target=user.email,
                detail={"from": before, "to": user.role},
            )
            flash(_("%(email)s is now %(role)s.", email=user.email, role=user.role))
    return redirect(url_for(".index"))


@blueprint.post("/users/<int:user_id>/active")
@role_required(OWNER)
def toggle_active(user_id: int):
    if not ActiveForm().validate_on_submit():
        abort(400)
    with _db().session() as session:
        user = get_owned(session, m.User, user_id)
        if user.id == current_user.id:
            flash(_("You cannot deactivate yourself."))
            return redirect(url_for(".index"))
        user.active = not user.active
        if not user.active:
            # a deactivated user's API tokens stop working with them
            for token in session.scalars(
                sa.select(m.ApiToken).where(
                    m.ApiToken.user_id == user.id, m.ApiToken.revoked_at.is_(None)
                )
            ):
                token.revoked_at = current_app.extensions["heard"].clock.now()
        audit(
            session,
            organisation_id=user.organisation_id,
            user_id=current_user.id,
            action="user.activate" if user.active else "user.deactivate",
            target=user.email,
        )
        flash(
            _("%(email)s is now active.", email=user.email)
            if user.active
            else _("%(email)s is now deactivated.", email=user.email)
        )
    return redirect(url_for(".index"))
