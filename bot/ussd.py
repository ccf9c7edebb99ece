"""USSD screens from channel-neutral content: GSM-7 text, the 182-character limit, paging.

A USSD screen is one message of at most 182 GSM-7 characters (160 bytes of 7-bit data),
shown on the handset until the person answers. Unlike SMS there is no UCS-2 fallback
worth relying on: most networks carry USSD as GSM-7 only, so a Hindi or Arabic prompt
arrives as garbage. Everything here therefore produces GSM-7 or nothing, and callers
decide what to do with nothing (a Latin-script variant, or SMS instead).

These functions are pure: the menu state machine (`bot.ussd_menu`) and the gateways call
them with text and get screens back. Their labels come from the gettext catalogs
(`bot.texts`), like every other system message.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.flows.poll_format import QuestionDef, localised
from bot.segments import is_gsm7, sanitise
from bot.texts import MESSAGES, Texts

# 160 bytes of 7-bit data carry 182 septets: the hard limit of one screen. Many handsets
# wrap or cut earlier, so we aim lower and only spill over for a last unbreakable word.
USSD_LIMIT = 182
USSD_TARGET = 160

# Reserved inputs on paged screens. 98/0 are the common convention on Kenyan menus; no
# poll has 98 choices (MAX_CHOICES is 50) and no choice is numbered 0.
MORE = "98"
BACK = "0"

# Menu labels and short USSD-only messages live in the gettext catalogs with the other
# system messages, as `ussd.<label>` keys of `bot.texts.MESSAGES`; callers name them by
# label ("menu.poll"). The catalogs hold Latin-script drafts for every language, because
# `gsm7()` can strip accents GSM-7 lacks (French ê, Vietnamese tones) but cannot make
# Devanagari, Bengali or Arabic script showable.
TEXTS: dict[str, str] = {
    key.removeprefix("ussd."): key for key in MESSAGES if key.startswith("ussd.")
}
_LABELS = Texts()

# Names people recognise for their language, in a script USSD can show.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English", "sw": "Kiswahili", "fr": "Francais", "vi": "Tieng Viet",
    "hi": "Hindi", "bn": "Bangla", "ne": "Nepali", "ny": "Chichewa", "ha": "Hausa",
    "ar": "Arabiya",
}  # fmt: skip


@dataclass(frozen=True)
class Screen:
    """One USSD response: GSM-7 text and whether the session ends with it."""

    text: str
    end: bool = False

    def body(self) -> str:
        """The provider's wire form: Africa's Talking reads `CON ` / `END ` prefixes."""
        return ("END " if self.end else "CON ") + self.text


def text(key: str, language: str | None, /, *, texts: Texts | None = None, **params: object) -> str:
    """A USSD label in `language` (else English), always GSM-7.

    `texts` carries the organisation's overrides; an override the handset could not show
    (another script) falls back to the catalog's text, like any non-GSM parameter does.
    """
    message = TEXTS[key]
    rendered = gsm7((texts or _LABELS).get(message, language, **params))
    if rendered is None:
        rendered = gsm7(_LABELS.get(message, language, **params))
    if rendered is None:  # a parameter (an org or group name) is in another script
        rendered = gsm7(_LABELS.get(message, "en", **params)) or MESSAGES[message].format(
            **dict.fromkeys(params, "")
        )
    return rendered


def gsm7(value: str) -> str | None:
    """`value` as GSM-7 text, or None when it is in a script GSM-7 cannot carry.

    Look-alike punctuation is replaced first (curly quotes, no-break spaces), then accents
    GSM-7 lacks are dropped from Latin letters (ê→e, ơ→o): a French or Vietnamese reader
    reads unaccented text; a Devanagari one cannot read anything we could make of theirs.
    """
    value = sanitise(value).replace("\r\n", "\n").replace("\r", "\n")
    if is_gsm7(value):
        return value
    kept: list[str] = []
    for char in value:
        if is_gsm7(char):
            kept.append(char)
            continue
        base = (
            "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            .replace("đ", "d")
            .replace("Đ", "D")
        )
        if not base or not is_gsm7(base):
            return None
        kept.append(base)
    return "".join(kept)


def units(value: str) -> int:
    """Septets on the air: GSM-7 extension characters (€ [ ] { } ^ ~ | \\) count 2."""
    return sum(2 if char in _EXTENSION else 1 for char in value)


_EXTENSION = frozenset("^{}\\[~]|€\f")


# --- paging -------------------------------------------------------------------------------


def footer(language: str | None, *, more: bool, back: bool) -> str:
    parts = []
    if more:
        parts.append(f"{MORE} {text('more', language)}")
    if back:
        parts.append(f"{BACK} {text('back', language)}")
    return "\n".join(parts)


def paginate(
    body: str, language: str | None, *, back_on_last: bool = True, target: int = USSD_TARGET
) -> list[str]:
    """Split `body` into screens that each fit `target` with their `98 More`/`0 Back` lines.

    Lines are kept whole when they fit a screen (a choice never starts on one screen and
    ends on the next); a longer line breaks between words, a longer word between letters.
    Every page except the first offers Back; the last offers it only when `back_on_last`
    (a number question's last page does not, so `0` stays an answer).
    """
    if units(body) <= target:
        return [body]
    room = target - units(footer(language, more=True, back=True)) - 1
    pages = _chunks(body, room)
    return [
        _with_footer(page, language, index, len(pages), back_on_last)
        for index, page in enumerate(pages)
    ]


def _chunks(body: str, room: int) -> list[str]:
    pages: list[str] = []
    current = ""
    for line in body.split("\n"):
        joined = f"{current}\n{line}" if current else line
        if units(joined) <= room:
            current = joined
            continue
        if units(line) <= room:
            pages.append(current)
            current = line
            continue
        separator = "\n"
        for word in _words(line, room):
            joined = f"{current}{separator}{word}" if current else word
            separator = " "
            if units(joined) <= room:
                current = joined
                continue
            if current:
                pages.append(current)
            current = word
    if current:
        pages.append(current)
    return pages


def _words(line: str, room: int) -> list[str]:
    words: list[str] = []
    for word in line.split(" "):
        while units(word) > room:
            words.append(word[:room])
            word = word[room:]
        words.append(word)
    return words


def _with_footer(page: str, language: str | None, index: int, count: int, back_on_last: bool):
    last = index == count - 1
    tail = footer(
        language,
        more=not last,
        back=index > 0 and (not last or back_on_last),
    )
    return f"{page}\n{tail}" if tail else page


def navigate(page: int, pages: int, typed: str, *, back_on_last: bool = True) -> int | None:
    """The page to show after `typed`, or None when `typed` is not a paging key here."""
    if pages <= 1:
        return None
    last = page == pages - 1
    if typed == MORE and not last:
        return page + 1
    if typed == BACK and page > 0 and (not last or back_on_last):
        return page - 1
    return None


# --- the cumulative `text` field ----------------------------------------------------------


def new_input(consumed: str | None, cumulative: str) -> str | None:
    """What the person typed on this hop, given what earlier hops already consumed.

    Africa's Talking sends everything typed in the session joined by `*`: "", "1", "1*12".
    Diffing against what we consumed (rather than splitting on `*`) keeps an answer that
    itself contains `*` whole ("1*12*5" after "1" is the answer "12*5"). None means
    nothing new: a provider retry of the hop we already answered, shown again as it was.
    """
    if consumed is None or cumulative == consumed:
        return None
    if consumed == "":
        return cumulative
    prefix = consumed + "*"
    if cumulative.startswith(prefix):
        return cumulative[len(prefix) :]
    # The network restarted the text (some gateways do on their own "back" key): the last
    # field is the newest input.
    return cumulative.rsplit("*", 1)[-1]


# --- questions ----------------------------------------------------------------------------


def question_body(question: QuestionDef, language: str, languages: tuple[str, ...]) -> str | None:
    """A poll question as USSD text: the prompt, then one numbered line per choice.

    None when the prompt exists only in a script GSM-7 cannot carry and the poll gives no
    `prompt_latin` for the language: the caller moves the person to SMS instead.
    """
    prompt = gsm7(localised(question.prompt, language, languages))
    if prompt is None and question.prompt_latin.get(language):
        prompt = gsm7(question.prompt_latin[language])
    if prompt is None:
        return None
    if question.type == "rating":
        return f"{prompt}\n(1-5)"
    lines = [prompt]
    for number, choice in enumerate(question.choices, start=1):
        lines.append(f"{number} {choice_label(choice.label, language, languages)}")
    return "\n".join(lines)


def choice_label(labels: dict[str, str], language: str, languages: tuple[str, ...]) -> str:
    """The label in `language` if GSM-7 can show it, else the first showable translation.

    A Hindi yes/no label (हाँ) has no Latin form in the poll; "Yes" beside a Latin Hindi
    prompt is understood, a row of question marks is not.
    """
    candidates = [localised(labels, language, languages), labels.get("en", "")]
    candidates += [labels[code] for code in languages if code in labels]
    candidates += list(labels.values())
    for candidate in candidates:
        shown = gsm7(candidate) if candidate else None
        if shown:
            return shown
    return ""


def unfold_options(value: str) -> str:
    """'Gender? 1 Woman 2 Man' (an SMS's inline options) as one option per line.

    Numbers are only split off in sequence (1, then 2, ...), so "Under 18 2 18-24" breaks
    before the 2, not before the 18.
    """
    expected, position, parts = 1, 0, []
    while True:
        found = value.find(f" {expected} ", position)
        if found < 0:
            break
        parts.append(value[position:found])
        position = found + 1
        expected += 1
    if expected <= 2:  # fewer than two options: not a list
        return value
    parts.append(value[position:])
    return "\n".join(part.strip() for part in parts)


def numbered(options: list[str]) -> str:
    return "\n".join(f"{number} {label}" for number, label in enumerate(options, start=1))


_DIGITS = re.compile(r"^\s*(\d{1,3})\s*$")


def option_number(typed: str, count: int) -> int | None:
    """1-based option picked by `typed`, or None when it names no option."""
    match = _DIGITS.match(typed)
    if match is None:
        return None
    number = int(match.group(1))
    return number if 1 <= number <= count else None
