"""The panel's pages."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template
from flask_login import current_user, login_required

from storage import models as m

blueprint = Blueprint(
    "admin",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/admin",
)


@blueprint.get("/")
@login_required
def dashboard():
    organisation_id = current_user.organisation_id
    with current_app.extensions["heard"].db.session() as session:
        polls = session.scalars(
            sa.select(m.Poll).where(m.Poll.organisation_id == organisation_id).order_by(m.Poll.key)
        ).all()
        counts = dict(
            session.execute(
                sa.select(m.Participant.status, sa.func.count())
                .where(m.Participant.organisation_id == organisation_id)
                .group_by(m.Participant.status)
            ).all()
        )
        answers = session.scalar(
            sa.select(sa.func.count(m.Answer.id))
            .join(m.Participant, m.Participant.id == m.Answer.participant_id)
            .where(m.Participant.organisation_id == organisation_id)
        )
        organisation = session.get(m.Organisation, organisation_id)
    return render_template(
        "dashboard.html", polls=polls, counts=counts, answers=answers, organisation=organisation
    )
