"""What a commitment's page shows, gathered in one place from `bot.commitments` and
`bot.verdicts`: its rounds (a running round's tally is live, a closed round's is the one its
verdict was drawn from), the trend, the plan ahead and the status history with names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import url_for
from markupsafe import Markup

from admin.charts import line_chart
from admin.i18n import _
from admin.tracker_edit import weeks_after_due
from admin.tracker_forms import threshold_values
from bot import commitments, verdicts
from bot.outreach import zone
from storage import models as m

UPCOMING = 3  # planned rounds shown ahead
ARROWS = {"improving": "↑", "worsening": "↓", "flat": "→"}


@dataclass(frozen=True)
class RoundLine:
    id: int
    number: int
    due: str
    status: str
    verdict: str | None
    counts: dict[str, int]
    responses: int
    reached: int | None
    response_rate: float | None
    live: bool  # a running round: the tally so far, no verdict yet
    feedback: bool  # a summary was written
    feedback_sent: bool


def local(moment: datetime | None, timezone: str) -> str:
    """A stored naive-UTC time as the organisation reads it."""
    if moment is None:
        return ""
    return moment.replace(tzinfo=zone("UTC")).astimezone(zone(timezone)).strftime("%Y-%m-%d %H:%M")


def group_names(session: so.Session, organisation_id: int, ids: list[Any]) -> list[str]:
    """Audiences keep group ids (a renamed group still counts); people read names."""
    numbers = [int(i) for i in ids if str(i).isdigit()]
    names = [str(i) for i in ids if not str(i).isdigit()]
    if numbers:
        names += session.scalars(
            sa.select(m.Group.name).where(
                m.Group.id.in_(numbers), m.Group.organisation_id == organisation_id
            )
        ).all()
    return names


def round_line(session: so.Session, row: m.RepollRound, timezone: str) -> RoundLine:
    live = row.status == "running"
    if live:
        tally = verdicts.tally_round(session, row.id)
        counts, responses, reached = tally.counts, tally.responses, tally.reached
        rate = tally.response_rate
    else:
        stored = row.tally or {}
        counts = dict(stored.get("counts", {}))
        responses = int(stored.get("responses", 0))
        reached = stored.get("reached")
        rate = row.response_rate
    return RoundLine(
        id=row.id,
        number=row.number,
        due=local(row.due_at, timezone),
        status=row.status,
        verdict=row.verdict,
        counts={value: int(counts.get(value, 0)) for value in verdicts.VALUES},
        responses=responses,
        reached=reached,
        response_rate=rate,
        live=live,
        feedback=bool(row.feedback_text),
        feedback_sent=row.feedback_sent_at is not None,
    )


def trend_chart(summaries: list[verdicts.RoundSummary]) -> Markup:
    points = [(f"Round {s.number}", 100 * s.score) for s in summaries if s.score is not None]
    return line_chart(
        points, title=_("Delivery score by round: yes plus half of partly, as %% of answers")
    )


def history(session: so.Session, commitment_id: int, timezone: str) -> list[dict[str, Any]]:
    rows = session.execute(
        sa.select(m.CommitmentStatusEvent, m.User)
        .outerjoin(m.User, m.User.id == m.CommitmentStatusEvent.changed_by)
        .where(m.CommitmentStatusEvent.commitment_id == commitment_id)
        .order_by(m.CommitmentStatusEvent.created_at, m.CommitmentStatusEvent.id)
    ).all()
    return [
        {
            "when": local(event.created_at, timezone),
            "status": event.status,
            "source": event.source,
            "who": (user.name or user.email) if user else "",
            "note": event.note,
        }
        for event, user in rows
    ]


def upcoming(
    plan: m.RepollPlan, organisation: m.Organisation, written: int, now: datetime
) -> list[str]:
    if not plan.active:
        return []
    schedule = commitments.plan_rounds(plan, organisation)
    ahead = [at for number, at in enumerate(schedule, 1) if number > written and at > now]
    return [local(at, organisation.timezone) for at in ahead[:UPCOMING]]


def commitment_context(session: so.Session, row: m.Commitment, now: datetime) -> dict[str, Any]:
    organisation = session.get(m.Organisation, row.organisation_id)
    timezone = organisation.timezone
    plan = commitments.plan_of(session, row.id)
    rounds = commitments.rounds_of(session, row.id)
    summaries = verdicts.trend(session, row)
    direction = verdicts.direction(summaries)
    names = dict(row.short_name or {})
    written = max((r.number for r in rounds), default=0)
    return {
        "commitment": row,
        "dialogue": row.dialogue,
        "organisation": organisation,
        "name": names.get(organisation.default_language)
        or next(iter(names.values()), row.description),
        "names": names,
        "overdue": commitments.is_overdue(row, commitments.local_today(organisation, now)),
        "plan": plan,
        "weeks_after_due": weeks_after_due(row, plan) if plan else 0,
        "groups": group_names(session, row.organisation_id, (row.audience or {}).get("groups", [])),
        "rounds": [round_line(session, r, timezone) for r in rounds],
        "upcoming": upcoming(plan, organisation, written, now) if plan else [],
        "chart": trend_chart(summaries),
        "direction": direction,
        "arrow": ARROWS[direction],
        "history": history(session, row.id, timezone),
        "thresholds": threshold_values(verdicts.thresholds_for(row)),
        "statuses": commitments.STATUSES,
        "scorecard_url": url_for("scorecard.page", slug=organisation.slug),
    }
