"""Feeding a round's result back to the people who answered it.

The Copenhagen Framework asks that citizen data return to the community it came from. When
a round closes, a short summary is drafted per language ("62% of you say the borehole
repair is done. Thank you!") from the `feedback.*` system messages of `bot.texts`, so it
is translated in the catalogs and an organisation can reword it once for every round; the
draft is stored on the round, where coordinators may still edit it. The
scheduler sends it `FEEDBACK_DELAY` after the round closed, so there is time for that; it
goes once, to the round's respondents only, as outreach (quiet hours apply).

Fewer than `MIN_SHOWN` answers give no percentage: with three respondents a share says
too much about each of them. Nor does a share that, with the number of responses the
public scorecard shows, gives away a small group ("83%" of 6 leaves one who did not say
done): the complementary suppression of `admin.tally` and `admin.scorecard`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from bot.commitments import DONE_KEY, commitment_of_round
from bot.flows.poll_format import localised
from bot.outreach import outreach_values
from bot.texts import Texts
from storage import models as m
from storage import queries

FEEDBACK_DELAY = timedelta(hours=24)
MIN_SHOWN = 5
MAX_LENGTH = 480  # three GSM-7 segments; a summary longer than that is a letter


class FeedbackError(ValueError):
    pass


def draft(db: so.Session, round_row: m.RepollRound) -> dict[str, str]:
    """The default summary in every language the commitment or organisation speaks."""
    commitment = commitment_of_round(db, round_row)
    organisation = db.get(m.Organisation, commitment.organisation_id)
    names = commitment.short_name or {"en": commitment.description}
    languages = list(dict.fromkeys([*(organisation.languages or []), *names, "en"]))
    tally = round_row.tally or {}
    responses = int(tally.get("responses", 0))
    yes = int(tally.get("counts", {}).get("yes", 0))
    # The organisation's own wording wins here as in every system message; the result is
    # still only a draft that coordinators can edit on the round.
    wording = Texts(queries.text_overrides(db, organisation.id))
    texts = {}
    for language in languages:
        name = localised(names, language, tuple(names))
        if responses >= MIN_SHOWN and not any(0 < n < MIN_SHOWN for n in (yes, responses - yes)):
            texts[language] = wording.get(
                "feedback.result",
                language,
                percent=round(100 * yes / responses),
                short_name=name,
            )
        else:
            texts[language] = wording.get("feedback.thanks", language, short_name=name)
    return texts


def prepare(db: so.Session, round_row: m.RepollRound) -> None:
    """Draft the summary once; a coordinator's edit is never overwritten."""
    if not round_row.feedback_text:
        round_row.feedback_text = draft(db, round_row)


def set_feedback_text(db: so.Session, round_row: m.RepollRound, texts: Mapping[str, str]) -> None:
    if round_row.feedback_sent_at is not None:
        raise FeedbackError("this round's feedback was already sent")
    cleaned = {k: v.strip() for k, v in texts.items() if isinstance(v, str) and v.strip()}
    if not cleaned:
        raise FeedbackError("feedback needs a text in at least one language")
    too_long = [k for k, v in cleaned.items() if len(v) > MAX_LENGTH]
    if too_long:
        raise FeedbackError(f"feedback longer than {MAX_LENGTH} characters: {', '.join(too_long)}")
    round_row.feedback_text = cleaned
    db.flush()


def send_feedback(db: so.Session, round_row: m.RepollRound, now: datetime) -> int:
    """Queue the summary to the round's respondents, once. Returns messages queued."""
    db.refresh(round_row, with_for_update=True)
    if round_row.feedback_sent_at is not None or round_row.status != "closed":
        return 0
    prepare(db, round_row)
    commitment = commitment_of_round(db, round_row)
    organisation = db.get(m.Organisation, commitment.organisation_id)
    texts = dict(round_row.feedback_text)
    order = tuple(dict.fromkeys([organisation.default_language or "en", *texts]))
    default = organisation.default_language or "en"
    values = []
    for person in db.execute(_respondents(round_row.id)):
        language = person.language or default
        values.append(
            outreach_values(
                organisation,
                person,
                localised(texts, language, order),
                language=language,
                now=now,
            )
        )
    round_row.feedback_sent_at = now
    return queries.queue_outbound(db, values)


def _respondents(round_id: int) -> sa.Select:
    launches = sa.select(m.Launch.id).where(m.Launch.repoll_round_id == round_id)
    answered = (
        sa.select(m.Answer.participant_id)
        .join(m.ConversationSession, m.ConversationSession.id == m.Answer.session_id)
        .where(
            m.ConversationSession.launch_id.in_(launches),
            m.Answer.question_key == DONE_KEY,
            m.Answer.status == "answered",
        )
    )
    people = m.Participant
    return (
        sa.select(
            people.id, people.phone, people.language, people.channel, people.provider,
            people.timezone,
        )
        .where(people.id.in_(answered), people.status == "active", people.phone.is_not(None))
        .order_by(people.id)
    )  # fmt: skip


def due_feedback(db: so.Session, now: datetime) -> list[m.RepollRound]:
    return list(
        db.scalars(
            sa.select(m.RepollRound).where(
                m.RepollRound.status == "closed",
                m.RepollRound.feedback_sent_at.is_(None),
                m.RepollRound.closes_at <= now - FEEDBACK_DELAY,
            )
        )
    )
