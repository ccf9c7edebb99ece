"""System messages to participants, translated through gettext catalogs.

Every text a participant can receive from Heard itself (not poll content, which carries
its own translations) is listed in `MESSAGES` under a stable key. The English text is the
gettext msgid; catalogs live in `bot/locale/<lang>/LC_MESSAGES/heard.po` (extract with
`pybabel extract -F babel.cfg`). Coordinators override any text per organisation and
language (`TextOverride` rows), and the stable key is what they override.

Machine-drafted translations are marked `fuzzy` for native review. Unlike `msgfmt`, we
still use them: a draft in Swahili serves a Swahili speaker better than English does.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "heard"


def N_(text: str) -> str:
    """Marks a msgid for extraction without translating it at import time."""
    return text


MESSAGES: dict[str, str] = {
    "consent.request": N_(
        "Welcome to {org}. We ask about services in your community. Answers are shared "
        "only as totals; your number stays private. Reply YES to agree, NO to decline. "
        "STOP ends messages, DELETE erases your data."
    ),
    "consent.reask": N_("Please reply YES to take part or NO to decline."),
    "consent.declined": N_(
        "OK, we will not send you questions. Text JOIN if you change your mind."
    ),
    "consent.thanks": N_("Thank you for joining {org}!"),
    "stop.confirmed": N_("You will get no more messages from {org}. Text START to join again."),
    "stop.ask_confirm": N_("Do you want to stop all messages from {org}? Reply STOP to confirm."),
    "start.welcome_back": N_("Welcome back to {org}!"),
    "help": N_(
        "{org}: answer with the number of your choice. STOP to end messages, LANGUAGE to "
        "change language, DELETE to erase your data."
    ),
    "no_session": N_(
        "Thank you! There is no open question for you now; we will text you when there is. "
        "HELP for help."
    ),
    "empty": N_("We received an empty message. Reply HELP for help."),
    "poll.thanks": N_("Thank you for your answers!"),
    "hint.choose_number": N_("Please reply with a number from 1 to {count}."),
    "hint.choose_numbers": N_("Reply with one or more numbers from 1 to {count}, e.g. 1 3."),
    "hint.not_a_number": N_("Please reply with a number."),
    "hint.out_of_range": N_("Please reply with a number from {min} to {max}."),
    "hint.yes_no": N_("Please reply 1 for Yes or 2 for No."),
    "hint.rating": N_("Please reply with a number from 1 to 5."),
    "hint.text": N_("Please reply with a few words."),
    "hint.prefix": N_("Sorry, we did not understand."),
    "question.skipped": N_("We will skip that question."),
    "language.ask": N_("Reply with the number of your language: {options}"),
    "language.changed": N_("Your language is now English."),
    "delete.ask_confirm": N_(
        "Do you want us to erase your number and profile? Your past answers stay only as "
        "anonymous totals. Reply YES to erase or NO to keep them."
    ),
    "delete.done": N_("Your data has been erased. Thank you for taking part."),
    "delete.kept": N_("OK, nothing was erased."),
    "opted_out.reminder": N_("You have stopped messages from {org}. Text START to join again."),
    "language.unchanged": N_("Your language was not changed."),
    "profile.intro": N_(
        "A few optional questions show whose voices are heard. Your answers are only "
        "counted in totals. Reply SKIP to skip any question."
    ),
    "profile.gender": N_(
        "What is your gender? 1 Woman 2 Man 3 Another (describe) 4 Prefer not to say"
    ),
    "profile.gender_describe": N_("How do you describe your gender? Reply SKIP to skip."),
    "profile.age_band": N_(
        "How old are you? 1 Under 18 2 18-24 3 25-34 4 35-49 5 50-64 6 65 or older "
        "7 Prefer not to say"
    ),
    "profile.disability": N_(
        "Do you have difficulty seeing, hearing, walking, remembering or communicating? "
        "1 Yes 2 No 3 Prefer not to say"
    ),
    "profile.village": N_("Which village do you live in? Reply SKIP to skip."),
    "profile.hint": N_("Please reply with a number from 1 to {count}, or SKIP."),
    "session.reminder": N_("A reminder from {org}: we are still waiting for your answer."),
    "report.thanks_group": N_(
        "Thank you! {group}: {group_total} {unit} since {since}. All groups: {total}."
    ),
    "report.thanks": N_("Thank you! All groups: {total} {unit} since {since}."),
    "report.confirm_large": N_(
        "Did you mean {number}? Reply YES to confirm or send the right number."
    ),
    "report.cancelled": N_("OK, that report was not recorded. Send it again any time."),
    "report.how_to": N_("To report, send {keyword} and the number, e.g. {keyword} 500."),
    "verify.code": N_("Your Heard code is {code}. It expires in 10 minutes."),
    # Community feedback after a re-poll round (bot/feedback.py): a draft that coordinators
    # may still edit on the round before it is sent.
    "feedback.result": N_("{percent}% of you say {short_name} is done. Thank you!"),
    "feedback.thanks": N_("Thank you for your answers about {short_name}!"),
    # An ordinary poll's results sent back to its respondents (bot/poll_feedback.py): a
    # draft that coordinators edit before it is sent. {question} is the poll's own wording
    # of its first choice question, {answer} the most chosen answer's label.
    "summary.result": N_(
        '{org}: thank you! {count} people answered "{question}" and {percent}% of you said '
        "{answer}."
    ),
    "summary.count": N_(
        "{org}: thank you! {count} people in your community answered our questions."
    ),
    "summary.thanks": N_("{org}: thank you for your answers! Every voice counts."),
    # USSD menu screens (bot/ussd.py). Most networks carry USSD as GSM-7 only, so every
    # catalog drafts these in Latin letters (romanised Hindi, Bengali, Nepali and Arabic),
    # and accents GSM-7 lacks (ê, ç, Vietnamese tones) are dropped on screen.
    # TRANSLATORS: a USSD screen: Latin letters only (romanise hi, bn, ne, ar), keep short.
    "ussd.more": N_("More"),
    "ussd.back": N_("Back"),
    "ussd.menu.poll": N_("Answer poll"),
    "ussd.menu.report": N_("Report progress"),
    "ussd.menu.totals": N_("My group's totals"),
    "ussd.menu.language": N_("Language"),
    "ussd.menu.help": N_("Help"),
    "ussd.menu.stop": N_("Stop messages"),
    "ussd.yes": N_("Yes"),
    "ussd.no": N_("No"),
    "ussd.invalid": N_("Invalid choice, try again."),
    "ussd.enter_number": N_("Please enter a number."),
    "ussd.choose_language": N_("Choose your language:"),
    "ussd.resume": N_("You have an unfinished poll."),
    "ussd.resume.continue": N_("Continue"),
    "ussd.resume.menu": N_("Main menu"),
    "ussd.rejoin": N_("You are not taking part in {org} now."),
    "ussd.rejoin.join": N_("Join"),
    "ussd.no_poll": N_("There is no open poll for you now. We will text you when there is."),
    "ussd.report.choose": N_("What do you report?"),
    "ussd.report.amount": N_("How many {unit}? Enter a number."),
    "ussd.report.unavailable": N_("Sorry, reporting is not available now. Please try later."),
    "ussd.totals.none": N_("You are not in a group yet. Ask your coordinator to add you."),
    "ussd.totals.line": N_("{group}: {total} {unit}"),
    "ussd.language.changed": N_("Language changed."),
    "ussd.help": N_(
        "{org}: dial this code to answer polls and report. Reply with the number of your "
        "choice. Choose Stop to end messages. SMS HELP for more."
    ),
    "ussd.stop.confirm": N_("Stop all messages from {org}?"),
    "ussd.thanks": N_("Thank you!"),
    "ussd.flow.continue": N_("You have an open question from {org}. Type your answer."),
    "ussd.sms_offer": N_(
        "This question is in a script USSD cannot show. We will send it to you by SMS now. "
        "Please reply by SMS."
    ),
    "ussd.error": N_("Sorry, something went wrong. Please dial again."),
}


@cache
def _entries(language: str) -> dict[str, tuple[str, bool]]:
    """msgid → (translation, fuzzy) for every translated entry of `language`'s catalog."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=None)
    return {
        message.id: (message.string, message.fuzzy)
        for message in catalog
        if message.id and isinstance(message.id, str) and message.string
    }


@cache
def _catalog(language: str) -> dict[str, str]:
    return {msgid: text for msgid, (text, _fuzzy) in _entries(language).items()}


def catalog_entry(language: str, key: str) -> tuple[str, bool] | None:
    """The catalog's text for `key` in `language` and whether it is an unreviewed draft.

    The panel shows coordinators what participants get without an override, and must say
    when that is a machine draft (`fuzzy`) nobody has checked: that is when an override is
    most worth writing. English is the msgid itself, never a draft; None means the catalog
    has no translation, so participants get English.
    """
    msgid = MESSAGES[key]
    if (language or "en") == "en":
        return msgid, False
    return _entries(language).get(msgid)


def placeholders(text: str) -> set[str]:
    """The `{field}` names a text formats, as written (`{org.name}` stays "org.name").

    Raises ValueError for unbalanced braces: such a text can never be formatted.
    """
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def available_languages() -> list[str]:
    if not LOCALE_DIR.exists():
        return ["en"]
    found = {p.name for p in LOCALE_DIR.iterdir() if (p / "LC_MESSAGES").is_dir()}
    return sorted(found | {"en"})


class Texts:
    """Looks up system messages: organisation override, then catalog, then English."""

    def __init__(self, overrides: Mapping[tuple[str, str], str] | None = None):
        self._overrides = dict(overrides or {})

    def get(self, key: str, language: str | None, /, **params: object) -> str:
        language = language or "en"
        msgid = MESSAGES[key]
        for template in (self._overrides.get((language, key)), _catalog(language).get(msgid)):
            if template is None:
                continue
            try:
                return template.format(**params)
            except (KeyError, IndexError, ValueError, AttributeError, TypeError):
                # A coordinator's override or a translation with a typo in a {placeholder}
                # must not break the conversation: fall back to the next text, so a broken
                # Swahili override still gets the Swahili catalog text rather than English.
                continue
        return msgid.format(**params)
