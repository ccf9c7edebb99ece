"""Commitments: re-poll plans, rounds, verdicts, trend, feedback."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from bot import commitments, feedback, verdicts
from bot.polls import definition_of
from storage import models as m

HELD = date(2026, 1, 5)


@pytest.fixture
def commitment(db, organisation):
    """Due 2026-02-16, every 14 days from 2026-01-19, until 8 weeks after due."""
    with db.session() as session:
        dialogue = commitments.add_dialogue(
            session,
            organisation.id,
            title="Water dialogue",
            held_on=HELD,
            place="Ngiluni school",
            officials=["County water officer"],
        )
        return commitments.add_commitment(
            session,
            dialogue_id=dialogue.id,
            duty_bearer="County water office",
            description="Rehabilitate the Ngiluni borehole",
            short_name={"en": "the borehole repair", "sw": "ukarabati wa kisima"},
            due_on=date(2026, 2, 16),
            audience={"villages": ["Ngiluni"]},
        )  # fmt: skip


def plan(db, commitment_id) -> m.RepollPlan:
    with db.session() as session:
        return commitments.plan_of(session, commitment_id)


def rounds(db, commitment_id) -> list[m.RepollRound]:
    with db.session() as session:
        return commitments.rounds_of(session, commitment_id)


def test_two_week_cadence_over_three_months(db, commitment, organisation):
    row = plan(db, commitment.id)
    with db.session() as session:
        org = session.get(m.Organisation, organisation.id)
        times = commitments.plan_rounds(session.get(m.RepollPlan, row.id), org)
    days = [date(2026, 1, 19) + timedelta(days=14 * i) for i in range(7)]
    # 10:00 in Nairobi is 07:00 UTC; the last round is 2026-04-13, 8 weeks after due.
    assert times == [datetime.combine(d, time(7, 0)) for d in days]


def test_repoll_poll_is_created_in_three_languages(db, commitment):
    with db.session() as session:
        definition = definition_of(session, plan(db, commitment.id).poll_version_id)
    done, comment = definition.questions
    assert definition.key == f"commitment-{commitment.id}"
    assert done.prompt["en"] == "Has the borehole repair been done?"
    assert done.prompt["sw"] == "Je, ukarabati wa kisima imefanyika?"
    assert "fr" in done.prompt
    assert [c.value for c in done.choices] == ["yes", "partly", "no", "dont_know"]
    assert comment.type == "text" and comment.required is False


def test_quiet_hours_move_a_round_to_the_next_allowed_time(db, organisation):
    with db.session() as session:
        dialogue = commitments.add_dialogue(session, organisation.id, title="D", held_on=HELD)
        late = commitments.add_commitment(
            session, dialogue_id=dialogue.id, duty_bearer="Ward", description="Fix the road",
            short_name={"en": "the road"}, due_on=date(2026, 1, 26),
            audience={"villages": ["Ngiluni"]}, weeks_after_due=0, every_days=7,
            send_at=time(22, 30),
        )  # fmt: skip
        times = commitments.plan_rounds(commitments.plan_of(session, late.id))
    # 22:30 in Nairobi is quiet (21:00-07:00): the round waits for 07:00 the next morning.
    assert times == [datetime(2026, 1, 13, 4, 0), datetime(2026, 1, 20, 4, 0),
                     datetime(2026, 1, 27, 4, 0)]  # fmt: skip


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"yes": 6, "no": 2, "partly": 1, "dont_know": 1}, "delivered"),
        ({"yes": 1, "no": 7, "partly": 1, "dont_know": 1}, "not_delivered"),
        ({"yes": 3, "no": 4, "partly": 3, "dont_know": 0}, "partly"),
        ({"yes": 2, "no": 2, "partly": 0, "dont_know": 6}, "unclear"),
        ({"yes": 4, "no": 0, "partly": 0, "dont_know": 0}, "unclear"),  # fewer than 5
    ],
)
def test_verdict_thresholds(counts, expected):
    tally = verdicts.Tally(counts, sum(counts.values()), 20)
    assert verdicts.verdict(tally) == expected


def test_commitment_thresholds_override_the_defaults(commitment):
    commitment.thresholds = {"delivered": 0.9, "min_responses": 2}
    limits = verdicts.thresholds_for(commitment)
    tally = verdicts.Tally({"yes": 7, "no": 3}, 10, 10)
    assert verdicts.verdict(tally, limits) == "partly"  # 70% yes is not 90%
    assert verdicts.verdict(verdicts.Tally({"yes": 2}, 2, 2), limits) == "delivered"


def sessions_of_round(db, round_id) -> dict[int, int]:
    """participant id → session id of the round's launch"""
    with db.session() as session:
        rows = session.execute(
            sa.select(m.ConversationSession.participant_id, m.ConversationSession.id)
            .join(m.Launch, m.Launch.id == m.ConversationSession.launch_id)
            .where(m.Launch.repoll_round_id == round_id)
        ).all()
    return dict(rows)


def due(db, now):
    with db.session() as session:
        return commitments.due_rounds(session, now)


def test_rounds_verdicts_late_answers_and_history(db, commitment, people, answer, clock):
    ids = people(10, village="Ngiluni")
    people(3, village="Kitui")  # not concerned by this commitment
    first_time = datetime(2026, 1, 19, 7, 0)
    assert due(db, first_time - timedelta(minutes=1)) == []
    (first,) = due(db, first_time)
    assert (first.number, first.status) == (1, "running")
    assert due(db, first_time + timedelta(hours=1)) == []  # a second call launches nothing
    round1 = sessions_of_round(db, first.round_id)
    assert set(round1) == set(ids)
    # Six answer at once; one answers a week late.
    for person, value in zip(
        ids[:6], ["yes", "yes", "no", "partly", "yes", "dont_know"], strict=True
    ):
        answer(round1[person], value, first_time + timedelta(hours=2))

    (second,) = due(db, datetime(2026, 2, 2, 7, 0))
    round2 = sessions_of_round(db, second.round_id)
    with db.session() as session:
        statuses = {
            s.participant_id: s.status
            for s in session.scalars(
                sa.select(m.ConversationSession).where(
                    m.ConversationSession.id.in_(round2.values())
                )
            )
        }
    late = ids[6]
    assert statuses[late] == "queued"  # still in round 1's conversation
    answer(round1[late], "yes", datetime(2026, 2, 3, 9, 0))

    with db.session() as session:
        tally1 = verdicts.tally_round(session, first.round_id)
        tally2 = verdicts.tally_round(session, second.round_id)
    assert tally1.counts == {"yes": 4, "partly": 1, "no": 1, "dont_know": 1}
    assert (tally1.responses, tally1.reached, tally1.response_rate) == (7, 10, 0.7)
    assert tally2.responses == 0

    with db.session() as session:
        row = session.get(m.RepollRound, first.round_id)
        assert row.closes_at == datetime(2026, 2, 4, 7, 0)  # next round + 2 days' grace
        assert verdicts.close_round(session, row, row.closes_at) == "partly"  # 4/7 yes
        history = session.scalars(
            sa.select(m.CommitmentStatusEvent)
            .where(m.CommitmentStatusEvent.commitment_id == commitment.id)
            .order_by(m.CommitmentStatusEvent.id)
        ).all()
        current = session.get(m.Commitment, commitment.id)
    assert current.status == "partly"
    assert [(e.status, e.source) for e in history] == [
        ("open", "coordinator"),
        ("partly", "repoll"),
    ]


def test_trend_direction():
    def s(score):
        return verdicts.RoundSummary(1, datetime(2026, 1, 1), "closed", None, 9, 0.5, None, score)

    assert verdicts.direction([s(0.2), s(0.5)]) == "improving"
    assert verdicts.direction([s(0.5), s(0.2)]) == "worsening"
    assert verdicts.direction([s(0.5), s(0.52)]) == "flat"
    assert verdicts.direction([s(0.5), s(None)]) == "flat"  # too few answers to compare
    assert verdicts.direction([]) == "flat"


def test_feedback_goes_once_to_respondents_in_their_language(db, commitment, people, answer):
    ids = people(6, village="Ngiluni", language="sw") + people(2, village="Ngiluni")
    (first,) = due(db, datetime(2026, 1, 19, 7, 0))
    sessions = sessions_of_round(db, first.round_id)
    for person in ids[:5]:
        answer(sessions[person], "yes", datetime(2026, 1, 19, 8, 0))
    answer(sessions[ids[6]], "no", datetime(2026, 1, 19, 8, 0))
    closing = datetime(2026, 2, 4, 7, 0)
    with db.session() as session:
        row = session.get(m.RepollRound, first.round_id)
        verdicts.close_round(session, row, closing)
        feedback.prepare(session, row)
        # 5 of 6 said done: "83%" beside the scorecard's 6 responses would give the one
        # who did not away, so the draft thanks without a share
        assert row.feedback_text["en"] == "Thank you for your answers about the borehole repair!"
        assert row.feedback_text["sw"].startswith(
            "Asante kwa majibu yenu kuhusu ukarabati wa kisima"
        )
        feedback.set_feedback_text(
            session, row, {"en": "5 of 6 say the borehole is fixed. Thanks!",
                           "sw": "Wengi wanasema kisima kimekarabatiwa. Asante!"}
        )  # fmt: skip
        assert feedback.send_feedback(session, row, closing) == 6
        assert feedback.send_feedback(session, row, closing) == 0
        with pytest.raises(feedback.FeedbackError):
            feedback.set_feedback_text(session, row, {"en": "too late"})
        sent = session.execute(
            sa.select(m.OutboundMessage.participant_id, m.OutboundMessage.text).where(
                m.OutboundMessage.launch_id.is_(None)
            )
        ).all()
    texts = dict(sent)
    assert set(texts) == {*ids[:5], ids[6]}  # respondents only
    assert texts[ids[0]].startswith("Wengi wanasema")
    assert texts[ids[6]] == "5 of 6 say the borehole is fixed. Thanks!"


def test_overdue(commitment):
    assert commitments.is_overdue(commitment, date(2026, 2, 17))
    assert not commitments.is_overdue(commitment, date(2026, 2, 16))
    commitment.status = "delivered"
    assert not commitments.is_overdue(commitment, date(2026, 3, 1))


def test_set_status_keeps_history_and_rejects_unknown(db, commitment):
    with db.session() as session:
        row = session.get(m.Commitment, commitment.id)
        assert commitments.set_status(session, row, "cancelled", None, "budget cut")
        assert not commitments.set_status(session, row, "cancelled")
        with pytest.raises(commitments.CommitmentError):
            commitments.set_status(session, row, "finished")
        assert commitments.plan_of(session, row.id).active is False
