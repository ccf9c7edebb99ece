"""What a re-poll round says: the tally of its answers, a verdict and the trend.

An answer belongs to the round whose launch opened its session (session.launch_id →
launch.repoll_round_id), never to the round that happened to be running when it arrived:
someone answering round 3's question a week late, while round 4 is out, speaks about
round 3.

Verdict rules (per commitment, `commitment.thresholds` overrides any of them):
fewer than `min_responses` answers → unclear; yes ≥ `delivered` → delivered;
no ≥ `not_delivered` → not_delivered; yes + partly ≥ `partly` → partly; else unclear.
Shares are of everyone who answered, "don't know" included: many don't-knows are a signal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from bot.commitments import DONE_KEY, commitment_of_round, set_status
from storage import models as m

DEFAULT_THRESHOLDS: dict[str, float] = {
    "delivered": 0.6,
    "not_delivered": 0.6,
    "partly": 0.5,
    "min_responses": 5,
}
VALUES = ("yes", "partly", "no", "dont_know")
# A change of the score smaller than this between two rounds is noise, not a trend.
TREND_EPSILON = 0.05


@dataclass(frozen=True)
class Tally:
    counts: dict[str, int]
    responses: int
    reached: int  # sessions the round's launch opened

    @property
    def response_rate(self) -> float | None:
        return round(self.responses / self.reached, 4) if self.reached else None

    def share(self, *values: str) -> float:
        if not self.responses:
            return 0.0
        return sum(self.counts.get(v, 0) for v in values) / self.responses

    def as_json(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "responses": self.responses, "reached": self.reached}


@dataclass(frozen=True)
class RoundSummary:
    number: int
    due_at: datetime
    status: str
    verdict: str | None
    responses: int
    response_rate: float | None
    yes_share: float | None  # None when too few answered to show it
    score: float | None  # yes + half of partly, of responses


def tally_round(db: so.Session, round_id: int) -> Tally:
    launches = sa.select(m.Launch.id).where(m.Launch.repoll_round_id == round_id)
    # JSON has no equality operator on PostgreSQL: group by its text form, decode after.
    value_text = sa.cast(m.Answer.value, sa.Text)
    rows = db.execute(
        sa.select(value_text, sa.func.count(m.Answer.id))
        .join(m.ConversationSession, m.ConversationSession.id == m.Answer.session_id)
        .where(
            m.ConversationSession.launch_id.in_(launches),
            m.Answer.question_key == DONE_KEY,
            m.Answer.status == "answered",
        )
        .group_by(value_text)
    ).all()
    counts = dict.fromkeys(VALUES, 0)
    for raw, number in rows:
        value = _decode(raw)
        if value in counts:
            counts[value] += number
    reached = db.scalar(
        sa.select(sa.func.count(m.ConversationSession.id)).where(
            m.ConversationSession.launch_id.in_(launches)
        )
    )
    return Tally(counts, sum(counts.values()), reached or 0)


def _decode(raw: str | None) -> object:
    try:
        return json.loads(raw) if raw is not None else None
    except ValueError:
        return raw


def thresholds_for(commitment: m.Commitment) -> dict[str, float]:
    merged = dict(DEFAULT_THRESHOLDS)
    for key, value in (commitment.thresholds or {}).items():
        if key in merged and isinstance(value, int | float):
            merged[key] = value
    return merged


def verdict(tally: Tally, thresholds: dict[str, float] | None = None) -> str:
    limits = thresholds or DEFAULT_THRESHOLDS
    if tally.responses < limits["min_responses"]:
        return "unclear"
    if tally.share("yes") >= limits["delivered"]:
        return "delivered"
    if tally.share("no") >= limits["not_delivered"]:
        return "not_delivered"
    if tally.share("yes", "partly") >= limits["partly"]:
        return "partly"
    return "unclear"


def close_round(db: so.Session, round_row: m.RepollRound, now: datetime) -> str:
    """Store the round's tally and verdict and move the commitment's status with it.

    A coordinator's `cancelled` stands; anything else follows the community's verdict,
    with the change in the commitment's history (source `repoll`)."""
    commitment = commitment_of_round(db, round_row)
    tally = tally_round(db, round_row.id)
    result = verdict(tally, thresholds_for(commitment))
    round_row.tally = tally.as_json()
    round_row.response_rate = tally.response_rate
    round_row.verdict = result
    round_row.status = "closed"
    for launch_row in db.scalars(
        sa.select(m.Launch).where(m.Launch.repoll_round_id == round_row.id)
    ):
        if launch_row.status == "running":
            launch_row.status = "done"
            launch_row.finished_at = now
    if commitment.status != "cancelled" and result != "unclear":
        set_status(
            db, commitment, result, note=f"round {round_row.number}", source="repoll", now=now
        )
    db.flush()
    return result


def closable_rounds(db: so.Session, now: datetime) -> list[m.RepollRound]:
    return list(
        db.scalars(
            sa.select(m.RepollRound)
            .where(m.RepollRound.status == "running", m.RepollRound.closes_at <= now)
            .order_by(m.RepollRound.closes_at, m.RepollRound.id)
        )
    )


def summary(round_row: m.RepollRound, *, min_responses: int = 5) -> RoundSummary:
    tally = round_row.tally or {}
    counts = tally.get("counts", {})
    responses = int(tally.get("responses", 0))
    shown = responses >= min_responses
    yes = counts.get("yes", 0)
    partly = counts.get("partly", 0)
    return RoundSummary(
        number=round_row.number,
        due_at=round_row.due_at,
        status=round_row.status,
        verdict=round_row.verdict,
        responses=responses,
        response_rate=round_row.response_rate,
        yes_share=round(yes / responses, 4) if shown else None,
        score=round((yes + partly / 2) / responses, 4) if shown else None,
    )


def trend(db: so.Session, commitment: m.Commitment) -> list[RoundSummary]:
    """Closed rounds, oldest first."""
    from bot.commitments import rounds_of

    minimum = int(thresholds_for(commitment)["min_responses"])
    return [
        summary(r, min_responses=minimum)
        for r in rounds_of(db, commitment.id)
        if r.status == "closed"
    ]


def direction(summaries: list[RoundSummary]) -> str:
    """improving | worsening | flat, from the last two rounds with enough answers."""
    scores = [s.score for s in summaries if s.score is not None]
    if len(scores) < 2:
        return "flat"
    change = scores[-1] - scores[-2]
    if change > TREND_EPSILON:
        return "improving"
    if change < -TREND_EPSILON:
        return "worsening"
    return "flat"


@dataclass(frozen=True)
class CommitmentOverview:
    """One line of the tracker, the scorecard and `heard commitment status`."""

    id: int
    dialogue_id: int
    duty_bearer: str
    description: str
    short_name: dict[str, str]
    due_on: date | None
    status: str
    overdue: bool
    rounds: int  # rounds sent so far
    last_verdict: str | None
    latest: RoundSummary | None
    direction: str


def overviews(db: so.Session, organisation_id: int, now: datetime) -> list[CommitmentOverview]:
    from bot.commitments import is_overdue, local_today, rounds_of

    organisation = db.get(m.Organisation, organisation_id)
    today = local_today(organisation, now)
    result = []
    rows = db.scalars(
        sa.select(m.Commitment)
        .where(m.Commitment.organisation_id == organisation_id)
        .order_by(m.Commitment.due_on, m.Commitment.id)
    )
    for commitment in rows:
        closed = trend(db, commitment)
        sent = [r for r in rounds_of(db, commitment.id) if r.status in ("running", "closed")]
        result.append(
            CommitmentOverview(
                id=commitment.id,
                dialogue_id=commitment.dialogue_id,
                duty_bearer=commitment.duty_bearer,
                description=commitment.description,
                short_name=dict(commitment.short_name or {}),
                due_on=commitment.due_on,
                status=commitment.status,
                overdue=is_overdue(commitment, today),
                rounds=len(sent),
                last_verdict=closed[-1].verdict if closed else None,
                latest=closed[-1] if closed else None,
                direction=direction(closed),
            )
        )
    return result
