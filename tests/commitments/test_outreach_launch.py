"""Launches: audience filters, bulk sessions and first messages, idempotence, pause."""

from __future__ import annotations

import time as wallclock
from datetime import datetime, time

import pytest
import sqlalchemy as sa

from bot import outreach
from bot.audience import AudienceError
from bot.polls import latest_version
from storage import models as m


def version_id(db, organisation) -> int:
    with db.session() as session:
        return latest_version(session, organisation.id, "water-point").id


def make_launch(db, organisation, audience, **kwargs) -> int:
    with db.session() as session:
        return outreach.create_launch(
            session, organisation.id, version_id(db, organisation), audience, **kwargs
        ).id


def run_launch(db, launch_id, now):
    with db.session() as session:
        return outreach.launch(session, launch_id, now)


def count(db, model, *where) -> int:
    with db.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_launch_creates_sessions_and_first_questions(db, organisation, people, clock):
    ids = people(3, language="sw")
    launch_id = make_launch(db, organisation, {})
    report = run_launch(db, launch_id, clock.now())
    assert (report.audience, report.started, report.queued) == (3, 3, 0)
    with db.session() as session:
        sessions = session.scalars(sa.select(m.ConversationSession)).all()
        messages = session.scalars(sa.select(m.OutboundMessage)).all()
        launch = session.get(m.Launch, launch_id)
        version = session.get(m.PollVersion, launch.poll_version_id)
    assert {s.participant_id for s in sessions} == set(ids)
    assert {(s.status, s.step, s.flow) for s in sessions} == {("active", "works", "poll")}
    assert all(s.state == {"answers": {}} for s in sessions)
    assert len(messages) == 3
    message = messages[0]
    assert message.text.startswith("Je, kisima kinafanya kazi?")
    assert "1 Ndiyo 2 Hapana" in message.text
    assert (message.is_reply, message.launch_id, message.status) == (False, launch_id, "queued")
    assert (message.encoding, message.segments) == ("GSM-7", 1)
    assert message.session_id in {s.id for s in sessions}
    assert launch.status == "running" and version.launched_at is not None
    # A queued row's creation is its own history's first entry: no status event yet.
    assert count(db, m.MessageStatusEvent) == 0
    assert {(r.status, r.created_at) for r in messages} == {("queued", clock.now())}


def test_launching_twice_sends_nothing_twice(db, organisation, people, clock):
    people(5)
    launch_id = make_launch(db, organisation, {})
    first = run_launch(db, launch_id, clock.now())
    clock.advance(minutes=5)
    second = run_launch(db, launch_id, clock.now())
    assert first.started == 5
    assert (second.audience, second.started, second.queued, second.already) == (5, 0, 0, 5)
    assert count(db, m.OutboundMessage) == 5
    assert count(db, m.ConversationSession) == 5
    # A person who joined since is reached by the second launch, and only they.
    people(1)
    third = run_launch(db, launch_id, clock.now())
    assert (third.started, third.already) == (1, 5)
    assert count(db, m.OutboundMessage) == 6


def test_people_in_a_conversation_are_queued_without_a_message(db, organisation, people, clock):
    busy, free = people(2)
    with db.session() as session:
        session.add(m.ConversationSession(participant_id=busy, flow="consent", status="active"))
    report = run_launch(db, make_launch(db, organisation, {}), clock.now())
    assert (report.started, report.queued) == (1, 1)
    with db.session() as session:
        queued = session.scalar(
            sa.select(m.ConversationSession).where(
                m.ConversationSession.launch_id.is_not(None),
                m.ConversationSession.participant_id == busy,
            )
        )
        recipients = session.scalars(sa.select(m.OutboundMessage.participant_id)).all()
    assert queued.status == "queued" and queued.step is None
    assert recipients == [free]


def test_nobody_unreachable_is_messaged(db, organisation, people, clock):
    (ok,) = people(1)
    people(1, status="opted_out")
    people(1, status="declined")
    people(1, status="erased", phone=None)
    people(1, status="pending_consent", consent_version=None)
    people(1, consent_version=0)  # agreed to an older consent text
    report = run_launch(db, make_launch(db, organisation, {}), clock.now())
    assert report.audience == 1
    with db.session() as session:
        assert session.scalars(sa.select(m.OutboundMessage.participant_id)).all() == [ok]


def test_audience_filters(db, organisation, people):
    (women_member,) = people(1, gender="female", village="Ngiluni", language="sw")
    (man,) = people(1, gender="male", village="Ngiluni", age_band="25-34")
    (elsewhere,) = people(1, gender="female", village="Kitui", disability="yes")
    (no_language,) = people(1, village="Kitui")
    with db.session() as session:
        group = m.Group(organisation_id=organisation.id, name="Women's Group")
        session.add(group)
        session.flush()
        session.execute(
            sa.insert(m.group_members).values(group_id=group.id, participant_id=women_member)
        )
        group_id = group.id

    def matched(audience) -> int:
        with db.session() as session:
            return outreach.audience_count(session, organisation.id, audience)

    assert matched({}) == 4
    assert matched({"villages": ["Ngiluni"]}) == 2
    assert matched({"groups": [group_id]}) == 1
    assert matched({"groups": ["Women's Group"]}) == 1
    assert matched({"groups": ["No such group"]}) == 0
    assert matched({"gender": ["female"]}) == 2
    assert matched({"gender": "female", "villages": ["Kitui"]}) == 1
    assert matched({"age_band": ["25-34"]}) == 1
    assert matched({"disability": ["yes"]}) == 1
    # No language chosen means the organisation's default (English) is theirs.
    assert matched({"languages": ["en"]}) == 3
    assert matched({"languages": ["sw"]}) == 1
    del man, elsewhere, no_language
    with db.session() as session, pytest.raises(AudienceError, match="village"):
        outreach.audience_count(session, organisation.id, {"village": ["Ngiluni"]})


def test_segment_estimate(db, organisation, people):
    people(2, language="sw")
    people(3)
    with db.session() as session:
        estimate = outreach.estimate_segments(
            session, organisation.id, version_id(db, organisation), {}
        )
    assert estimate.participants == 5
    assert estimate.by_language == {"sw": 2, "en": 3}
    assert estimate.first_message_segments == 5
    assert estimate.segments_per_person_max >= 3


def test_quiet_hours_move_outreach_to_the_morning(db, organisation, people, clock):
    # 20:30 UTC is 23:30 in Nairobi (quiet 21:00-07:00): sends wait for 07:00 local.
    clock.set(datetime(2026, 1, 5, 20, 30))
    people(1)
    (in_lima,) = people(1, timezone="America/Lima")  # 15:30 there: send now
    run_launch(db, make_launch(db, organisation, {}), clock.now())
    with db.session() as session:
        due = dict(
            session.execute(
                sa.select(m.OutboundMessage.participant_id, m.OutboundMessage.next_attempt_at)
            ).all()
        )
    assert due.pop(in_lima) == datetime(2026, 1, 5, 20, 30)
    assert list(due.values()) == [datetime(2026, 1, 6, 4, 0)]  # 07:00 EAT


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 1, 5, 10, 0), datetime(2026, 1, 5, 10, 0)),  # 13:00 local
        (datetime(2026, 1, 5, 18, 0), datetime(2026, 1, 6, 4, 0)),  # 21:00 local
        (datetime(2026, 1, 6, 1, 0), datetime(2026, 1, 6, 4, 0)),  # 04:00 local
        (datetime(2026, 1, 6, 4, 0), datetime(2026, 1, 6, 4, 0)),  # 07:00 local
    ],
)
def test_allowed_send_time(now, expected):
    assert outreach.allowed_send_time(now, "Africa/Nairobi", time(21), time(7)) == expected


def events(db, status) -> list[tuple[int, datetime]]:
    with db.session() as session:
        return sorted(
            session.execute(
                sa.select(
                    m.MessageStatusEvent.outbound_message_id, m.MessageStatusEvent.created_at
                ).where(m.MessageStatusEvent.status == status)
            ).all()
        )


def test_pause_holds_and_resume_releases(db, organisation, people, clock):
    people(4)
    launch_id = make_launch(db, organisation, {})
    run_launch(db, launch_id, clock.now())
    with db.session() as session:
        launched = session.scalars(
            sa.select(m.OutboundMessage.id)
            .where(m.OutboundMessage.launch_id == launch_id)
            .order_by(m.OutboundMessage.id)
        ).all()
        # One already went out: a pause holds only what is still waiting.
        session.get(m.OutboundMessage, launched[0]).status = "sent"
    waiting = launched[1:]
    paused_at = clock.now()
    with db.session() as session:
        assert outreach.pause_launch(session, launch_id, paused_at) == 3
    assert count(db, m.OutboundMessage, m.OutboundMessage.status == "held") == 3
    assert count(db, m.OutboundMessage, m.OutboundMessage.status == "sent") == 1
    # Each held row has its history entry, and only the rows that moved have one.
    assert events(db, "held") == [(i, paused_at) for i in waiting]
    # A paused launch launches nothing more.
    people(1)
    assert run_launch(db, launch_id, clock.now()).status == "paused"
    with db.session() as session:
        assert outreach.pause_launch(session, launch_id, paused_at) == 0  # nothing left
    with db.session() as session:
        assert outreach.resume_launch(session, launch_id, clock.now()) == 3
    assert count(db, m.OutboundMessage, m.OutboundMessage.status == "queued") == 3
    assert [i for i, _ in events(db, "queued")] == waiting
    assert len(events(db, "held")) == 3


def test_pause_leaves_other_launches_alone(db, organisation, people, clock):
    people(2, language="sw")
    people(3, language="en")
    one = make_launch(db, organisation, {"languages": ["sw"]})
    other = make_launch(db, organisation, {"languages": ["en"]})
    run_launch(db, one, clock.now())
    run_launch(db, other, clock.now())
    with db.session() as session:
        assert outreach.pause_launch(session, one, clock.now()) == 2
    outbox = m.OutboundMessage
    assert count(db, outbox, outbox.launch_id == one, outbox.status == "held") == 2
    assert count(db, outbox, outbox.launch_id == other, outbox.status == "queued") == 3
    assert len(events(db, "held")) == 2


def test_reminders_repeat_the_question_to_non_responders(db, organisation, people, clock):
    quiet, replied = people(2)
    launch_id = make_launch(db, organisation, {}, reminder_after_hours=12, max_reminders=1)
    run_launch(db, launch_id, clock.now())
    with db.session() as session:
        session.execute(
            sa.update(m.ConversationSession)
            .where(m.ConversationSession.participant_id == replied)
            .values(status="completed")
        )
    clock.advance(hours=11)
    with db.session() as session:
        assert outreach.send_reminders(session, clock.now()) == 0
    clock.advance(hours=2)
    with db.session() as session:
        assert outreach.send_reminders(session, clock.now()) == 1
    clock.advance(hours=13)
    with db.session() as session:
        assert outreach.send_reminders(session, clock.now()) == 0  # at most max_reminders
        live = session.scalar(
            sa.select(m.ConversationSession.expires_at).where(
                m.ConversationSession.participant_id == quiet
            )
        )
    assert live > clock.now()  # a reminder gives the person a full timeout to reply
    with db.session() as session:
        reminders = session.scalars(
            sa.select(m.OutboundMessage).where(m.OutboundMessage.participant_id == quiet)
        ).all()
    assert len(reminders) == 2
    assert reminders[0].text == reminders[1].text and not reminders[1].is_reply


def test_a_scheduled_launch_waits_for_its_time(db, organisation, people, services, clock):
    from bot.scheduler import due_launches

    people(2)
    make_launch(db, organisation, {}, scheduled_for=datetime(2026, 1, 6, 8, 0))
    assert due_launches(services) == 0
    clock.set(datetime(2026, 1, 6, 8, 0))
    assert due_launches(services) == 1
    assert due_launches(services) == 0
    assert count(db, m.OutboundMessage) == 2


def test_ten_thousand_participants_launch_in_seconds(db, organisation, people, clock):
    for _ in range(10):
        people(1_000)
    launch_id = make_launch(db, organisation, {})
    started = wallclock.perf_counter()
    report = run_launch(db, launch_id, clock.now())
    elapsed = wallclock.perf_counter() - started
    print(f"10,000-participant launch: {elapsed:.2f}s")
    assert report.started == 10_000
    assert count(db, m.OutboundMessage) == 10_000
    assert elapsed < 60  # a sanity bound only; the measured time is printed


def test_launch_of_another_organisations_poll_is_refused(db, organisation):
    theirs = version_id(db, organisation)
    with db.session() as session:
        other = m.Organisation(slug="other", name="Other")
        session.add(other)
        session.flush()
        with pytest.raises(LookupError):
            outreach.create_launch(session, other.id, theirs, {})


def test_ranges_mixing_busy_reached_and_new_people(db, organisation, people, clock):
    """Small ranges, each with someone busy, someone already reached and someone new:
    every person gets one session of the launch and at most one first question."""
    first_wave = people(6)
    busy = first_wave[1::3]
    with db.session() as session:
        for person in busy:
            session.add(m.ConversationSession(participant_id=person, flow="consent"))
    launch_id = make_launch(db, organisation, {})
    with db.session() as session:
        report = outreach.launch(session, launch_id, clock.now(), chunk_size=2)
    assert (report.audience, report.started, report.queued, report.already) == (6, 4, 2, 0)
    second_wave = people(3)
    with db.session() as session:
        report = outreach.launch(session, launch_id, clock.now(), chunk_size=4)
    assert (report.audience, report.started, report.queued, report.already) == (9, 3, 0, 6)
    with db.session() as session:
        sessions = session.execute(
            sa.select(m.ConversationSession.participant_id, m.ConversationSession.status).where(
                m.ConversationSession.launch_id == launch_id
            )
        ).all()
        recipients = session.scalars(sa.select(m.OutboundMessage.participant_id)).all()
    assert sorted(p for p, _ in sessions) == sorted(first_wave + second_wave)
    assert {p for p, status in sessions if status == "queued"} == set(busy)
    assert sorted(recipients) == sorted(set(first_wave + second_wave) - set(busy))


def test_each_person_gets_their_language_and_time_zone(db, organisation, people, clock):
    """Several languages and time zones in one range: each row gets its own text and
    quiet-hours send time (chosen in SQL, rendered once per language / zone)."""
    clock.set(datetime(2026, 1, 5, 19, 30))  # 22:30 in Nairobi, 20:30 in Lagos
    swahili = people(2, language="sw", timezone="Africa/Nairobi")
    english = people(2, language="en", timezone="Africa/Lagos")
    with db.session() as session:
        org = session.get(m.Organisation, organisation.id)
        org.quiet_start, org.quiet_end = time(21, 0), time(7, 0)
    run_launch(db, make_launch(db, organisation, {}), clock.now())
    with db.session() as session:
        rows = {r.participant_id: r for r in session.scalars(sa.select(m.OutboundMessage)).all()}
    for person in swahili:
        assert rows[person].text.startswith("Je, kisima kinafanya kazi?")
        assert rows[person].next_attempt_at == datetime(2026, 1, 6, 4, 0)  # 07:00 EAT
    for person in english:
        assert rows[person].language == "en" and not rows[person].text.startswith("Je,")
        assert rows[person].next_attempt_at == clock.now()  # 20:30 WAT: not quiet yet
