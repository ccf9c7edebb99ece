"""Changing a recorded dialogue or commitment without rewriting what already happened.

`bot.commitments` records dialogues and commitments; coordinators also correct them (a
misspelt official, a new due date, a slower cadence). The rule is the one its rounds keep:
a change reaches only the future. Rounds already written keep their number, due time,
tally and verdict; a new cadence counts on from the last round sent; a new short name
makes a new version of the re-poll poll, so earlier answers keep the wording they answered.

These functions take no Flask objects; they belong next to `bot.commitments` and are here
only until that module grows its own edit functions.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy.orm as so

from admin.tracker_forms import CommitmentInput, DialogueInput
from bot import audience as audiences
from bot.commitments import (
    CommitmentError,
    plan_of,
    repoll_definition,
    rounds_of,
    set_status,
)
from bot.polls import definition_of, save_poll
from storage import models as m


def update_dialogue(db: so.Session, dialogue: m.Dialogue, data: DialogueInput) -> list[str]:
    """Apply the form; the names of the fields that changed (for the audit log)."""
    new = {
        "title": data.title,
        "held_on": data.held_on,
        "place": data.place,
        "officials": list(data.officials),
        "notes": data.notes,
    }
    changed = [name for name, value in new.items() if getattr(dialogue, name) != value]
    for name in changed:
        setattr(dialogue, name, new[name])
    db.flush()
    return changed


def update_commitment(db: so.Session, commitment: m.Commitment, data: CommitmentInput) -> list[str]:
    """Apply the form to the commitment and its plan; the names of what changed."""
    plan = plan_of(db, commitment.id)
    if plan is None:
        raise CommitmentError("this commitment has no re-poll plan to change")
    audience = audiences.validate(data.audience)
    if not audience:
        raise CommitmentError("a commitment needs an audience (groups, villages, ...)")
    changed = _set_fields(
        commitment,
        duty_bearer=data.duty_bearer,
        description=data.description,
        due_on=data.due_on,
        audience=audience,
    )
    if dict(commitment.short_name or {}) != data.short_name:
        commitment.short_name = dict(data.short_name)
        _new_question(db, commitment, plan)
        changed.append("short_name")
    changed += _replan(db, commitment, plan, data)
    db.flush()
    return changed


def _set_fields(row, **values) -> list[str]:
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, values[name])
    return changed


def _new_question(db: so.Session, commitment: m.Commitment, plan: m.RepollPlan) -> None:
    definition = repoll_definition(commitment.id, commitment.short_name)
    if plan.poll_version_id is not None and definition_of(db, plan.poll_version_id) == definition:
        return
    # save_poll replaces an unlaunched version in place; the plan must let go of it first.
    plan.poll_version_id = None
    db.flush()
    plan.poll_version_id = save_poll(db, commitment.organisation_id, definition).id


def _replan(
    db: so.Session, commitment: m.Commitment, plan: m.RepollPlan, data: CommitmentInput
) -> list[str]:
    sent = rounds_of(db, commitment.id)
    starts_on = plan.starts_on
    if sent and data.every_days != plan.every_days:
        # Keep the last written round where it was and count the new cadence on from it.
        last = max(r.number for r in sent)
        last_day = plan.starts_on + timedelta(days=plan.every_days * (last - 1))
        starts_on = last_day - timedelta(days=data.every_days * (last - 1))
    elif not sent and data.starts_on is not None:
        starts_on = data.starts_on
    ends_on = data.due_on + timedelta(weeks=data.weeks_after_due)
    if not sent and ends_on < starts_on:
        raise CommitmentError("the re-polls would end before they start")
    return _set_fields(
        plan,
        every_days=data.every_days,
        starts_on=starts_on,
        ends_on=ends_on,
        send_at=data.send_at,
    )


def weeks_after_due(commitment: m.Commitment, plan: m.RepollPlan) -> int:
    """The plan stores its last day; the form speaks of weeks after the due date."""
    if commitment.due_on is None:
        return 0
    return max(0, (plan.ends_on - commitment.due_on).days // 7)


def change_status(
    db: so.Session, commitment: m.Commitment, status: str, user_id: int, note: str
) -> bool:
    """`set_status`, and re-polls resume when a cancelled commitment is reopened."""
    was_cancelled = commitment.status == "cancelled"
    if not set_status(db, commitment, status, user_id, note, source="coordinator"):
        return False
    plan = plan_of(db, commitment.id)
    if was_cancelled and plan is not None:
        plan.active = True
    db.flush()
    return True
