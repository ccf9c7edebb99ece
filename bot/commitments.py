"""Dialogue commitments and their re-poll plans.

A commitment made in a community dialogue ("County water office: rehabilitate the Ngiluni
borehole by 2025-06-30") gets a re-poll plan: every `every_days` from `starts_on` until
`weeks_after_due` weeks after the due date, the people concerned are asked "Has the
borehole repair been done? 1 Yes 2 Partly 3 No 4 Don't know".

Rounds are computed, not stored in advance, so changing a plan changes only the future.
A round's row (`RepollRound`, unique per plan and number) is written when it falls due;
that uniqueness, and launching only rounds still `planned`, make `due_rounds` safe to run
late, twice, or from a restarted scheduler. When the scheduler was down so long that two
rounds fell due, only the newest is sent and the older is recorded as `missed`: asking the
same question twice in one day helps nobody.

Send times are the plan's `send_at` in the organisation's time zone, moved out of quiet
hours, stored as naive UTC like every timestamp.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from bot import audience as audiences
from bot.flows.poll_format import ChoiceDef, PollDefinition, QuestionDef
from bot.outreach import allowed_send_time, create_launch, launch, zone
from bot.polls import save_poll
from storage import models as m

log = logging.getLogger(__name__)

STATUSES = ("open", "delivered", "partly", "not_delivered", "unclear", "cancelled")
SOURCES = ("coordinator", "repoll", "api", "cli")
DONE_KEY = "done"
COMMENT_KEY = "comment"
# Answers that arrive this long after the next round went out still count in their own
# round's stored verdict (they always count in its live tally).
LATE_GRACE = timedelta(days=2)

QUESTION = {
    "en": "Has {short_name} been done?",
    "sw": "Je, {short_name} imefanyika?",
    "fr": "{short_name} a-t-il été réalisé ?",
}
CHOICES = (
    ("yes", {"en": "Yes", "sw": "Ndiyo", "fr": "Oui"}),
    ("partly", {"en": "Partly", "sw": "Kiasi", "fr": "En partie"}),
    ("no", {"en": "No", "sw": "Hapana", "fr": "Non"}),
    ("dont_know", {"en": "Don't know", "sw": "Sijui", "fr": "Je ne sais pas"}),
)
COMMENT = {
    "en": "Anything to add? Reply with a few words, or SKIP.",
    "sw": "Una la kuongeza? Jibu kwa maneno machache, au RUKA.",
    "fr": "Autre chose a ajouter ? Repondez en quelques mots, ou PASSER.",
}
THANKS = {
    "en": "Thank you! Your answer helps hold leaders to their word.",
    "sw": "Asante! Jibu lako linasaidia viongozi kutimiza ahadi zao.",
    "fr": "Merci ! Votre reponse aide a tenir les responsables a leur parole.",
}


class CommitmentError(ValueError):
    """A commitment that cannot be recorded as given; the message says why."""


@dataclass(frozen=True)
class DueRound:
    round_id: int
    commitment_id: int
    number: int
    status: str  # running | missed
    launch_id: int | None = None


# --- dialogues and commitments ---------------------------------------------------------


def add_dialogue(
    db: so.Session,
    organisation_id: int,
    *,
    title: str,
    held_on: date,
    place: str = "",
    officials: Iterable[str] = (),
    notes: str = "",
) -> m.Dialogue:
    title = (title or "").strip()
    if not title:
        raise CommitmentError("a dialogue needs a title")
    row = m.Dialogue(
        organisation_id=organisation_id,
        title=title[:200],
        held_on=held_on,
        place=place[:200],
        officials=[o.strip() for o in officials if o and o.strip()],
        notes=notes,
    )
    db.add(row)
    db.flush()
    return row


def add_commitment(
    db: so.Session,
    *,
    dialogue_id: int,
    duty_bearer: str,
    description: str,
    short_name: Mapping[str, str],
    due_on: date | None,
    audience: Mapping[str, Any],
    every_days: int = 14,
    weeks_after_due: int = 8,
    send_at: time = time(10, 0),
    starts_on: date | None = None,
    question: Mapping[str, str] | None = None,
    thresholds: Mapping[str, Any] | None = None,
    organisation_id: int | None = None,
) -> m.Commitment:
    """Record a commitment, its re-poll poll and its plan.

    `short_name` names the promise in each language ("the Ngiluni borehole repair"); it
    fills the question unless `question` gives whole translations. The first round is
    `every_days` after the dialogue unless `starts_on` says otherwise.
    """
    dialogue = db.get(m.Dialogue, dialogue_id)
    if dialogue is None or (
        organisation_id is not None and dialogue.organisation_id != organisation_id
    ):
        raise LookupError(f"dialogue {dialogue_id} does not exist")
    names = {k: v.strip() for k, v in dict(short_name or {}).items() if v and v.strip()}
    if not names:
        raise CommitmentError("short_name needs at least one language")
    if not duty_bearer.strip() or not description.strip():
        raise CommitmentError("a commitment needs a duty bearer and a description")
    if every_days < 1 or weeks_after_due < 0:
        raise CommitmentError("every_days must be at least 1 and weeks_after_due not negative")
    cleaned = audiences.validate(audience)
    if not cleaned:
        raise CommitmentError("a commitment needs an audience (groups, villages, ...)")
    starts = starts_on or dialogue.held_on + timedelta(days=every_days)
    last_day = (due_on or starts) + timedelta(weeks=weeks_after_due)
    if last_day < starts:
        raise CommitmentError("the re-polls would end before they start")
    row = m.Commitment(
        dialogue_id=dialogue.id,
        organisation_id=dialogue.organisation_id,
        duty_bearer=duty_bearer.strip()[:200],
        description=description.strip(),
        short_name=names,
        due_on=due_on,
        audience=cleaned,
        status="open",
        thresholds=dict(thresholds or {}),
    )
    db.add(row)
    db.flush()
    version = save_poll(db, dialogue.organisation_id, repoll_definition(row.id, names, question))
    db.add(
        m.RepollPlan(
            commitment_id=row.id,
            poll_version_id=version.id,
            every_days=every_days,
            starts_on=starts,
            ends_on=last_day,
            send_at=send_at,
            active=True,
        )
    )
    db.add(m.CommitmentStatusEvent(commitment_id=row.id, status="open", source="coordinator"))
    db.flush()
    return row


def repoll_definition(
    commitment_id: int, short_name: Mapping[str, str], question: Mapping[str, str] | None = None
) -> PollDefinition:
    fallback = next(iter(short_name.values()))
    if question:
        prompt = dict(question)
    else:
        prompt = {
            language: template.format(short_name=short_name.get(language, fallback))
            for language, template in QUESTION.items()
        }
        for language in short_name:
            prompt.setdefault(language, QUESTION["en"].format(short_name=short_name[language]))
    prompt = {k: v[:1].upper() + v[1:] for k, v in prompt.items()}
    languages = tuple(dict.fromkeys(("en", *prompt)))
    return PollDefinition(
        key=f"commitment-{commitment_id}",
        languages=languages,
        title=dict(short_name),
        end_message=dict(THANKS),
        questions=(
            QuestionDef(
                key=DONE_KEY,
                type="choice",
                prompt=prompt,
                choices=tuple(ChoiceDef(value, dict(label)) for value, label in CHOICES),
            ),
            QuestionDef(key=COMMENT_KEY, type="text", prompt=dict(COMMENT), required=False),
        ),
    )


def plan_of(db: so.Session, commitment_id: int) -> m.RepollPlan | None:
    return db.scalar(sa.select(m.RepollPlan).where(m.RepollPlan.commitment_id == commitment_id))


def set_status(
    db: so.Session,
    commitment: m.Commitment,
    status: str,
    user_id: int | None = None,
    note: str = "",
    source: str = "coordinator",
    *,
    now: datetime | None = None,
) -> bool:
    """Change a commitment's status and keep who, when and why. False when unchanged."""
    if status not in STATUSES:
        raise CommitmentError(f"status must be one of {', '.join(STATUSES)}")
    if commitment.status == status:
        return False
    commitment.status = status
    event = m.CommitmentStatusEvent(
        commitment_id=commitment.id, status=status, changed_by=user_id, source=source, note=note
    )
    if now is not None:
        event.created_at = now
    db.add(event)
    if status == "cancelled":
        plan = plan_of(db, commitment.id)
        if plan is not None:
            plan.active = False
    db.flush()
    return True


def is_overdue(commitment: m.Commitment, today: date) -> bool:
    return (
        commitment.due_on is not None
        and commitment.due_on < today
        and commitment.status not in ("delivered", "cancelled")
    )


def local_today(organisation: m.Organisation, now_utc: datetime) -> date:
    return now_utc.replace(tzinfo=zone("UTC")).astimezone(zone(organisation.timezone)).date()


# --- rounds ---------------------------------------------------------------------------


def plan_rounds(plan: m.RepollPlan, organisation: m.Organisation | None = None) -> list[datetime]:
    """When each round goes out (naive UTC), first to last."""
    if organisation is None:
        db = so.object_session(plan)
        commitment = db.get(m.Commitment, plan.commitment_id)
        organisation = db.get(m.Organisation, commitment.organisation_id)
    tz = zone(organisation.timezone)
    times = []
    day = plan.starts_on
    while day <= plan.ends_on:
        local = datetime.combine(day, plan.send_at, tzinfo=tz)
        utc = local.astimezone(zone("UTC")).replace(tzinfo=None)
        times.append(
            allowed_send_time(
                utc, organisation.timezone, organisation.quiet_start, organisation.quiet_end
            )
        )
        day += timedelta(days=plan.every_days)
    return times


def due_rounds(db: so.Session, now: datetime) -> list[DueRound]:
    """Write and launch every round that has fallen due. Safe to call late or twice."""
    plans = db.execute(
        sa.select(m.RepollPlan, m.Commitment, m.Organisation)
        .join(m.Commitment, m.Commitment.id == m.RepollPlan.commitment_id)
        .join(m.Organisation, m.Organisation.id == m.Commitment.organisation_id)
        .where(m.RepollPlan.active.is_(True), m.Commitment.status != "cancelled")
        .order_by(m.RepollPlan.id)
    ).all()
    done: list[DueRound] = []
    for plan, commitment, organisation in plans:
        done.extend(_due_for_plan(db, plan, commitment, organisation, now))
    return done


def _due_for_plan(db, plan, commitment, organisation, now) -> list[DueRound]:
    schedule = plan_rounds(plan, organisation)
    due = [(number, at) for number, at in enumerate(schedule, start=1) if at <= now]
    if not due:
        return []
    existing = {
        r.number: r
        for r in db.scalars(
            sa.select(m.RepollRound).where(m.RepollRound.plan_id == plan.id).with_for_update()
        )
    }
    window = timedelta(days=plan.every_days)
    results = []
    newest = due[-1][0]
    for number, at in due:
        row = existing.get(number)
        if row is None:
            row = m.RepollRound(plan_id=plan.id, number=number, due_at=at, status="planned")
            try:
                with db.begin_nested():
                    db.add(row)
            except sa.exc.IntegrityError:  # another scheduler wrote it first
                continue
        if row.status != "planned":
            continue
        if number != newest:
            row.status = "missed"
            results.append(DueRound(row.id, commitment.id, number, "missed"))
            log.warning("re-poll round %s of commitment %s missed", number, commitment.id)
            continue
        results.append(_launch_round(db, plan, commitment, row, now, window))
    return results


def _launch_round(db, plan, commitment, row, now, window) -> DueRound:
    launch_row = db.scalar(sa.select(m.Launch).where(m.Launch.repoll_round_id == row.id))
    if launch_row is None:
        launch_row = create_launch(
            db,
            commitment.organisation_id,
            plan.poll_version_id,
            commitment.audience,
            scheduled_for=row.due_at,
            repoll_round_id=row.id,
            now=now,
        )
    launch(db, launch_row.id, now)
    row.status = "running"
    row.closes_at = row.due_at + window + LATE_GRACE
    return DueRound(row.id, commitment.id, row.number, "running", launch_row.id)


def rounds_of(db: so.Session, commitment_id: int) -> list[m.RepollRound]:
    return list(
        db.scalars(
            sa.select(m.RepollRound)
            .join(m.RepollPlan, m.RepollPlan.id == m.RepollRound.plan_id)
            .where(m.RepollPlan.commitment_id == commitment_id)
            .order_by(m.RepollRound.number)
        )
    )


def commitment_of_round(db: so.Session, round_row: m.RepollRound) -> m.Commitment:
    plan = db.get(m.RepollPlan, round_row.plan_id)
    return db.get(m.Commitment, plan.commitment_id)
