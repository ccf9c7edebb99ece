"""Logins for coordinators: hashed passwords, CSRF on every form, session cookies."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, login_user, logout_user
from flask_wtf import CSRFProtect, FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from admin.i18n import _, _l
from storage import models as m
from storage.queries import audit

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
        self.language = user.language

    def get_id(self) -> str:
        return str(self.id)


# werkzeug's default (scrypt) is deliberately slow; tests swap in a cheap method.
PASSWORD_METHOD = "scrypt"


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


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
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


# Password guessing: after this many failures for one email from one address within the
# window, even the right password is refused until the window passes.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)


def _attempt_key(email: str) -> str:
    return f"{email}|{request.remote_addr or '-'}"[:200]


def _too_many_failures(session, key: str, now) -> bool:
    failures = session.scalar(
        sa.select(sa.func.count(m.AuditEvent.id)).where(
            m.AuditEvent.action == "login.failed",
            m.AuditEvent.target == key,
            m.AuditEvent.created_at > now - FAILURE_WINDOW,
        )
    )
    return (failures or 0) >= MAX_FAILURES


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        services = current_app.extensions["heard"]
        email = form.email.data.strip().lower()
        key = _attempt_key(email)
        now = services.clock.now()
        with services.db.session() as session:
            if _too_many_failures(session, key, now):
                flash(_("Too many failed attempts: wait 15 minutes and try again."))
                return render_template("login.html", form=form), 429
            user = session.scalar(sa.select(m.User).where(m.User.email == email))
            if user and user.active and check_password_hash(user.password_hash, form.password.data):
                login_user(PanelUser(user))
                audit(
                    session,
                    organisation_id=user.organisation_id,
                    user_id=user.id,
                    action="login",
                    target=request.remote_addr or "",
                )
                return redirect(_safe_next(request.args.get("next")))
            session.add(
                m.AuditEvent(
                    organisation_id=user.organisation_id if user else None,
                    user_id=user.id if user else None,
                    action="login.failed",
                    target=key,
                    created_at=now,
                )
            )
        flash(_("Wrong email or password."))
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
