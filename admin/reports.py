"""The citizen-data report: one printable page per poll, for the community and officials.

HTML that prints cleanly to PDF (the browser's own "Save as PDF"), so there is no PDF
library to install and the report is the same on a phone as on paper. It carries what the
Copenhagen Framework on Citizen Data asks of published citizen data: the method and its
metadata (who collected it, when, from how many, in which languages, under which consent),
its limitations, disaggregation with small cells suppressed, and the SDG indicators the
questions inform.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template

from admin import tally
from admin.access import ANALYST, COORDINATOR, role_required
from admin.polls import poll_or_404
from admin.results import build, masked
from storage import models as m

blueprint = Blueprint("reports", __name__, template_folder="templates")

# Names of the SDG indicators Heard's polls most often inform (UN global indicator
# framework); any other tag is shown by its number alone.
SDG_INDICATORS = {
    "1.4.1": "Population living in households with access to basic services",
    "3.8.1": "Coverage of essential health services",
    "4.1.1": "Children and young people achieving minimum proficiency in reading and mathematics",
    "5.5.1": "Proportion of seats held by women in national parliaments and local governments",
    "6.1.1": "Population using safely managed drinking water services",
    "6.2.1": "Population using safely managed sanitation services and hand-washing facilities",
    "6.b.1": "Local units with policies for community participation in water management",
    "7.1.1": "Population with access to electricity",
    "11.1.1": "Urban population living in slums, informal settlements or inadequate housing",
    "15.1.1": "Forest area as a proportion of total land area",
    "15.2.1": "Progress towards sustainable forest management",
    "16.6.2": "Population satisfied with their last experience of public services",
    "16.7.2": "Population who believe decision-making is inclusive and responsive",
    "17.18.1": "Statistical capacity indicator for SDG monitoring",
}


def sdg_tags(questions: list[dict]) -> list[tuple[str, str, list[str]]]:
    found: dict[str, list[str]] = {}
    for item in questions:
        for tag in item["question"].sdg:
            found.setdefault(tag, []).append(item["question"].key)
    return [(tag, SDG_INDICATORS.get(tag, ""), keys) for tag, keys in sorted(found.items())]


@blueprint.get("/polls/<int:poll_id>/report")
@role_required(COORDINATOR, ANALYST)
def poll(poll_id: int):
    services = current_app.extensions["heard"]
    with services.db.session() as session:
        found = poll_or_404(session, poll_id)
        data = build(session, found)
        if data is None:
            abort(404)
        organisation = session.get(m.Organisation, found.organisation_id)
        launches = session.scalars(
            sa.select(m.Launch)
            .join(m.PollVersion, m.PollVersion.id == m.Launch.poll_version_id)
            .where(m.PollVersion.poll_id == found.id)
            .order_by(m.Launch.id)
        ).all()
        channels = sorted(
            set(
                session.scalars(
                    sa.select(m.ConversationSession.channel)
                    .join(m.PollVersion, m.PollVersion.id == m.ConversationSession.poll_version_id)
                    .where(m.PollVersion.poll_id == found.id)
                    .distinct()
                )
            )
        )
        creators = sorted(
            {
                user.name or user.email
                for user in session.scalars(
                    sa.select(m.User).where(
                        m.User.id.in_([x.created_by for x in launches if x.created_by])
                    )
                )
            }
        )
        return render_template(
            "report_poll.html",
            poll=found,
            organisation=organisation,
            launches=launches,
            channels=channels,
            creators=creators,
            sdgs=sdg_tags(data["questions"]),
            generated_at=services.clock.now(),
            masked=masked,
            min_cell=tally.MIN_CELL,
            **data,
        )
