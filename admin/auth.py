"""Logins for coordinators: hashed passwords, CSRF on every form, session cookies."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, login_user, logout_user
from flask_wtf import CSRFProtect, FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from storage import models as m

login_manager = LoginManager()
login_manager.login_view = "auth.login"
csrf = CSRFProtect()
blueprint = Blueprint("auth", __name__)

ROLES = ("owner", "coordinator", "analyst")


class PanelUser(UserMixin):
    """What a request knows of the logged-in user; detached from the database session."""

    def __init__(self, user: m.User):
        self.id = user.id
        self.email = user.email
        self.name = user.name
        self.role = user.role
        self.organisation_id = user.organisation_id

    def get_id(self) -> str:
        return str(self.id)


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def create_user(
    session, *, organisation_id: int, email: str, password: str, role: str, name: str = ""
) -> m.User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    user = m.User(
        organisation_id=organisation_id,
        email=email.strip().lower(),
        name=name,
        password_hash=hash_password(password),
        role=role,
    )
    session.add(user)
    session.flush()
    return user


@login_manager.user_loader
def load_user(user_id: str) -> PanelUser | None:
    if not user_id.isdigit():
        return None
    with current_app.extensions["heard"].db.session() as session:
        user = session.get(m.User, int(user_id))
        return PanelUser(user) if user is not None and user.active else None


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        with current_app.extensions["heard"].db.session() as session:
            user = session.scalar(
                sa.select(m.User).where(m.User.email == form.email.data.strip().lower())
            )
            if user and user.active and check_password_hash(user.password_hash, form.password.data):
                login_user(PanelUser(user))
                return redirect(_safe_next(request.args.get("next")))
        flash("Wrong email or password.")
    return render_template("login.html", form=form), 200 if request.method == "GET" else 401


@blueprint.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after login is a phishing tool."""
    if target and target.startswith("/") and not urlsplit(target).netloc:
        return target
    return url_for("admin.dashboard")


def init_app(app) -> None:
    login_manager.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(blueprint)
