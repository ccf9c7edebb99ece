"""Looking up a system message: organisation override, then catalog (fuzzy too), then English."""

from __future__ import annotations

import string
from functools import cache

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot import texts
from bot.texts import DOMAIN, LOCALE_DIR, MESSAGES, Texts, available_languages

ORG = "Ngiluni Voices"

# One sentence per language, read from the catalog by hand, so a loader that silently
# returned English (or the wrong catalog) cannot pass by comparing with itself.
THANKS_FOR_JOINING = {
    "sw": "Asante kwa kujiunga na Ngiluni Voices!",
    "fr": "Merci d'avoir rejoint Ngiluni Voices !",
    "vi": "Cảm ơn bạn đã tham gia Ngiluni Voices!",
    "hi": "Ngiluni Voices से जुड़ने के लिए धन्यवाद!",
    "bn": "Ngiluni Voices-এ যোগ দেওয়ার জন্য ধন্যবাদ!",
    "ne": "Ngiluni Voices मा सामेल हुनुभएकोमा धन्यवाद!",
    "ny": "Zikomo polowa nawo Ngiluni Voices!",
    "ha": "Mun gode da shiga Ngiluni Voices!",
    "ar": "شكرا لانضمامك إلى Ngiluni Voices!",
}

PARAMS = {
    "org": ORG,
    "count": 3,
    "min": 1,
    "max": 10,
    "options": "1 English 2 Kiswahili",
    "group": "Mama Group",
    "group_total": "1,250",
    "total": "17,750",
    "unit": "trees",
    "since": "Oct 2025",
    "number": "50,000",
    "keyword": "TREES",
    "code": "482913",
}


@cache
def catalog(language: str) -> Catalog:
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        return read_po(handle)


def catalog_entry(language: str, key: str):
    return catalog(language)[MESSAGES[key]]


@pytest.mark.parametrize(("language", "expected"), THANKS_FOR_JOINING.items())
def test_get_returns_the_translation(language, expected):
    assert Texts().get("consent.thanks", language, org=ORG) == expected


@pytest.mark.parametrize("language", THANKS_FOR_JOINING)
@pytest.mark.parametrize("key", MESSAGES)
def test_every_key_comes_from_the_catalog_in_every_language(language, key):
    entry = catalog_entry(language, key)
    assert entry is not None and entry.string, f"{language}: {key} untranslated"
    fields = {name for _, name, _, _ in string.Formatter().parse(MESSAGES[key]) if name}
    params = {name: PARAMS.get(name, "Sample 1234") for name in fields}
    assert Texts().get(key, language, **params) == entry.string.format(**params)


def test_fuzzy_drafts_are_used_rather_than_english():
    entry = catalog_entry("sw", "poll.thanks")
    assert entry.fuzzy, "pick a key that is still a draft"
    assert Texts().get("poll.thanks", "sw") == entry.string != MESSAGES["poll.thanks"]


@pytest.mark.parametrize("language", ["en", None, "", "xx", "kam"])
def test_english_when_there_is_no_catalog(language):
    assert (
        Texts().get("consent.thanks", language, org=ORG) == "Thank you for joining Ngiluni Voices!"
    )


def test_organisation_override_wins_over_the_catalog():
    found = Texts({("sw", "consent.thanks"): "Karibu sana {org}!"})
    assert found.get("consent.thanks", "sw", org=ORG) == "Karibu sana Ngiluni Voices!"


def test_override_applies_only_to_its_language_and_key():
    found = Texts({("sw", "consent.thanks"): "Karibu sana {org}!"})
    assert found.get("consent.thanks", "fr", org=ORG) == THANKS_FOR_JOINING["fr"]
    assert found.get("consent.thanks", "en", org=ORG) == "Thank you for joining Ngiluni Voices!"
    assert found.get("poll.thanks", "sw") == catalog_entry("sw", "poll.thanks").string


def test_english_override_replaces_the_msgid():
    found = Texts({("en", "poll.thanks"): "Thanks, neighbour!"})
    assert found.get("poll.thanks", "en") == "Thanks, neighbour!"


@pytest.mark.parametrize(
    "broken",
    [
        "Karibu {organisation}!",  # a placeholder the message does not have
        "Karibu {org!",  # unbalanced brace
        "Karibu {0}!",  # positional
        "Karibu {org.name}!",  # attribute of a str
        "Karibu {org!z}!",  # unknown conversion
        "Karibu {org:d}!",  # a number format on a name
    ],
)
def test_broken_override_falls_back_to_the_catalog_text(broken):
    found = Texts({("sw", "consent.thanks"): broken})
    assert found.get("consent.thanks", "sw", org=ORG) == THANKS_FOR_JOINING["sw"]


def test_broken_override_in_english_falls_back_to_english():
    found = Texts({("en", "consent.thanks"): "Welcome {organisation}"})
    assert found.get("consent.thanks", "en", org=ORG) == "Thank you for joining Ngiluni Voices!"


def test_broken_translation_falls_back_to_english(monkeypatch):
    msgid = MESSAGES["consent.thanks"]
    monkeypatch.setattr(texts, "_catalog", lambda language: {msgid: "Asante {shirika}!"})
    assert Texts().get("consent.thanks", "sw", org=ORG) == "Thank you for joining Ngiluni Voices!"


def test_a_missing_parameter_is_still_a_bug_that_raises():
    """Fallbacks hide coordinators' typos, not a caller that forgot a parameter."""
    with pytest.raises(KeyError):
        Texts().get("consent.thanks", "sw")


def test_unknown_key_raises():
    with pytest.raises(KeyError):
        Texts().get("no.such.key", "sw")


def test_available_languages_lists_every_catalog_and_english():
    assert set(available_languages()) >= {"en", *THANKS_FOR_JOINING}
