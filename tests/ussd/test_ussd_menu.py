"""The top menu: every item, in English and Swahili, every screen within the limits."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from storage import models as m
from tests.ussd.conftest import Handset


@pytest.fixture
def member(handset: Handset, db) -> Handset:
    """A participant who has consented and finished the demo poll, in a tree programme."""
    with db.session() as session:
        org = session.scalar(sa.select(m.Organisation))
        org.settings = {**org.settings, "profile_questions": []}
        session.add(
            m.Programme(
                organisation_id=org.id,
                key="trees",
                name={"en": "Tree planting", "sw": "Upandaji miti"},
                keywords=["trees", "miti"],
                unit={"en": "trees", "sw": "miti"},
                max_value=5000,
            )
        )
        session.add(m.Group(organisation_id=org.id, name="Ngiluni Women's Group"))
    handset.dial()
    handset.press("1")
    handset.page_through()
    handset.press("1")  # consent
    handset.press("1")  # works: yes
    handset.press("10")  # queue minutes: the poll ends
    with db.session() as session:
        person = session.scalar(sa.select(m.Participant))
        group = session.scalar(sa.select(m.Group))
        session.execute(
            m.group_members.insert().values(group_id=group.id, participant_id=person.id)
        )
    return handset


def test_menu_lists_the_default_items(member: Handset):
    assert member.dial() == (
        "Ngiluni Voices\n1 Answer poll\n2 Report progress\n3 My group's totals\n"
        "4 Language\n5 Help\n6 Stop messages"
    )
    assert member.press("1") == (
        "There is no open poll for you now. We will text you when there is."
    )
    assert member.ended


def test_report_progress_and_group_totals(member: Handset, db):
    member.dial()
    assert member.press("2") == "How many trees? Enter a number."
    assert member.press("many").startswith("Please enter a number.")
    screen = member.press("500")
    assert member.ended
    assert "500" in screen
    with db.session() as session:
        reports = session.scalars(sa.select(m.ProgressReport)).all()
    assert [(r.quantity, r.group_id is not None) for r in reports] == [(500, True)]
    member.dial()
    assert member.press("3") == "Ngiluni Women's Group: 500 trees"


def test_language_switches_the_menu_to_swahili(member: Handset, db):
    member.dial()
    assert member.press("4") == "Choose your language:\n1 English\n2 Kiswahili"
    screen = member.press("2")
    assert screen.startswith("Lugha imebadilishwa.\nNgiluni Voices\n1 Jibu kura")
    with db.session() as session:
        assert session.scalar(sa.select(m.Participant.language)) == "sw"
    assert member.press("5").startswith("Ngiluni Voices: piga nambari hii")
    assert member.ended


def test_help_then_stop_with_confirmation(member: Handset, db):
    member.dial()
    assert member.press("5").startswith("Ngiluni Voices: dial this code")
    member.dial()
    assert member.press("6") == "Stop all messages from Ngiluni Voices?\n1 Yes\n2 No"
    assert member.press("2").startswith("Ngiluni Voices\n1 Answer poll")
    member.press("6")
    screen = member.press("1")
    assert member.ended and "no more messages" in screen
    with db.session() as session:
        assert session.scalar(sa.select(m.Participant.status)) == "opted_out"
    # Dialling again after STOP offers to join again, nothing else.
    assert member.dial() == "You are not taking part in Ngiluni Voices now.\n1 Join"


def test_menu_is_configurable_per_organisation(member: Handset, db):
    with db.session() as session:
        org = session.scalar(sa.select(m.Organisation))
        org.settings = {**org.settings, "ussd_menu": ["help", "poll", "nonsense"]}
    assert member.dial() == "Ngiluni Voices\n1 Help\n2 Answer poll"


def test_a_queued_poll_starts_from_the_menu(member: Handset, db):
    with db.session() as session:
        person = session.scalar(sa.select(m.Participant))
        version = session.scalar(sa.select(m.PollVersion))
        session.add(
            m.ConversationSession(
                participant_id=person.id,
                flow="poll",
                poll_version_id=version.id,
                status="queued",
                state={},
            )
        )
    member.dial()
    assert member.press("1") == "Is the water point working?\n1 Yes\n2 No"
