"""Poll results: a chart per question, response over time, disaggregation by who answered,
free-text answers, and progress-report totals per group.

Every role may read results; analysts see free text with phone-like numbers masked, and no
role ever sees a cell of fewer than five people, nor one that could be worked out from the
totals shown beside it (see `admin.tally`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, abort, current_app, render_template

from admin import charts, tally
from admin.access import ANALYST, COORDINATOR, has_role, role_required
from admin.i18n import _
from admin.polls import latest, poll_or_404
from bot.flows.poll_format import CHOICE_TYPES, PollDefinition, localised
from bot.polls import definition_of
from storage import models as m

blueprint = Blueprint("results", __name__, template_folder="templates")

MAX_TEXT_ANSWERS = 200


def build(session: so.Session, poll: m.Poll) -> dict[str, Any] | None:
    """Everything the results page and the report show, computed once."""
    version = latest(session, poll)
    if version is None:
        return None
    definition = definition_of(session, version.id)
    rows = tally.load_answers(session, poll.id)
    reach = tally.reach(session, poll.id, rows)
    questions = [
        _question(definition, q, tally.for_question(rows, q.key)) for q in definition.questions
    ]
    return {
        "version": version,
        "definition": definition,
        "reach": reach,
        "questions": questions,
        "rate_chart": charts.line_chart(
            reach.cumulative_rate(), title=_("Response rate over time")
        ),
        "languages": sorted({r.language for r in rows if r.language}),
    }


def _question(defn: PollDefinition, question, rows: list[tally.AnswerRow]) -> dict[str, Any]:
    title = localised(question.prompt, defn.languages[0], defn.languages)
    item: dict[str, Any] = {"question": question, "title": title, "answers": len(rows)}
    if question.type in (*CHOICE_TYPES, "rating"):
        # The bars are the column totals of the disaggregation tables: one that would give
        # a hidden cell away is hidden with it.
        item["tables"], hidden = tally.disaggregations(question, defn, rows)
        bars = [
            charts.Bar(label, None if index in hidden else n)
            for index, (label, n) in enumerate(tally.choice_counts(question, defn, rows))
        ]
        item["chart"] = charts.bar_chart(bars, title=title)
    elif question.type == "number":
        values = tally.numbers(rows)
        item["chart"] = charts.bar_chart(
            charts.histogram_bins(values), title=_("%(title)s (histogram)", title=title)
        )
        if values:
            item["summary"] = {
                "n": len(values),
                "min": min(values),
                "max": max(values),
                "median": _median(values),
            }
    if question.type == "text":
        item["texts"] = [
            (r.value, r.language) for r in rows[-MAX_TEXT_ANSWERS:] if isinstance(r.value, str)
        ]
    elif "tables" not in item:
        item["tables"] = [tally.disaggregate(question, defn, rows, d) for d in tally.DIMENSIONS]
    return item


def _median(values: list[float]) -> float:
    from statistics import median

    return median(values)


def masked(text: str) -> str:
    return text if has_role(COORDINATOR) else tally.mask_phone_numbers(text)


@blueprint.get("/polls/<int:poll_id>/results")
@role_required(COORDINATOR, ANALYST)
def poll(poll_id: int):
    with current_app.extensions["heard"].db.session() as session:
        found = poll_or_404(session, poll_id)
        data = build(session, found)
        if data is None:
            abort(404)
        return render_template(
            "results_poll.html",
            exports=current_app.view_functions,
            poll=found,
            masked=masked,
            min_cell=tally.MIN_CELL,
            **data,
        )


def progress_totals(session: so.Session, organisation_id: int) -> list[dict[str, Any]]:
    """Per programme, each group's reported total per week and its running total."""
    report = m.ProgressReport
    rows = session.execute(
        sa.select(report.programme_id, report.group_id, report.quantity, report.created_at)
        .join(m.Programme, m.Programme.id == report.programme_id)
        .where(m.Programme.organisation_id == organisation_id)
        .order_by(report.created_at)
    ).all()
    programmes = {
        p.id: p
        for p in session.scalars(
            sa.select(m.Programme).where(m.Programme.organisation_id == organisation_id)
        )
    }
    groups = dict(
        session.execute(
            sa.select(m.Group.id, m.Group.name).where(m.Group.organisation_id == organisation_id)
        ).all()
    )
    weekly: dict[int, dict[str, dict[date, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for programme_id, group_id, quantity, created_at in rows:
        week = created_at.date() - timedelta(days=created_at.weekday())
        weekly[programme_id][groups.get(group_id, "no group")][week] += quantity
    out = []
    for programme_id, by_group in weekly.items():
        programme = programmes[programme_id]
        weeks = sorted({w for per_week in by_group.values() for w in per_week})
        table = []
        for name in sorted(by_group):
            running, cells = 0, []
            for week in weeks:
                running += by_group[name].get(week, 0)
                cells.append((by_group[name].get(week, 0), running))
            table.append((name, cells, running))
        totals = [sum(by_group[n].get(w, 0) for n in by_group) for w in weeks]
        cumulative, points = 0, []
        for week, total in zip(weeks, totals, strict=True):
            cumulative += total
            points.append((week.isoformat(), float(cumulative)))
        name = localised(programme.name, "en", ("en",)) or programme.key
        unit = localised(programme.unit, "en", ("en",)) if programme.unit else ""
        out.append(
            {
                "name": name,
                "unit": unit,
                "weeks": weeks,
                "table": table,
                "chart": charts.line_chart(
                    points, title=_("%(name)s: running total", name=name), percent=False
                ),
            }
        )
    return out


@blueprint.get("/results/progress")
@role_required(COORDINATOR, ANALYST)
def progress():
    from flask_login import current_user

    with current_app.extensions["heard"].db.session() as session:
        programmes = progress_totals(session, current_user.organisation_id)
    return render_template("results_progress.html", programmes=programmes)
