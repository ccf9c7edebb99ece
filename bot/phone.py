"""Phone numbers as Heard stores them: E.164, and masked for analysts.

Providers disagree on the shape of a number (Twilio sends "+2547…" or "whatsapp:+2547…",
Africa's Talking "+2547…", people type "0712 345 678"), and a participant must be one row
whichever way they arrive, so everything is normalised here once.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

_PREFIXES = ("whatsapp:", "tel:", "sms:")

_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "no valid country code (give +<country code> "
    "or configure a default region)",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}

_POSSIBILITY_ERRORS = {
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    ValidationResult.TOO_SHORT: "too short for its country",
    ValidationResult.TOO_LONG: "too long for its country",
    ValidationResult.INVALID_LENGTH: "wrong length for its country",
}

MASK = "•"


class InvalidNumber(ValueError):
    """A number we cannot turn into E.164; `reason` is safe to show to a coordinator."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _strip_prefix(raw: str) -> str:
    text = raw.strip()
    lowered = text.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            return text[len(prefix) :].strip()
    return text


@lru_cache(maxsize=65_536)
def normalise_number(raw: str, default_region: str | None) -> str:
    """E.164 for `raw`, reading local formats ("0712 345 678") in `default_region`.

    Raises InvalidNumber when the number is impossible (wrong length) or not assigned
    in its country's numbering plan, so the outbox never pays to send to it. Memoised:
    parsing cost ~0.3 ms, every inbound message asks, and a phone sends many (a failure
    is an exception, which the cache does not keep).
    """
    text = _strip_prefix(raw)
    if not text:
        raise InvalidNumber("empty number")
    region = default_region.upper() if default_region else None
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as error:
        raise InvalidNumber(_PARSE_ERRORS.get(error.error_type, str(error))) from error
    possibility = phonenumbers.is_possible_number_with_reason(number)
    if possibility in _POSSIBILITY_ERRORS:
        raise InvalidNumber(_POSSIBILITY_ERRORS[possibility])
    if not phonenumbers.is_valid_number(number):
        raise InvalidNumber("not a number in use in its country's numbering plan")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mask_number(e164: str) -> str:
    """ "+254712345123" -> "+2547•••••123": country and network visible, person hidden.

    Analysts need the country and the first digit (often the network) for disaggregation,
    never the whole number.
    """
    try:
        number = phonenumbers.parse(e164, None)
        country = str(number.country_code)
        national = phonenumbers.national_significant_number(number)
    except NumberParseException:
        digits = "".join(ch for ch in e164 if ch.isdigit())
        country, national = "", digits
    if len(national) <= 4:
        return f"+{country}{MASK * len(national)}"
    hidden = len(national) - 4
    return f"+{country}{national[0]}{MASK * hidden}{national[-3:]}"
