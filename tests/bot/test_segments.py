"""GSM-7 vs UCS-2 and segment counts: what each poll question costs to send."""

from __future__ import annotations

import pytest

from bot.segments import SegmentInfo, is_gsm7, measure, sanitise


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SegmentInfo("GSM-7", 0, 1, 160, 160)),
        ("Hello", SegmentInfo("GSM-7", 5, 1, 160, 155)),
        ("a" * 160, SegmentInfo("GSM-7", 160, 1, 160, 0)),
        ("a" * 161, SegmentInfo("GSM-7", 161, 2, 153, 145)),
        ("a" * 306, SegmentInfo("GSM-7", 306, 2, 153, 0)),
        ("a" * 307, SegmentInfo("GSM-7", 307, 3, 153, 152)),
        ("ж" * 70, SegmentInfo("UCS-2", 70, 1, 70, 0)),
        ("ж" * 71, SegmentInfo("UCS-2", 71, 2, 67, 63)),
        ("ж" * 134, SegmentInfo("UCS-2", 134, 2, 67, 0)),
        ("ж" * 135, SegmentInfo("UCS-2", 135, 3, 67, 66)),
    ],
)
def test_boundaries(text: str, expected: SegmentInfo) -> None:
    assert measure(text) == expected


@pytest.mark.parametrize("char", list("^{}\\[~]|€"))
def test_extension_characters_cost_two_septets(char: str) -> None:
    info = measure("a" + char)
    assert (info.encoding, info.units) == ("GSM-7", 3)


def test_extension_characters_push_over_the_single_segment_limit() -> None:
    assert measure("a" * 158 + "€").segments == 1  # 160 septets
    assert measure("a" * 159 + "€").segments == 2  # 161 septets


def test_escape_sequence_is_never_split_across_segments() -> None:
    # 152 septets, then "€" (ESC + e) would straddle the 153-septet boundary.
    info = measure("a" * 152 + "€" + "a" * 152)
    assert info.units == 306
    assert info.segments == 3


def test_gsm_letters_with_accents_stay_gsm() -> None:
    # Swahili, and the accented Latin letters GSM 03.38 does carry.
    for text in ["Je, kisima kinafanya kazi? Ndiyo / Hapana", "é è ù ì ò Ç Ø Å Ä Ö Ñ Ü ß ¿ ¡ £ ¥"]:
        assert is_gsm7(text), text
        assert measure(text).encoding == "GSM-7"


@pytest.mark.parametrize(
    "text",
    [
        "Giếng nước có hoạt động không?",  # Vietnamese
        "क्या पानी का नल काम कर रहा है?",  # Hindi
        "হ্যাঁ",  # Bengali
        "هل تعمل نقطة المياه؟",  # Arabic (Palestine)
        "ç",  # lower-case c cedilla is not in the GSM basic table
    ],
)
def test_non_gsm_scripts_are_ucs2(text: str) -> None:
    assert not is_gsm7(text)
    assert measure(text).encoding == "UCS-2"


def test_emoji_counts_two_utf16_units() -> None:
    info = measure("Asante 🙏")
    assert info.encoding == "UCS-2"
    assert info.units == 9
    assert measure("🙏" * 35).segments == 1
    assert measure("🙏" * 36).segments == 2


def test_surrogate_pair_is_never_split_across_segments() -> None:
    # 66 units then an emoji (2 units) would straddle the 67-unit boundary.
    info = measure("ж" * 66 + "🙏" + "ж" * 66)
    assert info.units == 134
    assert info.segments == 3


def test_bare_escape_is_not_sendable_as_gsm() -> None:
    assert not is_gsm7("a\x1bb")


def test_no_break_space_is_sanitised() -> None:
    # A \xa0 "causes SMS messages to use UCS2 encoding and cost twice the money".
    text = "Reply\xa01 for Yes"
    assert measure(text).encoding == "UCS-2"
    cleaned = sanitise(text)
    assert cleaned == "Reply 1 for Yes"
    assert measure(cleaned).encoding == "GSM-7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("“Ndiyo” or ‘Hapana’", "\"Ndiyo\" or 'Hapana'"),
        ("2024–2025 — done…", "2024-2025 - done..."),
        ("\ufeffHello\u200b world", "Hello world"),
        ("plain text", "plain text"),
    ],
)
def test_sanitise_replaces_typography(text: str, expected: str) -> None:
    assert sanitise(text) == expected
    assert is_gsm7(sanitise(text))


@pytest.mark.parametrize(
    "text",
    ["“Giếng nước” – có không?", "नल\xa0काम “हाँ”", "Asante 🙏 — “sana”"],
)
def test_sanitise_leaves_genuinely_non_gsm_text_untouched(text: str) -> None:
    assert sanitise(text) == text
