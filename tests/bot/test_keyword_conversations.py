"""Keywords win over everything, also mid-poll, in every language: inbound → replies, state.

Until the system-message catalogs exist, assertions in Swahili, French, Vietnamese and Hindi
are on state and on poll content (which carries its own translations).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from bot.flows.poll_format import load_poll
from bot.polls import save_poll
from storage import models as m
from tests.bot.conversation import PHONE, answers, onboard, participant, sessions, text

QUESTION = {
    "en": "Is the water point working?",
    "sw": "Je, kisima kinafanya kazi?",
    "fr": "Le point d'eau fonctionne-t-il ?",
    "vi": "Giếng nước có hoạt động không?",
    "hi": "क्या जल स्रोत काम कर रहा है?",
}
HELP_TEXT = "Ngiluni Voices: answer with the number of your choice."

# (join word, yes word, the language they set, a help word in that language)
JOINERS = [
    ("JOIN", "yes", "en", "HELP"),
    ("JIUNGE", "ndiyo", "sw", "msaada"),
    ("rejoindre", "oui", "fr", "aide"),
    ("tham gia", "có", "vi", "giúp"),
    ("जुड़ें", "हाँ", "hi", "मदद"),
]


@pytest.mark.parametrize(("join", "yes", "language", "help_word"), JOINERS)
def test_help_mid_poll_then_the_question_again(
    phone, db, multilingual, join, yes, language, help_word
):
    replies = onboard(phone, join=join, yes=yes)
    assert participant(db).language == language
    assert replies[-1].startswith(QUESTION[language])

    help_reply, question = phone.send(PHONE, help_word)
    assert help_reply == text("help", language)
    assert question.startswith(QUESTION[language])
    phone.send(PHONE, "1")
    assert answers(db) == {"works": "yes"}


@pytest.mark.parametrize(
    "stop_word", ["STOP", "stop!", "Stop.", "acha", "ARRÊTER", "dừng lại", "बंद", "unsubscribe"]
)
def test_stop_variants_mid_poll_opt_out_once(phone, db, stop_word):
    onboard(phone)
    (confirmation,) = phone.send(PHONE, stop_word)
    assert "no more messages" in confirmation
    assert participant(db).status == "opted_out"
    assert ("poll", "cancelled") in sessions(db)
    assert all(status not in ("active", "queued") for _, status in sessions(db))
    assert phone.send(PHONE, "1") == []
    assert phone.send(PHONE, stop_word) == []  # confirmed once only
    assert phone.send(PHONE, "HELP") == []


def test_start_mid_poll_welcomes_and_repeats_the_question(phone, db):
    onboard(phone)
    welcome, question = phone.send(PHONE, "START")
    assert welcome.startswith("Welcome back")
    assert question.startswith(QUESTION["en"])


def test_language_flow_lists_languages_in_their_own_names_and_resumes(phone, db, multilingual):
    onboard(phone)
    (menu,) = phone.send(PHONE, "LANGUAGE")
    assert menu.endswith("1 English 2 Kiswahili 3 Français 4 Tiếng Việt 5 हिन्दी")
    assert sessions(db)[-2:] == [("poll", "queued"), ("language", "active")]

    changed, question = phone.send(PHONE, "5")
    assert participant(db).language == "hi"
    assert changed == text("language.changed", "hi")
    assert question.startswith(QUESTION["hi"]) and "1 हाँ 2 नहीं" in question
    assert sessions(db)[-1] == ("language", "completed")
    phone.send(PHONE, "नहीं")
    assert answers(db) == {"works": "no"}


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("LANGUAGE sw", "sw"),
        ("LUGHA 2", "sw"),
        ("langue français", "fr"),
        ("Language: 4", "vi"),
        ("ngôn ngữ tiếng việt", "vi"),
        ("भाषा 5", "hi"),
        ("LANGUAGE hindi", "hi"),
    ],
)
def test_language_with_an_argument_sets_it_directly(phone, db, multilingual, text, language):
    onboard(phone)
    replies = phone.send(PHONE, text)
    assert participant(db).language == language
    assert len(replies) == 2 and replies[-1].startswith(QUESTION[language])
    assert all(flow != "language" for flow, _ in sessions(db))


def test_unknown_language_is_reasked_twice_then_left_unchanged(phone, db):
    onboard(phone)
    phone.send(PHONE, "LANGUAGE")
    assert phone.send(PHONE, "9")[0].startswith("Reply with the number of your language")
    phone.send(PHONE, "klingon")
    unchanged, question = phone.send(PHONE, "elvish")
    assert unchanged == "Your language was not changed."
    assert question.startswith(QUESTION["en"])
    assert participant(db).language == "en"


def test_a_newcomer_choosing_a_language_is_then_asked_for_consent(phone, db):
    (menu,) = phone.send(PHONE, "LANGUAGE")
    assert "2 Kiswahili" in menu
    replies = phone.send(PHONE, "2")
    assert participant(db).language == "sw"
    assert replies == [text("language.changed", "sw"), text("consent.request", "sw")]
    assert participant(db).status == "pending_consent"


@pytest.mark.parametrize(
    ("text", "expect_confirm"),
    [
        ("sitaki ujumbe tena", True),
        ("please stop sending me messages", True),
        ("je ne veux plus de messages", True),
        ("2", False),
    ],
)
def test_a_sentence_read_as_stop_asks_to_confirm_and_the_poll_continues(
    phone, db, text, expect_confirm
):
    onboard(phone)
    replies = phone.send(PHONE, text)
    if not expect_confirm:
        assert replies[0].startswith("For how many days")
        return
    confirm, question = replies
    assert confirm == "Do you want to stop all messages from Ngiluni Voices? Reply STOP to confirm."
    assert question.startswith(QUESTION["en"])
    assert participant(db).status == "active"
    phone.send(PHONE, "1")
    assert answers(db) == {"works": "yes"}
    (stopped,) = phone.send(PHONE, "STOP")
    assert participant(db).status == "opted_out" and "no more messages" in stopped


@pytest.fixture
def org_keywords(db, organisation):
    with db.session() as session:
        save_poll(
            session,
            organisation.id,
            load_poll(
                {
                    "key": "seedlings",
                    "languages": ["en", "sw"],
                    "questions": [
                        {
                            "key": "planted",
                            "type": "number",
                            "min": 0,
                            "max": 5000,
                            "prompt": {
                                "en": "How many seedlings did your group plant this week?",
                                "sw": "Kikundi chako kilipanda miche mingapi wiki hii?",
                            },
                        }
                    ],
                }
            ),
        )
        session.add_all(
            [
                m.Keyword(
                    organisation_id=organisation.id,
                    word="MKUTANO",
                    action="reply",
                    response={
                        "en": "Meeting: Friday 10am, chief's camp.",
                        "sw": "Mkutano: Ijumaa.",
                    },
                ),
                m.Keyword(
                    organisation_id=organisation.id,
                    word="MICHE",
                    action="poll",
                    argument="seedlings",
                ),
            ]
        )


@pytest.mark.parametrize(
    ("join", "yes", "expected"),
    [
        ("JOIN", "yes", "Meeting: Friday 10am, chief's camp."),
        ("JIUNGE", "ndiyo", "Mkutano: Ijumaa."),
    ],
)
def test_organisation_reply_keyword_mid_poll(phone, db, org_keywords, join, yes, expected):
    onboard(phone, join=join, yes=yes)
    reply, question = phone.send(PHONE, "mkutano!")
    assert reply == expected
    assert question.startswith(QUESTION[participant(db).language])


def test_organisation_poll_keyword_queues_behind_the_open_poll(phone, db, org_keywords):
    onboard(phone)
    (question,) = phone.send(PHONE, "MICHE")
    assert question.startswith(QUESTION["en"])  # one conversation at a time
    assert sessions(db)[-2:] == [("poll", "active"), ("poll", "queued")]
    phone.send(PHONE, "1")
    replies = phone.send(PHONE, "10")
    assert replies[-1] == "How many seedlings did your group plant this week?"
    phone.send(PHONE, "250")
    assert answers(db) == {"works": "yes", "queue_minutes": 10, "planted": 250}
    with db.session() as session:
        live = session.scalar(
            sa.select(sa.func.count()).where(m.ConversationSession.status.in_(("active", "queued")))
        )
    assert live == 0


def test_organisation_poll_keyword_before_consent_asks_for_consent(phone, db, org_keywords):
    (reply,) = phone.send(PHONE, "MICHE")
    assert reply == text("consent.request", participant(db).language)
    assert sessions(db) == [("consent", "active")]


def test_text_override_per_organisation_and_language(phone, db, organisation):
    with db.session() as session:
        session.add(
            m.TextOverride(
                organisation_id=organisation.id,
                language="sw",
                msgid="help",
                text="{org}: jibu kwa namba. STOP kusitisha.",
            )
        )
    onboard(phone, join="JIUNGE", yes="ndiyo")
    help_reply, question = phone.send(PHONE, "MSAADA")
    assert help_reply == "Ngiluni Voices: jibu kwa namba. STOP kusitisha."
    assert question.startswith(QUESTION["sw"])
    # English speakers still get the catalog text.
    onboard(phone, "+254733000222")
    assert phone.send("+254733000222", "HELP")[0].startswith(HELP_TEXT)


def test_a_join_word_in_a_language_the_organisation_lacks_does_not_set_it(phone, db):
    phone.send(PHONE, "जुड़ें")  # Hindi; this organisation speaks English and Swahili
    assert participant(db).language in ("en", "sw")
