"""Whole USSD dialogues, replayed hop by hop as Africa's Talking sends them.

The poll is the same one SMS runs (the demo `water-point` poll): answers must land in the
same tables, skip logic must skip the same question, and every screen must be GSM-7
within 182 characters (the handset fixture asserts that on every hop).
"""

from __future__ import annotations

import sqlalchemy as sa

from bot import ussd
from bot.flows.poll_format import load_poll
from bot.polls import save_poll
from bot.segments import is_gsm7
from storage import models as m
from tests.ussd.conftest import PHONE, Handset


def _no_profile(db) -> None:
    with db.session() as session:
        org = session.scalar(sa.select(m.Organisation))
        org.settings = {**org.settings, "profile_questions": []}


def answers(db, phone: str = PHONE) -> dict[str, object]:
    with db.session() as session:
        rows = session.execute(
            sa.select(m.Answer.question_key, m.Answer.value)
            .join(m.Participant, m.Participant.id == m.Answer.participant_id)
            .where(m.Participant.phone == phone)
        ).all()
    return dict(rows)


def answer_count(db) -> int:
    with db.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(m.Answer))


def participant(db, phone: str = PHONE) -> m.Participant:
    with db.session() as session:
        return session.scalar(sa.select(m.Participant).where(m.Participant.phone == phone))


def test_english_newcomer_consents_answers_profile_and_poll(handset: Handset, db):
    screen = handset.dial()
    assert screen == "Choose your language:\n1 English\n2 Kiswahili"
    screen = handset.press("1")
    assert screen.startswith("Welcome to Ngiluni Voices.")
    assert screen.endswith("98 More")  # the consent text is longer than one screen
    assert participant(db).status == "pending_consent"
    consent_text = handset.page_through()
    assert "1 Yes\n2 No" in consent_text
    # Profile questions (a built-in flow the engine owns) come as numbered lines.
    screen = handset.press("1")
    assert screen.startswith("What is your gender?\n1 Woman\n2 Man")
    screen = handset.press("2")
    assert screen.startswith("How old are you?\n1 Under 18")
    handset.press("3")
    handset.press("2")
    screen = handset.press("Ngiluni")
    assert screen == "Is the water point working?\n1 Yes\n2 No"
    assert handset.press("2") == "For how many days has it been broken?"
    assert handset.press("12") == "How many minutes did you queue for water today?"
    screen = handset.press("30")
    assert handset.ended
    assert screen == "Thank you! Your answers help hold the water office to its word."

    assert answers(db) == {"works": "no", "days_broken": 12, "queue_minutes": 30}
    person = participant(db)
    assert (person.status, person.language, person.gender, person.village) == (
        "active",
        "en",
        "man",
        "Ngiluni",
    )
    with db.session() as session:
        inbound = session.scalars(sa.select(m.InboundMessage).order_by(m.InboundMessage.id)).all()
        outbox = session.scalar(sa.select(sa.func.count()).select_from(m.OutboundMessage))
    assert {row.channel for row in inbound} == {"ussd"}
    assert all(row.provider_message_id.startswith(handset.session_id) for row in inbound)
    assert outbox == 0  # USSD replies travel in the response, never as SMS


def test_swahili_dialogue_with_skip_logic(handset: Handset, db):
    _no_profile(db)
    handset.dial()
    screen = handset.press("2")
    assert screen.endswith("98 Zaidi")
    handset.page_through()
    screen = handset.press("1")
    assert screen == "Je, kisima kinafanya kazi?\n1 Ndiyo\n2 Hapana"
    # Working: "for how many days broken" is skipped, exactly as over SMS.
    assert handset.press("1") == "Ulipanga foleni kwa dakika ngapi leo kupata maji?"
    screen = handset.press("45")
    assert handset.ended and screen.startswith("Asante!")
    assert answers(db) == {"works": "yes", "queue_minutes": 45}
    assert participant(db).language == "sw"


HINDI_POLL = {
    "key": "nal",
    "languages": ["hi", "en"],
    "questions": [
        {
            "key": "works",
            "type": "yes_no",
            "prompt": {"hi": "क्या नल काम कर रहा है?", "en": "Is the tap working?"},
            "prompt_latin": {"hi": "Kya nal kaam kar raha hai?"},
        },
        {
            "key": "households",
            "type": "number",
            "min": 0,
            "max": 500,
            "prompt": {
                "hi": "कितने परिवार इस नल से पानी लेते हैं?",
                "en": "How many households use this tap?",
            },
        },
    ],
}


def _hindi_organisation(db) -> None:
    """A second organisation, reached through its own USSD code."""
    with db.session() as session:
        org = m.Organisation(
            slug="jal",
            name="Jal Sabha",
            default_region="IN",
            default_language="hi",
            languages=["hi", "en"],
            timezone="Asia/Kolkata",
            settings={"join_poll": "nal", "profile_questions": []},
        )
        session.add(org)
        session.flush()
        save_poll(session, org.id, load_poll(HINDI_POLL))
        session.add(
            m.Channel(
                organisation_id=org.id, provider="africastalking", kind="ussd", address="*123*7#"
            )
        )


def test_hindi_uses_prompt_latin_then_moves_to_sms(client, organisation, db):
    _hindi_organisation(db)
    phone = "+919812345678"
    handset = Handset(client, phone=phone, service_code="*123*7#")
    assert handset.dial() == "Apni bhasha chunein:\n1 Hindi\n2 English"
    handset.press("1")
    consent_text = handset.page_through()
    assert "1 Haan\n2 Nahin" in consent_text
    screen = handset.press("1")
    # The Latin variant, with the choices in a script the handset can show.
    assert screen == "Kya nal kaam kar raha hai?\n1 Yes\n2 No"
    screen = handset.press("1")
    # No Latin variant: never garbage on screen; the question goes by SMS instead.
    assert handset.ended
    # Told in romanised Hindi, which the handset can show, that the question comes by SMS.
    assert screen == ussd.text("sms_offer", "hi")
    assert is_gsm7(screen)
    assert answers(db, phone) == {"works": "yes"}
    with db.session() as session:
        person = session.scalar(sa.select(m.Participant).where(m.Participant.phone == phone))
        assert person.organisation.slug == "jal"
        outbox = session.scalars(sa.select(m.OutboundMessage)).all()
        live = session.scalar(
            sa.select(m.ConversationSession).where(
                m.ConversationSession.participant_id == person.id,
                m.ConversationSession.status == "active",
            )
        )
    assert person.channel == "sms"
    assert [(row.to, row.encoding, row.channel) for row in outbox] == [(phone, "UCS-2", "sms")]
    assert outbox[0].text.startswith("कितने परिवार")
    assert live.step == "households"  # the session waits for the SMS answer
    # Dialling again does not queue the same question twice.
    handset.dial()
    handset.press("1")
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(m.OutboundMessage)) == 1


def test_dropped_session_resumes_without_duplicates(handset: Handset, db):
    _no_profile(db)
    handset.dial()
    handset.press("1")
    handset.page_through()
    handset.press("1")
    handset.press("2")  # works: no
    assert answers(db) == {"works": "no"}
    # The network drops the session; the person dials again (a new sessionId).
    screen = handset.dial()
    assert screen == "You have an unfinished poll.\n1 Continue\n2 Main menu"
    assert handset.press("1") == "For how many days has it been broken?"
    handset.press("7")
    handset.press("15")
    assert handset.ended
    assert answers(db) == {"works": "no", "days_broken": 7, "queue_minutes": 15}
    assert answer_count(db) == 3


def test_resume_offers_main_menu_and_poll_stays_open(handset: Handset, db):
    _no_profile(db)
    handset.dial()
    handset.press("1")
    handset.page_through()
    handset.press("1")
    handset.press("1")  # works: yes
    handset.dial()
    menu = handset.press("2")
    assert menu.startswith("Ngiluni Voices\n1 Answer poll")
    assert handset.press("1") == "How many minutes did you queue for water today?"


def test_invalid_input_reshows_the_screen_with_a_hint(handset: Handset, db):
    _no_profile(db)
    assert handset.dial().startswith("Choose your language")
    assert handset.press("9").startswith("Invalid choice, try again.\nChoose your language")
    assert handset.press("").startswith("Invalid choice")
    handset.press("1")
    handset.page_through()
    handset.press("1")
    screen = handset.press("")  # an empty hop: nothing typed
    assert screen.startswith("Invalid choice, try again.\nIs the water point")
    screen = handset.press("7")
    assert screen == "Invalid choice, try again.\nIs the water point working?\n1 Yes\n2 No"
    handset.press("2")
    screen = handset.press("lots")
    assert screen == "Please enter a number.\nFor how many days has it been broken?"
    assert answers(db) == {"works": "no"}


def test_star_inside_an_answer_and_provider_retries(client, organisation, db):
    poll = {
        "key": "notes",
        "languages": ["en"],
        "questions": [
            {"key": "code", "type": "text", "prompt": {"en": "Type the code on the tap."}},
            {"key": "count", "type": "number", "prompt": {"en": "How many taps?"}},
        ],
    }
    with db.session() as session:
        org = session.get(m.Organisation, organisation.id)
        save_poll(session, org.id, load_poll(poll))
        org.settings = {"join_poll": "notes", "profile_questions": []}
        org.languages = ["en"]
    handset = Handset(client)
    screen = handset.dial()  # one language: straight to consent
    assert screen.startswith("Welcome to Ngiluni Voices")
    handset.page_through()
    assert handset.press("1") == "Type the code on the tap."
    assert handset.press("12*5#A") == "How many taps?"
    # A provider retry of the same hop is answered again and stored once.
    assert handset.resend() == "How many taps?"
    handset.press("3")
    assert answers(db) == {"code": "12*5#A", "count": 3}
    with db.session() as session:
        texts = session.scalars(
            sa.select(m.InboundMessage.text).order_by(m.InboundMessage.id)
        ).all()
    assert texts[-2:] == ["12*5#A", "3"]


def test_long_choice_lists_page_with_more_and_back(client, organisation, db):
    labels = [
        "Borehole at the primary school",
        "Kiosk near the chief's camp",
        "Water pan on the Kitui road",
        "Rain tank at the health centre",
        "Sand dam at Ngiluni river",
        "Shallow well behind the market",
        "Community tap at Kyamatu",
    ]
    poll = {
        "key": "sources",
        "languages": ["en"],
        "questions": [
            {
                "key": "source",
                "type": "choice",
                "prompt": {"en": "Which water source did your household use most this week?"},
                "choices": [
                    {"value": f"s{i}", "label": {"en": label}} for i, label in enumerate(labels)
                ],
            }
        ],
    }
    with db.session() as session:
        org = session.get(m.Organisation, organisation.id)
        save_poll(session, org.id, load_poll(poll))
        org.settings = {"join_poll": "sources", "profile_questions": []}
        org.languages = ["en"]
    handset = Handset(client)
    handset.dial()
    handset.page_through()
    first = handset.press("1")
    assert first.startswith("Which water source") and first.endswith("98 More")
    assert "0 Back" not in first
    second = handset.press("98")
    assert second.endswith("0 Back")
    assert handset.press("0") == first
    handset.press("98")
    # A choice on the second page is answered from there.
    number = next(line.split(" ")[0] for line in second.split("\n") if "Sand dam" in line)
    screen = handset.press(number)
    assert handset.ended and screen == "Thank you for your answers!"
    assert answers(db) == {"source": "s4"}
