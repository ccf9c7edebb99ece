"""The gettext catalogs of participant messages: complete, well-formed, in sync, affordable.

A missing translation does not crash anything (the participant just gets English), which
is exactly why it must fail here: nobody would notice it otherwise. The same goes for a
template that no longer matches the code, and for a stray character that doubles the
cost of a Swahili SMS.
"""

from __future__ import annotations

import re
import shlex
import shutil
import string
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.keywords import fold
from bot.segments import GSM7, measure
from bot.texts import DOMAIN, LOCALE_DIR, MESSAGES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "translations.md"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"

LANGUAGES = ("sw", "fr", "vi", "hi", "bn", "ne", "ny", "ha", "ar")

# Latin-script languages whose texts must stay GSM-7 (160 characters a segment, not 70).
GSM7_LANGUAGES = ("sw", "ny", "ha", "fr")
# The one exception, by name: "français" needs its ç, and the text is one segment anyway.
UCS2_ALLOWED = {("fr", "language.changed")}
MAX_SEGMENTS = 3

# Realistic values, a little long, for measuring what a participant is sent.
SAMPLE = {
    "org": "Ngiluni Voices",
    "count": 4,
    "min": 0,
    "max": 365,
    "options": "1 English 2 Kiswahili 3 Kikamba",
    "group": "Ngiluni Women's Group",
    "group_total": "17,750",
    "total": "120,400",
    "unit": "seedlings",
    "since": "Oct 2025",
    "number": "50,000",
    "keyword": "TREES",
    "code": "482913",
}


class Sample(dict):
    """SAMPLE, plus a stand-in for any placeholder a newer message brings."""

    def __missing__(self, name: str) -> str:
        return "Sample 1234"


def placeholders(text: str) -> set[str]:
    """Field names a text formats: `{org}` → "org" (format specs and attributes aside)."""
    names = set()
    for _, field, _, _ in string.Formatter().parse(text):
        if field is not None:
            names.add(field.split(".")[0].split("[")[0])
    return names


@cache
def catalog(language: str) -> Catalog:
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=language, domain=DOMAIN, abort_invalid=True)


def entries(language: str) -> dict[str, object]:
    return {message.id: message for message in catalog(language) if message.id}


def msgids(parsed: Catalog) -> set[str]:
    return {message.id for message in parsed if message.id}


def read_template(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, abort_invalid=True)


def documented_command(verb: str) -> list[str]:
    """The `pybabel <verb>` command exactly as docs/translations.md tells people to run it."""
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"pybabel {verb} "):
            return shlex.split(line)[1:]
    raise AssertionError(f"docs/translations.md shows no `pybabel {verb}` command")


def run_pybabel(args: list[str], cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_parses_and_names_its_language(language):
    parsed = catalog(language)
    assert str(parsed.locale) == language
    assert len(entries(language)) > 0


def test_every_message_is_translated_in_every_language():
    missing: dict[str, list[str]] = {}
    for language in LANGUAGES:
        translated = entries(language)
        gaps = [
            key
            for key, msgid in MESSAGES.items()
            if msgid not in translated or not translated[msgid].string
        ]
        if gaps:
            missing[language] = gaps
    report = "\n".join(f"  {language}: {', '.join(keys)}" for language, keys in missing.items())
    assert not missing, (
        "untranslated keys (extract, update, then draft them; see docs/translations.md):\n" + report
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders_of_the_english(language):
    translated = entries(language)
    wrong = {
        key: (sorted(placeholders(msgid)), sorted(placeholders(translated[msgid].string)))
        for key, msgid in MESSAGES.items()
        if msgid in translated
        and translated[msgid].string
        and placeholders(msgid) != placeholders(translated[msgid].string)
    }
    assert not wrong, f"{language}: placeholders differ (english, translation): {wrong}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_format_with_the_parameters_of_the_english(language):
    for message in entries(language).values():
        if message.string:
            message.string.format_map(Sample(SAMPLE))  # unbalanced braces or "{0}" raise here


@pytest.mark.parametrize("language", LANGUAGES)
def test_machine_drafts_are_marked_fuzzy_for_review(language):
    """Until a reviewer signs the header, every entry is a draft and must say so."""
    parsed = catalog(language)
    if "machine draft" not in (parsed.last_translator or "").casefold():
        pytest.skip(f"{language} has been reviewed by {parsed.last_translator}")
    unmarked = [message.id for message in parsed if message.id and not message.fuzzy]
    assert not unmarked, f"{language}: machine drafts without `#, fuzzy`: {unmarked}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_brace_format_entries_are_flagged_for_checkers(language):
    """`python-brace-format` lets msgfmt -c and PO editors check the placeholders."""
    unflagged = [
        message.id
        for message in entries(language).values()
        if placeholders(message.id) and "python-brace-format" not in message.flags
    ]
    assert not unflagged


@pytest.mark.parametrize("language", LANGUAGES)
def test_header_tells_reviewers_these_are_drafts(language):
    header = catalog(language).header_comment
    assert "MACHINE DRAFTS" in header
    assert "docs/translations.md" in header


def recognised_words() -> set[str]:
    """Keywords, skip words and yes/no words, folded as replies are."""
    from bot.keywords import BUILTIN_KEYWORDS, SKIP_WORDS
    from nlu.lexicon import PHRASES

    words = {
        word
        for by_language in BUILTIN_KEYWORDS.values()
        for ws in by_language.values()
        for word in ws
    }
    words |= set(SKIP_WORDS)
    for by_intent in PHRASES.values():
        words |= set(by_intent.get("affirm", ())) | set(by_intent.get("deny", ()))
    return {fold(word) for word in words}


def capitalised_runs(text: str) -> list[str]:
    """Runs of words in Latin capitals ("THAM GIA", "A'A"): what we tell people to send."""
    runs, current = [], []
    for token in re.findall(r"[\w']+|[^\w\s]", text):
        if token.isupper() and fold(token).isascii() and not token.isdigit():
            current.append(token)
            continue
        if current:
            runs.append(" ".join(current))
        current = []
    if current:
        runs.append(" ".join(current))
    return [run for run in runs if len(run) > 1]


@pytest.mark.parametrize("language", LANGUAGES)
def test_keywords_in_translations_are_ones_heard_recognises(language):
    """A word in capitals that we tell people to send must be a word that works."""
    known = recognised_words() | {"yes", "no"}
    unknown = {
        run
        for message in entries(language).values()
        for run in capitalised_runs(message.string)
        if fold(run) not in known
    }
    assert not unknown, f"{language}: keywords Heard would not recognise: {sorted(unknown)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_texts_stay_within_the_sms_budget(language):
    over = {}
    for key, msgid in MESSAGES.items():
        message = entries(language).get(msgid)
        if message is None or not message.string:
            continue
        info = measure(message.string.format_map(Sample(SAMPLE)))
        if info.segments > MAX_SEGMENTS:
            over[key] = f"{info.segments} segments"
        must_be_gsm7 = language in GSM7_LANGUAGES and (language, key) not in UCS2_ALLOWED
        if must_be_gsm7 and info.encoding != GSM7:
            outside = sorted({c for c in message.string if measure(c).encoding != GSM7})
            over[key] = f"UCS-2 because of {outside}"
    assert not over, f"{language}: {over}"


def test_template_matches_what_the_documented_extract_command_finds(tmp_path):
    """A key added to MESSAGES without re-extracting fails here, naming the msgids."""
    args = documented_command("extract")
    output = args.index("-o") + 1
    args[output] = str(tmp_path / "heard.pot")
    run_pybabel(args, cwd=ROOT)
    extracted = msgids(read_template(tmp_path / "heard.pot"))
    committed = msgids(read_template(TEMPLATE))
    assert set(MESSAGES.values()) <= extracted, "N_() markers no longer reach the extractor"
    assert extracted == committed, (
        "bot/locale/heard.pot is stale; run the extract and update commands in "
        f"docs/translations.md.\n  new: {sorted(extracted - committed)}"
        f"\n  gone: {sorted(committed - extracted)}"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_holds_exactly_the_template_msgids(language):
    """No entry left behind by a changed English text, none missing from an update."""
    template = msgids(read_template(TEMPLATE))
    assert set(entries(language)) == template


def test_documented_update_command_keeps_every_translation(tmp_path):
    """`pybabel update` with our flags must not rewrite, drop or guess any text."""
    locale = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, locale, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    args = documented_command("update")
    args[args.index("-i") + 1] = str(locale / TEMPLATE.name)
    args[args.index("-d") + 1] = str(locale)
    run_pybabel(args, cwd=ROOT)
    for language in LANGUAGES:
        path = locale / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        with path.open("rb") as handle:
            updated = read_po(handle, abort_invalid=True)
        before = {m.id: (m.string, m.fuzzy) for m in catalog(language) if m.id}
        after = {m.id: (m.string, m.fuzzy) for m in updated if m.id}
        assert after == before, language
