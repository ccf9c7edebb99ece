"""The public scorecard: `GET /scorecard/<organisation slug>`, no login.

It is built from aggregates only (`bot.verdicts.overviews`: statuses, verdicts, shares),
never from rows about people, so no phone number, name or free-text comment can reach it.
A share computed from fewer than `MIN_CELL` answers is suppressed: in a small village, "1
of 3 said no" points at someone. So is a share that, with the number of responses beside
it, gives away a small group ("17%" of 6 is 1 who said done, "83%" of 6 leaves 1 who did
not): the complementary suppression `admin.tally` applies to a table's totals.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

from bot import verdicts
from storage import queries

MIN_CELL = 5
ARROWS = {"improving": "↑", "worsening": "↓", "flat": "→"}

blueprint = Blueprint("scorecard", __name__, template_folder="templates")


@blueprint.get("/scorecard/<slug>")
def page(slug: str):
    services = current_app.extensions["heard"]
    with services.db.session() as session:
        organisation = queries.organisation_by_slug(session, slug)
        if organisation is None:
            abort(404)
        items = verdicts.overviews(session, organisation.id, services.clock.now())
        name = organisation.name
        language = organisation.default_language or "en"
    rows = [_row(item, language) for item in items if item.status != "cancelled"]
    return render_template("scorecard.html", organisation_name=name, rows=rows, lang=language)


def _row(item: verdicts.CommitmentOverview, language: str) -> dict:
    latest = item.latest
    enough = latest is not None and latest.responses >= MIN_CELL
    return {
        "duty_bearer": item.duty_bearer,
        "commitment": item.short_name.get(language) or item.description,
        "due_on": item.due_on.isoformat() if item.due_on else "",
        "status": item.status,
        "overdue": item.overdue,
        "rounds": item.rounds,
        "has_round": latest is not None,
        "enough": enough,
        "verdict": latest.verdict if enough else None,
        "yes_percent": round(100 * latest.yes_share)
        if enough and latest.yes_share is not None and _share_is_safe(latest)
        else None,
        "responses": latest.responses if enough else None,
        "arrow": ARROWS[item.direction],
        "direction": item.direction,
    }


def _share_is_safe(latest: verdicts.RoundSummary) -> bool:
    """Whether "said done" and "did not" are each zero or at least `MIN_CELL` people."""
    said = round(latest.yes_share * latest.responses)
    return all(not 0 < n < MIN_CELL for n in (said, latest.responses - said))
