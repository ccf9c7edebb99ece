"""The owner's audit log: every launch, export, erasure, role change and login.

Read-only and owner-only: the log is how an organisation answers "who took this data,
who could see numbers, who erased whom" (Copenhagen Framework: accountability).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request

from admin.access import OWNER, current_organisation_id, role_required
from admin.participants import page_number
from storage import models as m

blueprint = Blueprint("audit", __name__, template_folder="templates")

PER_PAGE = 100


@blueprint.get("/audit")
@role_required(OWNER)
def index():
    action = request.args.get("action", "").strip()[:64]
    query = (
        sa.select(m.AuditEvent, m.User.email)
        .outerjoin(m.User, m.User.id == m.AuditEvent.user_id)
        .where(m.AuditEvent.organisation_id == current_organisation_id())
    )
    if action:
        query = query.where(m.AuditEvent.action.startswith(action))
    page = page_number()
    with current_app.extensions["heard"].db.session() as session:
        total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
        events = session.execute(
            query.order_by(m.AuditEvent.created_at.desc(), m.AuditEvent.id.desc())
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        ).all()
        actions = session.scalars(
            sa.select(m.AuditEvent.action)
            .distinct()
            .where(m.AuditEvent.organisation_id == current_organisation_id())
            .order_by(m.AuditEvent.action)
        ).all()
    return render_template(
        "people/audit.html",
        events=events,
        action=action,
        actions=actions,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
    )
