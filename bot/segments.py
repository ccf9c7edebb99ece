"""How an SMS text is encoded and how many segments (billed messages) it costs.

GSM 03.38 (GSM-7) packs 160 septets into one SMS; a single character outside it switches the
whole message to UCS-2, which holds only 70 UTF-16 code units. A concatenated message loses
room to the user data header: 153 septets or 67 code units per segment. So one stray curly
quote can turn a 1-segment poll question into a 3-segment one for 100,000 people.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Literal

import gsm0338  # noqa: F401  (importing registers the "gsm03.38" codec)

Encoding = Literal["GSM-7", "UCS-2"]

GSM7 = "GSM-7"
UCS2 = "UCS-2"

_CODEC = codecs.lookup("gsm03.38")

# Single-segment capacity, and per-segment capacity once a user data header is needed.
_SINGLE = {GSM7: 160, UCS2: 70}
_CONCATENATED = {GSM7: 153, UCS2: 67}

# The codec maps ESC (0x1B) to itself, but a bare ESC on the air escapes the next
# character into the extension table, garbling it: treat it as outside GSM-7.
_NOT_SENDABLE = frozenset("\x1b")

# Characters that force UCS-2 for no reason of language: typographic punctuation and
# spaces pasted from word processors. The no-break space is the classic case, which
# "causes SMS messages to use UCS2 encoding and cost twice the money" (healthchecks).
_GSM_EQUIVALENTS: dict[str, str] = {
    "\u00a0": " ",  # no-break space
    "\u2007": " ",  # figure space
    "\u202f": " ",  # narrow no-break space (French punctuation, some keyboards)
    "\u2002": " ",
    "\u2003": " ",
    "\u2004": " ",
    "\u2005": " ",
    "\u2006": " ",
    "\u2008": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\t": " ",
    "\u200b": "",  # zero-width space
    "\u200c": "",  # zero-width non-joiner (only meaningful in scripts that are UCS-2 anyway)
    "\u200d": "",
    "\u2060": "",  # word joiner
    "\ufeff": "",  # byte-order mark pasted at the start of a text
    "\u00ad": "",  # soft hyphen
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "`": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",
    "\u2212": "-",  # minus sign
    "\u2026": "...",
    "\u2022": "-",  # bullet, pasted lists
}
_TRANSLATION = str.maketrans(_GSM_EQUIVALENTS)


@dataclass(frozen=True)
class SegmentInfo:
    """What a text costs on the air.

    `units` is septets for GSM-7 (extension characters count 2) or UTF-16 code units for
    UCS-2 (an emoji counts 2). `remaining` is how many units still fit in the last segment.
    """

    encoding: Encoding
    units: int
    segments: int
    per_segment: int
    remaining: int


def _septets(char: str) -> int | None:
    """Septets for one character, or None when it is not in GSM 03.38."""
    if char in _NOT_SENDABLE:
        return None
    try:
        encoded, _ = _CODEC.encode(char)
    except UnicodeEncodeError:
        return None
    return len(encoded)  # the codec writes ESC + code for the extension table


def is_gsm7(text: str) -> bool:
    return all(_septets(char) is not None for char in text)


def _unit_costs(text: str) -> tuple[Encoding, list[int]]:
    septets = [_septets(char) for char in text]
    if all(cost is not None for cost in septets):
        return GSM7, [cost for cost in septets if cost is not None]
    return UCS2, [2 if ord(char) > 0xFFFF else 1 for char in text]


def _pack(costs: list[int], capacity: int) -> tuple[int, int]:
    """Greedy packing into segments; returns (segments, units used in the last one).

    A character is never split across segments: phones cannot rejoin an ESC from one
    segment with its extension code in the next, nor the halves of a surrogate pair, so
    such a character starts a new segment and the previous one ends a unit short.
    """
    segments, used = 1, 0
    for cost in costs:
        if used + cost > capacity:
            segments += 1
            used = 0
        used += cost
    return segments, used


def measure(text: str) -> SegmentInfo:
    """Encoding and segment count of `text` as the network will see it.

    An empty text still occupies one segment: there is no such thing as a zero-length SMS.
    """
    encoding, costs = _unit_costs(text)
    units = sum(costs)
    single = _SINGLE[encoding]
    if units <= single:
        return SegmentInfo(encoding, units, 1, single, single - units)
    per_segment = _CONCATENATED[encoding]
    segments, used = _pack(costs, per_segment)
    return SegmentInfo(encoding, units, segments, per_segment, per_segment - used)


def sanitise(text: str) -> str:
    """Replace look-alike punctuation that would needlessly force UCS-2.

    Only when the replacement makes the whole text GSM-7 is it applied: a Vietnamese or
    Hindi message is UCS-2 anyway, so its typography is left exactly as written.
    """
    if is_gsm7(text):
        return text
    replaced = text.translate(_TRANSLATION)
    return replaced if is_gsm7(replaced) else text
