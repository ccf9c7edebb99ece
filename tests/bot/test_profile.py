"""The optional profile after consent: each question skippable, stored for disaggregation."""

from __future__ import annotations

import pytest

from tests.bot.conversation import PHONE, participant, sessions, text, update_organisation

QUESTION = {
    "en": "Is the water point working?",
    "sw": "Je, kisima kinafanya kazi?",
    "hi": "क्या जल स्रोत काम कर रहा है?",
    "vi": "Giếng nước có hoạt động không?",
}


@pytest.mark.parametrize(
    ("join", "yes", "replies", "expected"),
    [
        (
            "JOIN",
            "yes",
            ["1", "3", "2", "Ngiluni"],
            ("woman", "25-34", "no", "Ngiluni"),
        ),
        (
            "JOIN",
            "yes",
            ["4", "7", "3", "SKIP"],
            ("prefer_not", "prefer_not", "prefer_not", None),
        ),
        (
            "JIUNGE",
            "ndiyo",
            ["ruka", "ruka", "ndiyo", "Kwa Vonza"],
            (None, None, "yes", "Kwa Vonza"),
        ),
        (
            "JOIN",
            "yes",
            ["3", "non-binary", "41", "no", "skip"],
            ("non-binary", "35-49", "no", None),
        ),
        (
            "JOIN",
            "yes",
            ["3", "SKIP", "17", "1", "Mbitini"],
            ("another", "under_18", "yes", "Mbitini"),
        ),
        ("JOIN", "yes", ["Mwanamke", "70", "2", "Ngiluni"], ("Mwanamke", "65+", "no", "Ngiluni")),
        ("tham gia", "có", ["bỏ qua", "2", "không", "Xã Tân"], (None, "18-24", "no", "Xã Tân")),
        ("जुड़ें", "हाँ", ["छोड़ें", "5", "हाँ", "रामपुर"], (None, "50-64", "yes", "रामपुर")),
    ],
)
def test_profile_answers_are_stored_on_the_participant(
    phone, db, multilingual, join, yes, replies, expected
):
    phone.send(PHONE, join)
    after_consent = phone.send(PHONE, yes)
    assert after_consent[-1] == text("profile.gender", participant(db).language)
    last: list[str] = []
    for reply in replies:
        last = phone.send(PHONE, reply)
    person = participant(db)
    assert (person.gender, person.age_band, person.disability, person.village) == expected
    assert last[-1].startswith(QUESTION[person.language])  # then the join poll
    assert ("profile", "completed") in sessions(db)


def test_an_unclear_profile_answer_is_reasked_twice_then_skipped(phone, db):
    phone.send(PHONE, "JOIN")
    phone.send(PHONE, "yes")
    phone.send(PHONE, "1")  # gender
    hint, question = phone.send(PHONE, "banana")
    assert hint == "Sorry, we did not understand. Please reply with a number from 1 to 7, or SKIP."
    assert question.startswith("How old are you?")
    phone.send(PHONE, "banana")
    (disability,) = phone.send(PHONE, "banana")
    assert disability.startswith("Do you have difficulty seeing")
    assert participant(db).age_band is None


def test_organisation_can_disable_profile_questions(phone, db, organisation):
    update_organisation(
        db, organisation.id, settings={"join_poll": "water-point", "profile_questions": ["village"]}
    )
    phone.send(PHONE, "JOIN")
    replies = phone.send(PHONE, "yes")
    assert replies[-1] == "Which village do you live in? Reply SKIP to skip."
    (question,) = phone.send(PHONE, "Ngiluni")
    assert question.startswith(QUESTION["en"])
    assert participant(db).village == "Ngiluni" and participant(db).gender is None


def test_no_profile_questions_goes_straight_to_the_join_poll(phone, db, organisation):
    update_organisation(
        db, organisation.id, settings={"join_poll": "water-point", "profile_questions": []}
    )
    phone.send(PHONE, "JOIN")
    thanks, question = phone.send(PHONE, "yes")
    assert thanks == text("consent.thanks")
    assert question.startswith(QUESTION["en"])
    assert all(flow != "profile" for flow, _ in sessions(db))


def test_help_mid_profile_repeats_the_profile_question(phone, db):
    phone.send(PHONE, "JOIN")
    phone.send(PHONE, "yes")
    help_reply, question = phone.send(PHONE, "HELP")
    assert help_reply == text("help")
    assert question == text("profile.gender")
