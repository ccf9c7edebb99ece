"""Poll results back to the community: the draft's numbers, small-cell suppression, and a
send that reaches respondents only, once, outside quiet hours."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from bot import poll_feedback
from bot.flows.poll_format import load_poll
from bot.polls import save_poll
from storage import models as m
from tests.admin.polls_seed import seed_answers, seed_participants

QUESTION = "Is the water point working?"


def _poll(session, organisation_id: int, key: str = "water-point") -> m.Poll:
    return session.get(m.Poll, poll_id_in(session, organisation_id, key))


def poll_id_in(session, organisation_id: int, key: str) -> int:
    return session.scalar(
        sa.select(m.Poll.id).where(m.Poll.organisation_id == organisation_id, m.Poll.key == key)
    )


def _answered(db, organisation, yes: int, no: int, start: int = 0, **profile) -> list[int]:
    people = seed_participants(db, organisation.id, yes + no, start=start, **profile)
    seed_answers(db, organisation.id, "water-point", people[:yes], {"works": "yes"})
    seed_answers(db, organisation.id, "water-point", people[yes:], {"works": "no"})
    return people


def test_draft_gives_the_top_answer_share_and_count_in_each_language(db, organisation):
    _answered(db, organisation, yes=10, no=5)
    with db.session() as session:
        texts = poll_feedback.draft_texts(session, _poll(session, organisation.id))
    assert texts["en"] == (
        f'Ngiluni Voices: thank you! 15 people answered "{QUESTION}" and 67% of you said Yes.'
    )
    assert '"Je, kisima kinafanya kazi?"' in texts["sw"]
    assert "67%" in texts["sw"] and "Ndiyo" in texts["sw"] and "Watu 15" in texts["sw"]


def test_a_majority_for_no_is_reported_as_no(db, organisation):
    _answered(db, organisation, yes=5, no=12)
    with db.session() as session:
        text = poll_feedback.draft_summary(session, _poll(session, organisation.id), "en")
    assert text.endswith('17 people answered "Is the water point working?" and 71% of you said No.')


@pytest.mark.parametrize(
    ("yes", "no", "expected"),
    [
        # fewer than five answers: thanks, and no number at all
        (3, 1, "Ngiluni Voices: thank you for your answers! Every voice counts."),
        (0, 0, "Ngiluni Voices: thank you for your answers! Every voice counts."),
        # seven people, but the top answer is only four of them: a count, no share
        (4, 3, "Ngiluni Voices: thank you! 7 people in your community answered our questions."),
        # "9 answered, 67% said Yes" would tell everyone that 3 did not: a count, no share
        (6, 3, "Ngiluni Voices: thank you! 9 people in your community answered our questions."),
        (3, 6, "Ngiluni Voices: thank you! 9 people in your community answered our questions."),
    ],
)
def test_small_cells_give_no_share(db, organisation, yes, no, expected):
    _answered(db, organisation, yes=yes, no=no)
    with db.session() as session:
        text = poll_feedback.draft_summary(session, _poll(session, organisation.id), "en")
    assert text == expected
    assert "%" not in text


def test_a_poll_without_a_choice_question_gets_the_count(db, organisation):
    with db.session() as session:
        save_poll(
            session,
            organisation.id,
            load_poll(
                {
                    "key": "queue",
                    "languages": ["en"],
                    "questions": [
                        {"key": "minutes", "type": "number", "prompt": {"en": "Minutes?"}}
                    ],
                }
            ),
        )
    people = seed_participants(db, organisation.id, 5)
    seed_answers(db, organisation.id, "queue", people, {"minutes": 10})
    with db.session() as session:
        text = poll_feedback.draft_summary(session, _poll(session, organisation.id, "queue"), "en")
    assert text == "Ngiluni Voices: thank you! 5 people in your community answered our questions."


def test_multi_choice_share_is_of_people_not_of_ticks(db, organisation):
    with db.session() as session:
        save_poll(
            session,
            organisation.id,
            load_poll(
                {
                    "key": "needs",
                    "languages": ["en"],
                    "questions": [
                        {
                            "key": "needs",
                            "type": "multi_choice",
                            "prompt": {"en": "What is needed?"},
                            "choices": [
                                {"value": "water", "label": {"en": "Water"}},
                                {"value": "roads", "label": {"en": "Roads"}},
                            ],
                        }
                    ],
                }
            ),
        )
    people = seed_participants(db, organisation.id, 8)
    seed_answers(db, organisation.id, "needs", people[:6], {"needs": ["water", "roads"]})
    seed_answers(db, organisation.id, "needs", people[6:], {"needs": ["roads"]})
    with db.session() as session:
        text = poll_feedback.draft_summary(session, _poll(session, organisation.id, "needs"), "en")
    assert 'answered "What is needed?" and 100% of you said Roads.' in text


def test_a_launch_summary_counts_that_launch_only(db, organisation):
    people = _answered(db, organisation, yes=6, no=0)
    with db.session() as session:
        poll = _poll(session, organisation.id)
        version_id = poll.versions[-1].id
        launch = m.Launch(organisation_id=organisation.id, poll_version_id=version_id)
        session.add(launch)
        session.flush()
        # five of the six answered in this launch's sessions
        session.execute(
            sa.update(m.ConversationSession)
            .where(m.ConversationSession.participant_id.in_(people[:5]))
            .values(launch_id=launch.id)
        )
        session.flush()
        assert "5 people answered" in poll_feedback.draft_summary(session, launch, "en")
        assert "6 people answered" in poll_feedback.draft_summary(session, poll, "en")


def test_a_draft_is_saved_once_edited_and_frozen_when_sent(db, organisation, clock):
    _answered(db, organisation, yes=6, no=3)
    with db.session() as session:
        poll = _poll(session, organisation.id)
        row, created = poll_feedback.save_draft(session, poll)
        assert created and row.text["en"].startswith("Ngiluni Voices: thank you! 9 people")
        again, created = poll_feedback.save_draft(session, poll)
        assert again.id == row.id and not created
        poll_feedback.save_draft(session, poll, {"en": " Two in three say it works. ", "sw": ""})
        assert row.text == {"en": "Two in three say it works."}
        with pytest.raises(poll_feedback.SummaryError, match="480"):
            poll_feedback.save_draft(session, poll, {"en": "x" * 481})
        with pytest.raises(poll_feedback.SummaryError, match="at least one language"):
            poll_feedback.save_draft(session, poll, {"en": "  "})
        poll_feedback.send_summary(session, row, clock.now())
        with pytest.raises(poll_feedback.SummaryError, match="already sent"):
            poll_feedback.save_draft(session, poll, {"en": "too late"})


def _outbox(session) -> dict[int, m.OutboundMessage]:
    return {row.participant_id: row for row in session.scalars(sa.select(m.OutboundMessage))}


def test_send_reaches_respondents_once_in_their_language(db, organisation):
    swahili = _answered(db, organisation, yes=4, no=1, language="sw")
    english = _answered(db, organisation, yes=3, no=0, start=100, group="Men")
    silent = seed_participants(
        db, organisation.id, 2, start=200, group="Silent"
    )  # asked, never answered
    skipped = seed_participants(db, organisation.id, 1, start=300, group="Skipped")
    seed_answers(db, organisation.id, "water-point", skipped, {"works": None})
    with db.session() as session:
        session.execute(
            sa.update(m.Answer).where(m.Answer.participant_id.in_(skipped)).values(status="skipped")
        )
        stopped = session.get(m.Participant, english[0])
        stopped.status, stopped.opted_out_at = "opted_out", datetime(2026, 1, 5)
        erased = session.get(m.Participant, english[1])
        erased.status, erased.phone = "erased", None
        old_consent = session.get(m.Participant, swahili[0])
        old_consent.consent_version = 0  # consented to an older version: not reachable
    noon = datetime(2026, 1, 6, 9, 0)  # 12:00 in Nairobi
    with db.session() as session:
        poll = _poll(session, organisation.id)
        row, _ = poll_feedback.save_draft(
            session, poll, {"en": "Most of you say it works.", "sw": "Wengi wanasema kinafanya."}
        )
        by_language = poll_feedback.recipients_by_language(session, poll, row.text.keys())
        assert by_language == {"sw": 4, "en": 1}
        assert poll_feedback.send_summary(session, row, noon, user_id=None) == 5
        assert poll_feedback.send_summary(session, row, noon) == 0
        assert row.sent_at == noon and row.recipients == 5
    with db.session() as session:
        sent = _outbox(session)
        assert set(sent) == {*swahili[1:], english[2]}
        assert not set(sent) & {*silent, *skipped, english[0], english[1], swahili[0]}
        assert sent[swahili[1]].text == "Wengi wanasema kinafanya."
        assert sent[swahili[1]].language == "sw"
        assert sent[english[2]].text == "Most of you say it works."
        assert all(not r.is_reply and r.launch_id is None for r in sent.values())
        assert all(r.next_attempt_at == noon and r.status == "queued" for r in sent.values())
        events = session.scalars(
            sa.select(m.AuditEvent).where(m.AuditEvent.action == "poll.summary.sent")
        ).all()
        assert len(events) == 1 and events[0].detail["messages"] == 5
        assert events[0].target == f"poll:{_poll(session, organisation.id).id}"


def test_a_language_without_text_gets_the_default_languages(db, organisation):
    people = _answered(db, organisation, yes=5, no=0, language="sw")
    with db.session() as session:
        row, _ = poll_feedback.save_draft(
            session, _poll(session, organisation.id), {"en": "Thanks!"}
        )
        assert poll_feedback.send_summary(session, row, datetime(2026, 1, 6, 9, 0)) == 5
        assert {r.text for r in _outbox(session).values()} == {"Thanks!"}
        assert set(_outbox(session)) == set(people)


def test_quiet_hours_delay_the_summary_to_the_morning(db, organisation):
    _answered(db, organisation, yes=5, no=0)
    late = datetime(2026, 1, 6, 19, 30)  # 22:30 in Nairobi, quiet until 07:00
    with db.session() as session:
        row, _ = poll_feedback.save_draft(session, _poll(session, organisation.id))
        assert poll_feedback.send_summary(session, row, late) == 5
        times = {r.next_attempt_at for r in _outbox(session).values()}
    assert times == {datetime(2026, 1, 7, 4, 0)}  # 07:00 in Nairobi


def test_a_send_from_a_stale_session_queues_nothing(db, organisation):
    _answered(db, organisation, yes=5, no=0)
    with db.session() as session:
        row, _ = poll_feedback.save_draft(session, _poll(session, organisation.id))
        summary_id = row.id
    now = datetime(2026, 1, 6, 9, 0)
    with db.session() as first:
        assert poll_feedback.send_summary(first, first.get(m.PollSummary, summary_id), now) == 5
    with db.session() as second:  # a stale page or a retried request
        assert poll_feedback.send_summary(second, second.get(m.PollSummary, summary_id), now) == 0
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count(m.OutboundMessage.id))) == 5


def test_the_organisations_wording_of_a_summary_message_wins(db, organisation):
    _answered(db, organisation, yes=1, no=0)
    with db.session() as session:
        session.add(
            m.TextOverride(
                organisation_id=organisation.id,
                language="en",
                msgid="summary.thanks",
                text="{org} says asante sana!",
            )
        )
    with db.session() as session:
        text = poll_feedback.draft_summary(session, _poll(session, organisation.id), "en")
    assert text == "Ngiluni Voices says asante sana!"


def test_a_summary_nobody_can_receive_is_not_spent(db, organisation):
    people = _answered(db, organisation, yes=5, no=0)
    with db.session() as session:
        session.execute(
            sa.update(m.Participant).where(m.Participant.id.in_(people)).values(status="opted_out")
        )
        row, _ = poll_feedback.save_draft(session, _poll(session, organisation.id))
        with pytest.raises(poll_feedback.SummaryError, match="nobody"):
            poll_feedback.send_summary(session, row, datetime(2026, 1, 6, 9, 0))
        assert row.sent_at is None
        assert session.scalar(sa.select(sa.func.count(m.OutboundMessage.id))) == 0
