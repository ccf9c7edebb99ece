"""Progress reports at any time: counted once, for the group, thanked with running totals."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from bot.messages import Channel, InboundMessage
from storage import models as m
from tests.bot.conversation import PHONE, onboard, participant, sessions, text

GROUP = "Ngiluni Women's Group"
QUESTION = {"en": "Is the water point working?", "sw": "Je, kisima kinafanya kazi?"}


@pytest.fixture
def programme(db, organisation) -> int:
    """Trees since October 2025: the group has 17,250 so far, all groups 119,900."""
    with db.session() as session:
        trees = m.Programme(
            organisation_id=organisation.id,
            key="trees",
            name={"en": "Tree planting"},
            keywords=["TREES", "MITI"],
            unit={"en": "trees", "sw": "miti"},
            max_value=10_000,
            started_on=date(2025, 10, 1),
        )
        ours = m.Group(organisation_id=organisation.id, name=GROUP)
        theirs = m.Group(organisation_id=organisation.id, name="Kwa Vonza Youth")
        session.add_all([trees, ours, theirs])
        session.flush()
        session.add_all(
            [
                m.ProgressReport(programme_id=trees.id, group_id=ours.id, quantity=17_250),
                m.ProgressReport(programme_id=trees.id, group_id=theirs.id, quantity=102_650),
                m.Keyword(
                    organisation_id=organisation.id, word="MICHE", action="report", argument="trees"
                ),
            ]
        )
        return trees.id


def join_group(db, number: str = PHONE, name: str = GROUP) -> None:
    with db.session() as session:
        person = session.scalar(sa.select(m.Participant).where(m.Participant.phone == number))
        group = session.scalar(sa.select(m.Group).where(m.Group.name == name))
        person.groups.append(group)


def reports(db) -> list[tuple[int, str]]:
    with db.session() as session:
        rows = session.execute(
            sa.select(m.ProgressReport.quantity, m.ProgressReport.note)
            .where(m.ProgressReport.participant_id.is_not(None))
            .order_by(m.ProgressReport.id)
        ).all()
    return [(quantity, note) for quantity, note in rows]


def thanks(language: str, group_total: str, total: str, unit: str, since: str) -> str:
    return text(
        "report.thanks_group",
        language,
        group=GROUP,
        group_total=group_total,
        total=total,
        unit=unit,
        since=since,
    )


@pytest.mark.parametrize(
    ("join", "yes", "message", "quantity", "note"),
    [
        ("JOIN", "yes", "TREES 500 Ngiluni school", 500, "Ngiluni school"),
        ("JOIN", "yes", "trees: 500", 500, ""),
        ("JIUNGE", "ndiyo", "MITI 500", 500, ""),
        ("JIUNGE", "ndiyo", "miti mia tano", 500, ""),
        ("JIUNGE", "ndiyo", "Miche 500 shule ya Ngiluni", 500, "shule ya Ngiluni"),
    ],
)
def test_report_mid_poll_is_thanked_with_totals_then_the_question(
    phone, db, programme, join, yes, message, quantity, note
):
    onboard(phone, join=join, yes=yes)
    join_group(db)
    language = participant(db).language
    ack, question = phone.send(PHONE, message)
    unit = {"en": "trees", "sw": "miti"}[language]
    since = {"en": "Oct 2025", "sw": "Okt 2025"}[language]
    assert ack == thanks(language, "17,750", "120,400", unit, since)
    assert question.startswith(QUESTION[language])
    assert reports(db) == [(quantity, note)]
    with db.session() as session:
        report = session.scalar(sa.select(m.ProgressReport).order_by(m.ProgressReport.id.desc()))
        group = session.get(m.Group, report.group_id)
    assert group.name == GROUP and report.inbound_message_id is not None


def test_report_outside_a_poll_and_without_a_group(phone, db, programme):
    onboard(phone)
    phone.send(PHONE, "1")
    phone.send(PHONE, "5")  # the join poll is done
    (ack,) = phone.send(PHONE, "TREES 1,200")
    assert ack == text("report.thanks", total="121,100", unit="trees", since="Oct 2025")
    assert reports(db) == [(1200, "")]


@pytest.mark.parametrize(
    ("reply", "recorded", "closing"),
    [
        ("YES", [(50_000, "")], None),
        ("ndiyo", [(50_000, "")], None),
        ("5000", [(5_000, "")], None),
        ("no", [], "report.cancelled"),
    ],
)
def test_implausible_number_is_confirmed_first(phone, db, programme, reply, recorded, closing):
    onboard(phone)
    join_group(db)
    (confirm,) = phone.send(PHONE, "MITI 50000")
    assert confirm == text("report.confirm_large", number="50,000")
    assert reports(db) == []
    assert sessions(db)[-2:] == [("poll", "queued"), ("report_confirm", "active")]

    replies = phone.send(PHONE, reply)
    assert reports(db) == recorded
    if closing:
        assert replies[0] == text(closing)
    else:
        assert replies[0].startswith("Thank you!")
    assert replies[-1].startswith(QUESTION["en"])  # the interrupted poll resumes
    assert sessions(db)[-1] == ("report_confirm", "completed")


def test_a_still_implausible_correction_is_asked_again(phone, db, programme):
    onboard(phone)
    phone.send(PHONE, "MITI 50000")
    (again,) = phone.send(PHONE, "60000")
    assert again == text("report.confirm_large", number="60,000")
    phone.send(PHONE, "yes")
    assert reports(db) == [(60_000, "")]


def test_duplicate_delivery_counts_once(services, db, organisation, programme):
    message = InboundMessage(
        sender=PHONE,
        text="MITI 500",
        channel=Channel.SMS,
        provider="twilio",
        provider_message_id="SM" + "b" * 32,
    )
    for n, words in enumerate(["JOIN", "yes", "skip", "skip", "skip", "skip"]):
        services.engine.handle(
            InboundMessage(
                sender=PHONE,
                text=words,
                channel=Channel.SMS,
                provider="twilio",
                provider_message_id=f"SM{n:032d}",
            )
        )
    first = services.engine.handle(message)
    second = services.engine.handle(message)
    assert first.replies and second.duplicate and second.replies == []
    assert reports(db) == [(500, "")]


def test_report_before_consent_records_nothing_and_asks_consent(phone, db, programme):
    (reply,) = phone.send(PHONE, "TREES 500")
    assert reply == text("consent.request", participant(db).language)
    assert reports(db) == []


def test_a_report_word_without_a_number(phone, db, programme):
    onboard(phone)
    # Mid-poll, "trees ..." without a number is an answer attempt, not a report.
    hint, _ = phone.send(PHONE, "trees are dying")
    assert hint.startswith(text("hint.prefix"))
    phone.send(PHONE, "1")
    phone.send(PHONE, "5")
    (how,) = phone.send(PHONE, "TREES")
    assert how == text("report.how_to", keyword="TREES")
    assert reports(db) == []
